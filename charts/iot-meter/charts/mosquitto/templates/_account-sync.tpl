{{/*
The broker account sync (services/device-manager/src/bin/sync-broker-accounts.ts), beside the
broker: renders the password file from PostgreSQL and the service accounts' Secret, and SIGHUPs
the broker, proving each reload by its canary on the services' listener (docs/security.md §1).
*/}}
{{- define "mosquitto.accountSyncContainer" -}}
- name: broker-accounts
  image: {{ include "iot-meter.image" (dict "Values" (dict "image" .Values.accountSync.image "global" .Values.global) "Chart" .Chart) }}
  imagePullPolicy: {{ .Values.accountSync.image.pullPolicy }}
  command: ["node", "dist/bin/sync-broker-accounts.js"]
  env:
    - name: PORT
      value: {{ .Values.accountSync.port | quote }}
    - name: BROKER_PASSWORD_FILE
      value: /mosquitto/accounts/passwd
    - name: BROKER_PROCESS_NAME
      value: mosquitto
    - name: BROKER_SERVICE_URL
      value: "mqtt://127.0.0.1:{{ .Values.servicesListener.port }}"
    - name: BROKER_SERVICE_ACCOUNTS_DIR
      value: /mosquitto/service-accounts
    {{- include "iot-meter.env.common" . | nindent 4 }}
    {{- include "iot-meter.env.database" (dict "root" . "account" "device-manager") | nindent 4 }}
  ports:
    - name: account-sync
      containerPort: {{ .Values.accountSync.port }}
  # The pod becomes Ready (devices admitted through the Service) once the first pass is applied;
  # later failures (PostgreSQL away) keep the broker serving the accounts it has: readiness is the
  # process answering, not /readyz, so a database outage does not cut devices off the broker.
  startupProbe:
    httpGet: {path: /readyz, port: account-sync}
    periodSeconds: 5
    failureThreshold: 60
  livenessProbe:
    httpGet: {path: /healthz, port: account-sync}
    periodSeconds: 10
    failureThreshold: 6
  readinessProbe:
    httpGet: {path: /healthz, port: account-sync}
    periodSeconds: 10
    timeoutSeconds: 3
  resources:
    {{- toYaml .Values.accountSync.resources | nindent 4 }}
  securityContext:
    {{- include "iot-meter.containerSecurityContext" . | nindent 4 }}
  volumeMounts:
    - {name: accounts, mountPath: /mosquitto/accounts}
    - {name: service-accounts, mountPath: /mosquitto/service-accounts, readOnly: true}
{{- end -}}
