{{/*
Where rule alerts go: alertmanager.url, or else the Alertmanager Service of a kube-prometheus-stack
in the cluster (its labels `app: <name>-alertmanager` and `self-monitor`), found when the release is
installed or upgraded. Empty when there is none: alerts then stay in the API.
*/}}
{{- define "device-manager.alertmanagerUrl" -}}
{{- if .Values.alertmanager.url -}}
{{- .Values.alertmanager.url -}}
{{- else if .Values.alertmanager.discover -}}
{{- $found := "" -}}
{{- range (lookup "v1" "Service" "" "").items | default list -}}
{{- $labels := dig "metadata" "labels" dict . -}}
{{- if and (not $found) (hasSuffix "-alertmanager" (get $labels "app" | default "")) (hasKey $labels "self-monitor") -}}
{{- $port := 9093 -}}
{{- range .spec.ports }}{{ if eq (.name | default "") "http-web" }}{{ $port = .port }}{{ end }}{{ end -}}
{{- $found = printf "http://%s.%s.svc:%v" .metadata.name .metadata.namespace $port -}}
{{- end -}}
{{- end -}}
{{- $found -}}
{{- end -}}
{{- end -}}

{{- define "device-manager.env.alertmanager" -}}
{{- with include "device-manager.alertmanagerUrl" . }}
- name: ALERTMANAGER_URL
  value: {{ . | quote }}
{{- end }}
{{- end -}}
