{{/*
Named templates shared by the umbrella and its subcharts (Helm's template names are global, so the
subcharts in charts/ call these with their own context). Wiring facts come from .Values.global,
which the umbrella's values.yaml fills.
*/}}

{{/* <release>-<chart>, or the release name alone when it already holds the chart name (Bitnami's rule). */}}
{{- define "iot-meter.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "iot-meter.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "iot-meter.labels" -}}
{{ include "iot-meter.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: iot-meter
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* registry/repository:tag; the tag defaults to the chart's appVersion. */}}
{{- define "iot-meter.image" -}}
{{- $registry := .Values.image.registry | default .Values.global.imageRegistry -}}
{{- $ref := printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion | toString) -}}
{{- if $registry }}{{ printf "%s/%s" $registry $ref }}{{ else }}{{ $ref }}{{ end -}}
{{- end -}}

{{/* The pod and container security settings every workload of ours uses. */}}
{{- define "iot-meter.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .uid }}
runAsGroup: {{ .uid }}
fsGroup: {{ .uid }}
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "iot-meter.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: {{ .Values.global.readOnlyRootFilesystem }}
capabilities:
  drop: ["ALL"]
{{- end -}}

{{/* The name a bundled chart gives its Service: Bitnami's rule, as in iot-meter.fullname. */}}
{{- define "iot-meter.bundledHost" -}}
{{- if contains .chart .root.Release.Name }}{{ .root.Release.Name }}{{ else }}{{ printf "%s-%s" .root.Release.Name .chart }}{{ end -}}
{{- end -}}

{{/* Where each store is: the configured URL, or the bundled chart's Service. */}}
{{- define "iot-meter.influxUrl" -}}
{{- .Values.global.influx.url | default (printf "http://%s:80" (include "iot-meter.bundledHost" (dict "root" . "chart" "influxdb2"))) -}}
{{- end -}}

{{- define "iot-meter.s3Endpoint" -}}
{{- .Values.global.s3.endpoint | default (printf "http://%s:9000" (include "iot-meter.bundledHost" (dict "root" . "chart" "minio"))) -}}
{{- end -}}

{{/*
In-cluster devices' address of the bundled broker (the simulator): the devices' listener behind a
ClusterIP Service whose endpoint is the broker only while it is Ready. The ports here are the
mosquitto subchart's defaults (service.port, servicesListener.port).
*/}}
{{- define "iot-meter.mqttUrl" -}}
{{- .Values.global.mqtt.deviceUrl | default (printf "mqtt://%s-devices:1883" (include "iot-meter.bundledHost" (dict "root" . "chart" "mosquitto"))) -}}
{{- end -}}

{{/*
The platform's address of the bundled broker: its services' listener, behind the headless Service,
which lists the broker before it is Ready. The broker becomes Ready once the collectors have
subscribed again after a restart (mosquitto.metrics.readyWhenSharedSubscriptions), so they must
reach it first.
*/}}
{{- define "iot-meter.platformMqttUrl" -}}
{{- .Values.global.mqtt.url | default (printf "mqtt://%s-headless:1884" (include "iot-meter.bundledHost" (dict "root" . "chart" "mosquitto"))) -}}
{{- end -}}

{{- define "iot-meter.databaseHost" -}}
{{- include "iot-meter.bundledHost" (dict "root" . "chart" "postgresql") -}}
{{- end -}}

{{/* A secretKeyRef: to the user's Secret when `existingSecret` is set, else to the chart's (`name`, by
default the credentials Secret). */}}
{{- define "iot-meter.secretRef" -}}
secretKeyRef:
  name: {{ .existingSecret | default .name | default .root.Values.global.credentials.secretName }}
  key: {{ if .existingSecret }}{{ .existingKey }}{{ else }}{{ .key }}{{ end }}
{{- end -}}

{{/* The Secret the store-accounts Job keeps the services' InfluxDB tokens in (bundled InfluxDB). */}}
{{- define "iot-meter.influxTokensSecret" -}}
{{- printf "%s-influx-tokens" .Values.global.credentials.secretName -}}
{{- end -}}

{{/*
Environment for the stores, by exactly the services' config names (services/common env schemas),
with one account's credentials (docs/security.md, "Least privilege in the stores"): (dict "root" .
"account" A), A = "admin" (the schema owner and the stores' admins: the migrations and the
retention Job only), "collector" or "device-manager". An external store's Secret holds each
account's credentials under the keys its values name (empty: the admin's); for the bundled stores,
under the keys the chart generates.
*/}}
{{- define "iot-meter.env.database" -}}
{{- $d := .root.Values.global.database -}}
{{- $external := dict "admin" $d.existingSecretKey "collector" $d.collectorSecretKey "device-manager" $d.deviceManagerSecretKey -}}
{{- $bundled := dict "admin" "database-url" "collector" "collector-database-url" "device-manager" "device-manager-database-url" -}}
- name: DATABASE_URL
  valueFrom:
    {{- include "iot-meter.secretRef" (dict "root" .root "existingSecret" $d.existingSecret "existingKey" (get $external .account | default $d.existingSecretKey) "key" (get $bundled .account)) | nindent 4 }}
{{- end -}}

{{- define "iot-meter.env.influx" -}}
{{- $i := .root.Values.global.influx -}}
{{- $external := dict "admin" $i.existingSecretKey "collector" $i.collectorSecretKey "device-manager" $i.deviceManagerSecretKey -}}
{{- $bundled := dict "admin" "admin-token" "collector" "collector-token" "device-manager" "device-manager-token" -}}
{{- $secret := ternary "" (include "iot-meter.influxTokensSecret" .root) (eq .account "admin") -}}
- name: INFLUX_URL
  value: {{ include "iot-meter.influxUrl" .root | quote }}
- name: INFLUX_TOKEN
  valueFrom:
    {{- include "iot-meter.secretRef" (dict "root" .root "existingSecret" $i.existingSecret "existingKey" (get $external .account | default $i.existingSecretKey) "name" $secret "key" (get $bundled .account)) | nindent 4 }}
- name: INFLUX_ORG
  value: {{ $i.org | quote }}
- name: INFLUX_BUCKET
  value: {{ $i.bucket | quote }}
{{- end -}}

{{- define "iot-meter.env.s3" -}}
{{- $s := .root.Values.global.s3 -}}
{{- $externalAccess := dict "admin" $s.accessKeyKey "collector" $s.collectorAccessKeyKey "device-manager" $s.deviceManagerAccessKeyKey -}}
{{- $externalSecret := dict "admin" $s.secretKeyKey "collector" $s.collectorSecretKeyKey "device-manager" $s.deviceManagerSecretKeyKey -}}
{{- $bundledAccess := dict "admin" "root-user" "collector" "collector-s3-access-key" "device-manager" "device-manager-s3-access-key" -}}
{{- $bundledSecret := dict "admin" "root-password" "collector" "collector-s3-secret-key" "device-manager" "device-manager-s3-secret-key" -}}
- name: S3_ENDPOINT
  value: {{ include "iot-meter.s3Endpoint" .root | quote }}
- name: S3_ACCESS_KEY
  valueFrom:
    {{- include "iot-meter.secretRef" (dict "root" .root "existingSecret" $s.existingSecret "existingKey" (get $externalAccess .account | default $s.accessKeyKey) "key" (get $bundledAccess .account)) | nindent 4 }}
- name: S3_SECRET_KEY
  valueFrom:
    {{- include "iot-meter.secretRef" (dict "root" .root "existingSecret" $s.existingSecret "existingKey" (get $externalSecret .account | default $s.secretKeyKey) "key" (get $bundledSecret .account)) | nindent 4 }}
- name: S3_BUCKET
  value: {{ $s.bucket | quote }}
{{- end -}}

{{/* The Secret with the services' broker passwords, a key per account (collector, device-manager, broker-exporter). */}}
{{- define "iot-meter.mqttAccountsSecret" -}}
{{- .Values.global.mqtt.serviceAccounts.existingSecret | default (printf "%s-mqtt-accounts" .Release.Name) -}}
{{- end -}}

{{/* A service's broker login: (dict "root" . "account" "collector"), the URL of the services' listener unless "url" says. */}}
{{- define "iot-meter.env.mqttAccount" -}}
- name: MQTT_URL
  value: {{ .url | default (include "iot-meter.platformMqttUrl" .root) | quote }}
- name: MQTT_USERNAME
  value: {{ printf "@%s" .account | quote }}
- name: MQTT_PASSWORD
  valueFrom:
    secretKeyRef: {name: {{ include "iot-meter.mqttAccountsSecret" .root }}, key: {{ .account }}}
{{- if not .url }}
{{- include "iot-meter.env.mqttCa" .root }}
{{- end }}
{{- end -}}

{{/* A device's address of the broker (the simulator): each device logs in with its own credentials. */}}
{{- define "iot-meter.env.mqttDevice" -}}
- name: MQTT_URL
  value: {{ include "iot-meter.mqttUrl" . | quote }}
{{- include "iot-meter.env.mqttCa" . }}
{{- end -}}

{{/*
The CA a broker client trusts for mqtts:// (global.mqtt.caSecret): a file of the mounted Secret,
named by MQTT_CA_FILE. Pods that use it add the mqttCaMount and mqttCaVolume below.
*/}}
{{- define "iot-meter.env.mqttCa" -}}
{{- with .Values.global.mqtt.caSecret.name }}
- name: MQTT_CA_FILE
  value: {{ printf "/etc/iot-meter/mqtt-ca/%s" $.Values.global.mqtt.caSecret.key | quote }}
{{- end }}
{{- end -}}

{{- define "iot-meter.mqttCaMount" -}}
{{- if .Values.global.mqtt.caSecret.name -}}
volumeMounts:
  - {name: mqtt-ca, mountPath: /etc/iot-meter/mqtt-ca, readOnly: true}
{{- end }}
{{- end -}}

{{- define "iot-meter.mqttCaVolume" -}}
{{- with .Values.global.mqtt.caSecret.name -}}
volumes:
  - name: mqtt-ca
    secret:
      secretName: {{ . }}
      items: [{key: {{ $.Values.global.mqtt.caSecret.key }}, path: {{ $.Values.global.mqtt.caSecret.key }}}]
{{- end }}
{{- end -}}

{{/* Logging and tracing, the same for every service. */}}
{{- define "iot-meter.env.common" -}}
- name: LOG_LEVEL
  value: {{ .Values.global.logLevel | quote }}
{{- with .Values.global.otlpEndpoint }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ . | quote }}
{{- end }}
{{- end -}}

{{/* A ServiceMonitor for a subchart's Service (port by name), when monitoring is on and the CRD exists. */}}
{{- define "iot-meter.serviceMonitor" -}}
{{- $root := .root -}}
{{- $m := $root.Values.global.monitoring -}}
{{- if and $m.serviceMonitors ($root.Capabilities.APIVersions.Has "monitoring.coreos.com/v1/ServiceMonitor") }}
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: {{ include "iot-meter.fullname" $root }}
  labels:
    {{- include "iot-meter.labels" $root | nindent 4 }}
    {{- with $m.labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  selector:
    matchLabels:
      {{- include "iot-meter.selectorLabels" $root | nindent 6 }}
    # Not the headless or in-cluster Services of the same pods: each pod once.
    matchExpressions:
      - {key: iot-meter.io/headless, operator: DoesNotExist}
      - {key: iot-meter.io/in-cluster, operator: DoesNotExist}
  endpoints:
    - port: {{ .port }}
      path: /metrics
      interval: {{ $m.interval }}
{{- end }}
{{- end -}}
