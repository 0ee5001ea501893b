{{/*
A listener for devices (its port): a device's username, its id, is its client id too, so it cannot
take over another device's session by asking for its client id.
*/}}
{{- define "mosquitto.devicesListener" -}}
listener {{ . }}
use_username_as_clientid true
{{- end -}}

{{/* The TLS listener's server certificate: the named Secret, else the one cert-manager fills. */}}
{{- define "mosquitto.tlsSecret" -}}
{{- if .Values.tls.existingSecret -}}
{{- .Values.tls.existingSecret -}}
{{- else if .Values.tls.certManager.issuerRef -}}
{{- printf "%s-tls" (include "iot-meter.fullname" .) -}}
{{- else -}}
{{- fail "mosquitto.tls.enabled needs tls.existingSecret (a kubernetes.io/tls Secret) or tls.certManager.issuerRef" -}}
{{- end -}}
{{- end -}}
