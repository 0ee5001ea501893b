{{/* The downsampled bucket, for the retention Job (which fills it) and the API (which reads it). */}}
{{- define "device-manager.env.downsample" -}}
{{- with .Values.retention.downsample }}
{{- if .enabled }}
- name: INFLUX_DOWNSAMPLE_BUCKET
  value: {{ .bucket | quote }}
- name: INFLUX_DOWNSAMPLE_EVERY
  value: {{ .every | quote }}
{{- end }}
{{- end }}
{{- end -}}
