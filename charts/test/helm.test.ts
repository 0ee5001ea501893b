import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { brokerExporterConfig, collectorConfig } from '../../services/collector/src/config.js';
import {
  declaredRulesConfig,
  parseDeclaredRules,
} from '../../services/device-manager/src/alert-rules/declared-rules.js';
import { brokerAccountsConfig } from '../../services/device-manager/src/broker-accounts/broker-accounts-config.js';
import { deviceManagerConfig } from '../../services/device-manager/src/config.js';
import { retentionConfig } from '../../services/device-manager/src/retention/retention-config.js';
import { storeAccountsConfig } from '../../services/device-manager/src/store-accounts/store-accounts-config.js';
import { simulatorEnv } from '../../services/simulator/src/config.js';
import { type Container, chartDir, type K8sObject, offlineChart, type PodSpec, render } from './render.js';

const helm = inject('stackEnv').HELM_BIN ?? 'helm';
const chart = offlineChart();
afterAll(() => execFileSync('rm', ['-rf', join(chart, '..')]));

const scenarios = readdirSync(join(chartDir, 'ci')).filter((f) => f.endsWith('-values.yaml'));
const MONITORING = 'monitoring.coreos.com/v1/ServiceMonitor';
const renderScenario = (file?: string, apiVersions: string[] = []) =>
  render(helm, chart, { values: file ? [file] : [], apiVersions });

function workloads(objects: K8sObject[]): [string, PodSpec][] {
  return objects
    .filter((o) => ['Deployment', 'StatefulSet', 'Job'].includes(o.kind))
    .map((o) => [o.metadata.name, o.spec?.template?.spec as PodSpec]);
}
const byName = (objects: K8sObject[], kind: string, name: string) =>
  objects.find((o) => o.kind === kind && o.metadata.name === name);
const envOf = (container: Container | undefined) =>
  Object.fromEntries((container?.env ?? []).map((e) => [e.name, e.value ?? e.valueFrom]));

// Each of our images reads exactly these names (the services' config schemas).
const CONFIG_NAMES: Record<string, string[]> = {
  'alert-rules': [...Object.keys(declaredRulesConfig.shape), 'LOG_LEVEL', 'OTEL_EXPORTER_OTLP_ENDPOINT'],
  'broker-accounts': Object.keys(brokerAccountsConfig.shape),
  'broker-exporter': Object.keys(brokerExporterConfig.shape),
  collector: Object.keys(collectorConfig.shape),
  'device-manager': [...Object.keys(deviceManagerConfig.shape), 'OTEL_EXPORTER_OTLP_ENDPOINT'],
  migrate: ['DATABASE_URL', 'LOG_LEVEL', 'OTEL_EXPORTER_OTLP_ENDPOINT'],
  retention: [...Object.keys(retentionConfig.shape), 'LOG_LEVEL', 'OTEL_EXPORTER_OTLP_ENDPOINT'],
  'store-accounts': [
    ...Object.keys(storeAccountsConfig.shape),
    'OTEL_EXPORTER_OTLP_ENDPOINT',
    'NODE_EXTRA_CA_CERTS',
  ],
  simulator: Object.keys(simulatorEnv.shape),
};

describe('helm', () => {
  it('is the pinned version built from the Go module proxy', () => {
    expect(execFileSync(helm, ['version', '--template', '{{ .Version }}'], { encoding: 'utf8' })).toBe(
      'v4.3.1',
    );
  });

  it.each(['(defaults)', ...scenarios])('lints strictly with %s', (file) => {
    const args = ['lint', '--strict', chart];
    if (file !== '(defaults)') args.push('-f', join(chart, 'ci', file));
    expect(execFileSync(helm, args, { encoding: 'utf8' })).toContain('1 chart(s) linted, 0 chart(s) failed');
  });
});

describe.each(['(defaults)', ...scenarios])('chart rendered with %s', (file) => {
  const objects = renderScenario(file === '(defaults)' ? undefined : file, [MONITORING]);

  it('gives every container only the environment names its service reads', () => {
    for (const [workload, pod] of workloads(objects)) {
      for (const container of [...(pod.initContainers ?? []), ...pod.containers]) {
        const service = container.name.startsWith('drain-') ? 'collector' : container.name;
        const known = CONFIG_NAMES[service];
        if (!known) {
          expect(container.env ?? [], `${workload}/${container.name}`).toEqual([]);
          continue;
        }
        const unknown = (container.env ?? []).map((e) => e.name).filter((n) => !known.includes(n));
        expect(unknown, `${workload}/${container.name}`).toEqual([]);
      }
    }
  });

  it('runs every container non-root on a read-only root with no capabilities, probes and resources', () => {
    for (const [workload, pod] of workloads(objects)) {
      expect(pod.securityContext?.runAsNonRoot, workload).toBe(true);
      for (const container of pod.containers) {
        const where = `${workload}/${container.name}`;
        expect(container.securityContext, where).toMatchObject({
          readOnlyRootFilesystem: true,
          allowPrivilegeEscalation: false,
          capabilities: { drop: ['ALL'] },
        });
        if (!['-retention-', '-store-accounts-', '-alert-rules-'].some((job) => workload.includes(job))) {
          // Long-running containers are probed; a Job's run to completion.
          expect(container.livenessProbe, where).toBeDefined();
          expect(container.readinessProbe, where).toBeDefined();
        }
        if (container.name === 'collector' || container.name === 'device-manager') {
          // Their /readyz waits up to 2 s per dependency.
          expect(container.readinessProbe, where).toMatchObject({ timeoutSeconds: 3 });
        }
        expect(Object.keys(container.resources?.requests ?? {}).sort(), where).toEqual(['cpu', 'memory']);
        expect(Object.keys(container.resources?.limits ?? {}).sort(), where).toEqual(['cpu', 'memory']);
      }
    }
  });

  it('points every secret reference at a rendered Secret and key, or at a Secret the values name', () => {
    // …or at the one the store-accounts Job writes (InfluxDB makes the tokens' values).
    const external = ['iot-database', 'iot-influx', 'iot-s3', 'iot-meter-credentials-influx-tokens'];
    for (const [workload, pod] of workloads(objects)) {
      for (const container of [...(pod.initContainers ?? []), ...pod.containers]) {
        for (const env of container.env ?? []) {
          const ref = env.valueFrom?.secretKeyRef;
          if (!ref) continue;
          if (external.includes(ref.name)) continue;
          const secret = byName(objects, 'Secret', ref.name);
          expect(Object.keys(secret?.data ?? {}), `${workload}/${container.name} ${env.name}`).toContain(
            ref.key,
          );
        }
      }
    }
  });

  it('scrapes each Service once, by a port it has', () => {
    const monitors = objects.filter((o) => o.kind === 'ServiceMonitor');
    expect(monitors.length).toBeGreaterThanOrEqual(3);
    for (const monitor of monitors) {
      const wanted = monitor.spec?.selector?.matchLabels ?? {};
      const selected = objects.filter(
        (o) =>
          o.kind === 'Service' &&
          Object.entries(wanted).every(([k, v]) => o.metadata.labels?.[k] === v) &&
          o.metadata.labels?.['iot-meter.io/headless'] === undefined &&
          o.metadata.labels?.['iot-meter.io/in-cluster'] === undefined,
      );
      expect(selected.map((s) => s.metadata.name)).toHaveLength(1);
      expect(selected[0]?.spec?.ports?.map((p) => p.name)).toContain(monitor.spec?.endpoints?.[0]?.port);
    }
  });
});

describe('values schema', () => {
  it.each([
    ['collector.replicas=0', /collector\/replicas/],
    ['global.mqtt.url=http://broker:1883', /global\/mqtt\/url/],
    ['alerts.rejectRatio=2', /alerts\/rejectRatio/],
    ['global.s3.bucket=Bad_Bucket', /global\/s3\/bucket/],
    ['postgresql.enabled=false', /postgresql.enabled is false: set global.database.existingSecret/],
    ['influxdb2.enabled=false', /influxdb2.enabled is false: set global.influx.url/],
    ['minio.enabled=false', /minio.enabled is false: set global.s3.endpoint/],
    ['mosquitto.enabled=false', /mosquitto.enabled is false: set global.mqtt.url/],
    [
      'global.mqtt.existingSecret=iot-mqtt',
      /global.mqtt.existingSecret is gone: each service logs in with its own account/,
    ],
    ['device-manager.retention.downsample.every=90s', /device-manager\/retention\/downsample\/every/],
    ['device-manager.alertmanager.url=alertmanager:9093', /device-manager\/alertmanager\/url/],
    ['device-manager.alertRules[0].name=hot', /device-manager\/alertRules\/0/],
    ['device-manager.alertRules[0].kind=magic', /device-manager\/alertRules\/0/],
  ])('refuses %s, naming the value', (pair, field) => {
    expect(() => render(helm, chart, { set: [pair] })).toThrow(field);
  });
});

describe('alerts', () => {
  it('are valid Prometheus rules (promtool), one per condition the chart promises', () => {
    const rule = renderScenario(undefined, ['monitoring.coreos.com/v1/PrometheusRule']).find(
      (o) => o.kind === 'PrometheusRule',
    );
    const dir = mkdtempSync(join(tmpdir(), 'iot-meter-rules-'));
    const file = join(dir, 'rules.yaml');
    writeFileSync(file, stringify(rule?.spec));
    const out = execFileSync('promtool', ['check', 'rules', file], { encoding: 'utf8' });
    rmSync(dir, { recursive: true });
    expect(out).toContain('SUCCESS: 11 rules found');
    const spec = rule?.spec as { groups: { rules: { alert: string }[] }[] } | undefined;
    const names = spec?.groups[0]?.rules.map((r) => r.alert);
    expect(names).toEqual([
      'IoTMeterCollectorDown',
      'IoTMeterIngestStalled',
      'IoTMeterRejectsSpiking',
      'IoTMeterStoreErrors',
      'IoTMeterUnacknowledgedBacklogGrowing',
      'IoTMeterApiErrors',
      'IoTMeterManyDevicesOffline',
      'IoTMeterAlertEvaluationStalled',
      'IoTMeterAlertNotificationsFailing',
      'IoTMeterBrokerDroppingMessages',
      'IoTMeterBrokerDown',
    ]);
  });

  it('are left out without the CRDs', () => {
    expect(renderScenario().filter((o) => o.kind === 'PrometheusRule')).toEqual([]);
  });
});

describe('wiring', () => {
  const defaults = renderScenario();
  const external = renderScenario('external-values.yaml');
  const decode = (value?: string) => Buffer.from(value ?? '', 'base64').toString('utf8');

  it('points the services at the bundled stores’ Services and ports', () => {
    const api = envOf(
      byName(defaults, 'Deployment', 'iot-device-manager')?.spec?.template?.spec.containers[0],
    );
    expect(api).toMatchObject({
      MQTT_URL: 'mqtt://iot-mosquitto-headless:1884',
      INFLUX_URL: 'http://iot-influxdb2:80',
      S3_ENDPOINT: 'http://iot-minio:9000',
      DATABASE_URL: { secretKeyRef: { name: 'iot-meter-credentials', key: 'device-manager-database-url' } },
      INFLUX_TOKEN: {
        secretKeyRef: { name: 'iot-meter-credentials-influx-tokens', key: 'device-manager-token' },
      },
      API_ADMIN_KEY: { secretKeyRef: { name: 'iot-meter-credentials', key: 'api-admin-key' } },
    });
    const port = (name: string) => byName(defaults, 'Service', name)?.spec?.ports?.[0]?.port;
    expect([port('iot-mosquitto'), port('iot-influxdb2'), port('iot-minio'), port('iot-postgresql')]).toEqual(
      [1883, 80, 9000, 5432],
    );
    const secret = byName(defaults, 'Secret', 'iot-meter-credentials');
    const password = decode(secret?.data?.password);
    expect(password).toMatch(/^[A-Za-z0-9]{48}$/);
    expect(decode(secret?.data?.['database-url'])).toBe(
      `postgresql://iot:${password}@iot-postgresql:5432/iot`,
    );
    expect(decode(secret?.data?.['root-user'])).toBe('iot-meter');
  });

  it('lets devices reach the broker only once it is Ready, the collectors and the API before that', () => {
    const mqttUrl = (kind: string, name: string) =>
      envOf(byName(defaults, kind, name)?.spec?.template?.spec.containers[0]).MQTT_URL;
    expect(mqttUrl('StatefulSet', 'iot-collector')).toBe('mqtt://iot-mosquitto-headless:1884');
    expect(mqttUrl('Deployment', 'iot-device-manager')).toBe('mqtt://iot-mosquitto-headless:1884');
    expect(byName(defaults, 'Service', 'iot-mosquitto-headless')?.spec).toMatchObject({
      clusterIP: 'None',
      publishNotReadyAddresses: true,
      ports: [{ name: 'mqtt-services', port: 1884 }],
    });
    // Devices use the Services with the broker's readiness; the exporter's readiness is the gate.
    for (const name of ['iot-mosquitto', 'iot-mosquitto-devices']) {
      expect(byName(defaults, 'Service', name)?.spec?.publishNotReadyAddresses, name).toBeUndefined();
    }
    expect(byName(defaults, 'Service', 'iot-mosquitto-devices')?.spec).toMatchObject({
      type: 'ClusterIP',
      ports: [{ name: 'mqtt', port: 1883 }],
    });
    const pod = byName(defaults, 'StatefulSet', 'iot-mosquitto')?.spec?.template?.spec;
    const exporter = pod?.containers.find((c) => c.name === 'broker-exporter');
    expect(exporter?.readinessProbe).toMatchObject({ httpGet: { path: '/readyz', port: 'metrics' } });
    // An external broker is everyone's.
    const collector = byName(external, 'StatefulSet', 'iot-collector')?.spec?.template?.spec.containers[0];
    expect(envOf(collector).MQTT_URL).toBe(
      envOf(byName(external, 'Deployment', 'iot-device-manager')?.spec?.template?.spec.containers[0])
        .MQTT_URL,
    );
  });

  it('uses the external stores and their Secrets when configured', () => {
    const collector = byName(external, 'StatefulSet', 'iot-collector')?.spec?.template?.spec.containers[0];
    expect(envOf(collector)).toMatchObject({
      INFLUX_URL: 'https://influx.example.net',
      S3_ENDPOINT: 'https://s3.example.net',
      DATABASE_URL: { secretKeyRef: { name: 'iot-database', key: 'COLLECTOR_DATABASE_URL' } },
      INFLUX_TOKEN: { secretKeyRef: { name: 'iot-influx', key: 'collector-token' } },
      S3_ACCESS_KEY: { secretKeyRef: { name: 'iot-s3', key: 'collector-access-key' } },
    });
    expect(external.filter((o) => o.metadata.labels?.['stand-in'])).toEqual([]);
  });

  it('gives each collector its pod name as MQTT client id, and scales the StatefulSet', () => {
    const three = renderScenario('three-collectors-values.yaml');
    const sts = byName(three, 'StatefulSet', 'iot-collector');
    expect(sts?.spec?.replicas).toBe(3);
    expect(sts?.spec?.serviceName).toBe('iot-collector-headless');
    expect(byName(three, 'Service', 'iot-collector-headless')).toBeDefined();
    expect(envOf(sts?.spec?.template?.spec.containers[0])).toMatchObject({
      MQTT_CLIENT_ID: { fieldRef: { fieldPath: 'metadata.name' } },
      MQTT_SHARE_GROUP: 'collectors',
      SHUTDOWN_TIMEOUT_MS: '55000',
    });
  });

  it('registers the simulated fleet through the API with the admin key', () => {
    const sim = renderScenario('simulator-values.yaml');
    const container = byName(sim, 'Deployment', 'iot-simulator')?.spec?.template?.spec.containers[0];
    expect(container?.args).toEqual(['--devices', '1000', '--send-interval', '5', '--register']);
    expect(envOf(container)).toEqual({
      PORT: '8082',
      API_URL: 'http://iot-device-manager:8080',
      API_KEY: { secretKeyRef: { name: 'iot-meter-credentials', key: 'api-admin-key' } },
      // A device: no service account; each simulated device logs in with its own credentials.
      MQTT_URL: 'mqtt://iot-mosquitto-devices:1883',
    });
  });

  it("runs the broker's exporter beside it, in the collector's image, on the services' listener", () => {
    const images = (objects: K8sObject[]) => {
      const pod = byName(objects, 'StatefulSet', 'iot-mosquitto')?.spec?.template?.spec;
      const collector = byName(objects, 'StatefulSet', 'iot-collector')?.spec?.template?.spec;
      const exporter = pod?.containers.find((c) => c.name === 'broker-exporter');
      return { exporter, collectorImage: collector?.containers[0]?.image };
    };
    const { exporter, collectorImage } = images(defaults);
    expect(exporter?.image).toBe('iot-meter/collector:0.1.0');
    expect(collectorImage).toBe(exporter?.image);
    expect(exporter?.command).toEqual(['node', 'dist/bin/export-broker-stats.js']);
    expect(envOf(exporter)).toEqual({
      PORT: '9234',
      MQTT_URL: 'mqtt://127.0.0.1:1884',
      MQTT_USERNAME: '@broker-exporter',
      MQTT_PASSWORD: { secretKeyRef: { name: 'iot-mqtt-accounts', key: 'broker-exporter' } },
      BROKER_READY_SHARED_SUBSCRIPTIONS: '4',
      LOG_LEVEL: 'info',
    });

    const registry = images(render(helm, chart, { set: ['global.imageRegistry=registry.example.net'] }));
    expect(registry.exporter?.image).toBe('registry.example.net/iot-meter/collector:0.1.0');
    expect(registry.collectorImage).toBe(registry.exporter?.image);
  });

  it('declares the alertRules values to the rules Job, as the API’s account, owned by the release', () => {
    const job = (objects: K8sObject[]) =>
      byName(objects, 'Job', 'iot-device-manager-alert-rules-1')?.spec?.template?.spec;
    const file = (objects: K8sObject[]) =>
      byName(objects, 'ConfigMap', 'iot-device-manager-alert-rules')?.data?.['alert-rules.yaml'] ?? '';
    // By default the sequence_gap rule, as the collectors raised those alerts before rules.
    expect(parseDeclaredRules(file(defaults))).toEqual([
      {
        name: 'sequence_gap',
        kind: 'sequence_gap',
        metric: null,
        condition: null,
        for_seconds: 60,
        scope: { all_devices: true },
        severity: 'warning',
        message_template: '{{device_id}}: {{value}} message(s) missing from its sequence ({{rule}})',
        enabled: true,
      },
    ]);
    expect(envOf(job(defaults)?.containers[0])).toMatchObject({
      ALERT_RULES_FILE: '/etc/iot-meter/alert-rules.yaml',
      ALERT_RULES_OWNER: 'helm/iot/iot',
    });
    const declared = render(helm, chart, {
      valuesText: stringify({
        'device-manager': {
          alertRules: [
            {
              name: 'boiler-hot',
              kind: 'threshold',
              metric: 'temperature',
              condition: { op: '>', value: 90, clear: 85 },
              for: '2m',
              scope: { device_type: 'boiler' },
              message: '{{device_id}} at {{value}}',
            },
            { name: 'gone', kind: 'offline', for: '1h', scope: { labels: { site: 'north' } } },
          ],
        },
      }),
    });
    expect(parseDeclaredRules(file(declared))).toEqual([
      {
        name: 'boiler-hot',
        kind: 'threshold',
        metric: 'temperature',
        condition: { op: '>', value: 90, clear: 85 },
        for_seconds: 120,
        scope: { device_type: 'boiler' },
        severity: 'warning',
        message_template: '{{device_id}} at {{value}}',
        enabled: true,
      },
      {
        name: 'gone',
        kind: 'offline',
        metric: null,
        condition: null,
        for_seconds: 3600,
        scope: { labels: { site: 'north' } },
        severity: 'warning',
        message_template: '{{device_id}}: offline for {{for}} ({{rule}})',
        enabled: true,
      },
    ]);
    const pod = job(declared);
    expect(pod?.containers[0]?.volumeMounts).toEqual([
      { name: 'alert-rules', mountPath: '/etc/iot-meter', readOnly: true },
    ]);
    expect(pod?.volumes).toEqual([
      { name: 'alert-rules', configMap: { name: 'iot-device-manager-alert-rules' } },
    ]);
    // A changed declaration changes the Job, so `helm diff` shows it.
    const checksum = (objects: K8sObject[]) =>
      byName(objects, 'Job', 'iot-device-manager-alert-rules-1')?.metadata.annotations?.[
        'checksum/alert-rules'
      ];
    expect(checksum(declared)).toMatch(/^[0-9a-f]{64}$/);
    expect(checksum(declared)).not.toBe(checksum(defaults));
  });

  it('sends rule alerts to the Alertmanager the values name, from the API and the rules Job alike', () => {
    const urls = (objects: K8sObject[]) => [
      envOf(byName(objects, 'Deployment', 'iot-device-manager')?.spec?.template?.spec.containers[0])
        .ALERTMANAGER_URL,
      envOf(byName(objects, 'Job', 'iot-device-manager-alert-rules-1')?.spec?.template?.spec.containers[0])
        .ALERTMANAGER_URL,
    ];
    // Rendered offline, no kube-prometheus-stack is found: alerts stay in the API.
    expect(urls(defaults)).toEqual([undefined, undefined]);
    const named = render(helm, chart, {
      set: ['device-manager.alertmanager.url=http://alertmanager.monitoring.svc:9093'],
    });
    expect(urls(named)).toEqual([
      'http://alertmanager.monitoring.svc:9093',
      'http://alertmanager.monitoring.svc:9093',
    ]);
  });

  it('passes the downsampling values to the retention Job and the API only when it is on', () => {
    const job = (objects: K8sObject[]) =>
      envOf(byName(objects, 'Job', 'iot-device-manager-retention-1')?.spec?.template?.spec.containers[0]);
    const api = (objects: K8sObject[]) =>
      envOf(byName(objects, 'Deployment', 'iot-device-manager')?.spec?.template?.spec.containers[0]);
    expect(Object.keys(job(defaults)).filter((name) => name.includes('DOWNSAMPLE'))).toEqual([]);
    expect(Object.keys(api(defaults)).filter((name) => name.includes('DOWNSAMPLE'))).toEqual([]);
    const on = render(helm, chart, {
      set: [
        'device-manager.retention.downsample.enabled=true',
        'device-manager.retention.downsample.every=15m',
      ],
    });
    expect(job(on)).toMatchObject({
      INFLUX_DOWNSAMPLE_BUCKET: 'iot-metrics-1h',
      INFLUX_DOWNSAMPLE_EVERY: '15m',
      RETENTION_DOWNSAMPLE_LATE_WINDOWS: '6',
      RETENTION_DOWNSAMPLE_DAYS: '0',
    });
    expect(api(on)).toMatchObject({
      INFLUX_DOWNSAMPLE_BUCKET: 'iot-metrics-1h',
      INFLUX_DOWNSAMPLE_EVERY: '15m',
    });
  });
});

describe('broker accounts', () => {
  const defaults = renderScenario();
  const brokerPod = (objects: K8sObject[]) =>
    byName(objects, 'StatefulSet', 'iot-mosquitto')?.spec?.template?.spec;
  const conf = (objects: K8sObject[]) =>
    byName(objects, 'ConfigMap', 'iot-mosquitto')?.data?.['mosquitto.conf'] ?? '';
  const listeners = (objects: K8sObject[]) =>
    conf(objects)
      .split('\n')
      .filter((line) =>
        /^(per_listener_settings|listener|use_username_as_clientid|allow_anonymous|password_file|acl_file|certfile|keyfile) /.test(
          line,
        ),
      );
  // One password file and one ACL for every listener (per listener, Mosquitto 2.0 drops every
  // message for an offline session).
  const accounts = [
    'allow_anonymous false',
    'password_file /mosquitto/accounts/passwd',
    'acl_file /mosquitto/accounts/acl.conf',
  ];

  it('runs two authenticated listeners, anonymous off, with the ACL of files/', () => {
    expect(listeners(defaults)).toEqual([
      ...accounts,
      'listener 1883',
      'use_username_as_clientid true',
      'listener 1884',
    ]);
    const data = byName(defaults, 'ConfigMap', 'iot-mosquitto')?.data ?? {};
    expect(data['acl.conf']).toBe(readFileSync(join(chartDir, 'charts/mosquitto/files/acl.conf'), 'utf8'));
    const broker = brokerPod(defaults)?.containers.find((c) => c.name === 'mosquitto');
    expect(broker?.ports).toEqual([
      { name: 'mqtt', containerPort: 1883 },
      { name: 'mqtt-services', containerPort: 1884 },
    ]);
  });

  it('refuses the values of anonymous access it no longer has', () => {
    expect(() => render(helm, chart, { set: ['mosquitto.auth.allowAnonymous=true'] })).toThrow(
      /mosquitto.auth is gone: the broker admits no anonymous client/,
    );
  });

  it('runs the broker account sync beside the broker, in its process namespace and as its user', () => {
    const pod = brokerPod(defaults) as PodSpec & { shareProcessNamespace?: boolean };
    expect(pod.shareProcessNamespace).toBe(true);
    expect(pod.securityContext).toMatchObject({ runAsUser: 1883, runAsNonRoot: true });
    expect(pod.containers.map((c) => c.name)).toEqual(['mosquitto', 'broker-accounts', 'broker-exporter']);
    const sync = pod.containers.find((c) => c.name === 'broker-accounts');
    expect(sync?.image).toBe('iot-meter/device-manager:0.1.0');
    expect(sync?.command).toEqual(['node', 'dist/bin/sync-broker-accounts.js']);
    expect(envOf(sync)).toEqual({
      PORT: '8081',
      BROKER_PASSWORD_FILE: '/mosquitto/accounts/passwd',
      BROKER_PROCESS_NAME: 'mosquitto',
      BROKER_SERVICE_URL: 'mqtt://127.0.0.1:1884',
      BROKER_SERVICE_ACCOUNTS_DIR: '/mosquitto/service-accounts',
      LOG_LEVEL: 'info',
      // The device-manager's own login, which may read the devices' credentials.
      DATABASE_URL: { secretKeyRef: { name: 'iot-meter-credentials', key: 'device-manager-database-url' } },
    });
    expect(envOf(sync).DATABASE_URL).toEqual(
      envOf(byName(defaults, 'Deployment', 'iot-device-manager')?.spec?.template?.spec.containers[0])
        .DATABASE_URL,
    );
    // Ready once the first pass is applied; a database outage later does not cut devices off.
    const probes = sync as Container & { startupProbe?: unknown };
    expect(probes.startupProbe).toMatchObject({ httpGet: { path: '/readyz', port: 'account-sync' } });
    expect(probes.readinessProbe).toMatchObject({ httpGet: { path: '/healthz', port: 'account-sync' } });
    expect(probes.livenessProbe).toMatchObject({ httpGet: { path: '/healthz', port: 'account-sync' } });
    type Mounts = { volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[] };
    const mounts = (name: string) =>
      (pod.containers.find((c) => c.name === name) as (Container & Mounts) | undefined)?.volumeMounts;
    expect(mounts('broker-accounts')).toEqual([
      { name: 'accounts', mountPath: '/mosquitto/accounts' },
      { name: 'service-accounts', mountPath: '/mosquitto/service-accounts', readOnly: true },
    ]);
    expect(mounts('mosquitto')).toContainEqual({
      name: 'accounts',
      mountPath: '/mosquitto/accounts',
      readOnly: true,
    });
    const volumes = (pod as PodSpec & { volumes?: { name: string; emptyDir?: object; secret?: object }[] })
      .volumes;
    expect(volumes?.find((v) => v.name === 'accounts')).toEqual({ name: 'accounts', emptyDir: {} });
    expect(volumes?.find((v) => v.name === 'service-accounts')).toEqual({
      name: 'service-accounts',
      secret: { secretName: 'iot-mqtt-accounts', defaultMode: 0o440 },
    });
    // The broker starts on an empty password file (it refuses a missing one: no device is needed)
    // and on an ACL it owns, copied from the ConfigMap.
    expect(pod.initContainers?.map((c) => [c.name, c.command])).toEqual([
      [
        'broker-files',
        [
          'sh',
          '-c',
          'umask 077 && cp /mosquitto/config/acl.conf /mosquitto/accounts/ && touch /mosquitto/accounts/passwd',
        ],
      ],
    ]);
  });

  it('logs each service in on the services’ listener with its own account', () => {
    const login = (kind: string, name: string, container = 0) => {
      const env = envOf(byName(defaults, kind, name)?.spec?.template?.spec.containers[container]);
      return [env.MQTT_URL, env.MQTT_USERNAME, env.MQTT_PASSWORD];
    };
    const password = (key: string) => ({ secretKeyRef: { name: 'iot-mqtt-accounts', key } });
    expect(login('StatefulSet', 'iot-collector')).toEqual([
      'mqtt://iot-mosquitto-headless:1884',
      '@collector',
      password('collector'),
    ]);
    expect(login('Deployment', 'iot-device-manager')).toEqual([
      'mqtt://iot-mosquitto-headless:1884',
      '@device-manager',
      password('device-manager'),
    ]);
  });

  it('generates one password per service account, and takes them from existingSecret when named', () => {
    const secret = byName(defaults, 'Secret', 'iot-mqtt-accounts');
    const passwords = Object.entries(secret?.data ?? {}).map(([key, value]) => [
      key,
      Buffer.from(value, 'base64').toString('utf8'),
    ]);
    expect(passwords.map(([key]) => key)).toEqual(['broker-exporter', 'collector', 'device-manager']);
    for (const [key, password] of passwords) expect(password, key).toMatch(/^[A-Za-z0-9]{40}$/);
    expect(new Set(passwords.map(([, password]) => password)).size).toBe(3);

    const own = render(helm, chart, { set: ['global.mqtt.serviceAccounts.existingSecret=my-mqtt'] });
    expect(own.filter((o) => o.kind === 'Secret').map((o) => o.metadata.name)).toEqual([
      'iot-meter-credentials',
    ]);
    expect(
      envOf(byName(own, 'StatefulSet', 'iot-collector')?.spec?.template?.spec.containers[0]).MQTT_PASSWORD,
    ).toEqual({
      secretKeyRef: { name: 'my-mqtt', key: 'collector' },
    });
    const volumes = (
      brokerPod(own) as PodSpec & { volumes?: { name: string; secret?: { secretName: string } }[] }
    ).volumes;
    expect(volumes?.find((v) => v.name === 'service-accounts')?.secret?.secretName).toBe('my-mqtt');
  });

  it('admits only the release’s own pods to the services’ listener', () => {
    const policy = byName(defaults, 'NetworkPolicy', 'iot-mosquitto')?.spec as unknown as {
      podSelector: object;
      policyTypes: string[];
      ingress: { ports: { port: string }[]; from?: object[] }[];
    };
    expect(policy).toEqual({
      podSelector: {
        matchLabels: { 'app.kubernetes.io/name': 'mosquitto', 'app.kubernetes.io/instance': 'iot' },
      },
      policyTypes: ['Ingress'],
      ingress: [
        {
          ports: [{ port: 'mqtt-services' }],
          from: [
            {
              podSelector: {
                matchLabels: {
                  'app.kubernetes.io/instance': 'iot',
                  'app.kubernetes.io/part-of': 'iot-meter',
                },
              },
            },
          ],
        },
        { ports: [{ port: 'mqtt' }, { port: 'metrics' }, { port: 'account-sync' }] },
      ],
    });
    // Every pod of ours that logs in there carries the labels it selects.
    const loggingIn = defaults.filter((o) =>
      o.spec?.template?.spec.containers.some((c) => envOf(c).MQTT_USERNAME && c.name !== 'broker-exporter'),
    );
    expect(loggingIn.map((o) => o.metadata.name).sort()).toEqual(['iot-collector', 'iot-device-manager']);
    for (const o of loggingIn) {
      const labels = (o.spec?.template as { metadata?: { labels?: Record<string, string> } } | undefined)
        ?.metadata?.labels;
      expect(labels, o.metadata.name).toMatchObject({
        'app.kubernetes.io/instance': 'iot',
        'app.kubernetes.io/part-of': 'iot-meter',
      });
    }
    expect(
      render(helm, chart, { set: ['mosquitto.networkPolicy.enabled=false'] }).filter(
        (o) => o.kind === 'NetworkPolicy',
      ),
    ).toEqual([]);
  });

  it('points the services and the simulator at an external broker’s two listeners', () => {
    const external = render(helm, chart, {
      values: ['simulator-values.yaml'],
      set: [
        'mosquitto.enabled=false',
        'global.mqtt.url=mqtts://broker.example.net:8884',
        'global.mqtt.deviceUrl=mqtts://broker.example.net:8883',
      ],
    });
    const env = (kind: string, name: string) =>
      envOf(byName(external, kind, name)?.spec?.template?.spec.containers[0]);
    expect([
      env('StatefulSet', 'iot-collector').MQTT_URL,
      env('StatefulSet', 'iot-collector').MQTT_USERNAME,
    ]).toEqual(['mqtts://broker.example.net:8884', '@collector']);
    expect(env('Deployment', 'iot-simulator').MQTT_URL).toBe('mqtts://broker.example.net:8883');
    // Its accounts are still the chart's Secret, to configure the broker with.
    expect(byName(external, 'Secret', 'iot-mqtt-accounts')).toBeDefined();
    expect(() =>
      render(helm, chart, {
        values: ['simulator-values.yaml'],
        set: ['mosquitto.enabled=false', 'global.mqtt.url=mqtt://broker.example.net:1884'],
      }),
    ).toThrow(/set global.mqtt.deviceUrl/);
  });
});

describe('the devices’ TLS listener', () => {
  const tls = renderScenario('tls-values.yaml');
  const conf = (objects: K8sObject[]) =>
    byName(objects, 'ConfigMap', 'iot-mosquitto')?.data?.['mosquitto.conf'] ?? '';
  const ports = (objects: K8sObject[], name: string) =>
    byName(objects, 'Service', name)?.spec?.ports?.map((p) => [p.name, p.port]);
  type Pod = PodSpec & { volumes?: { name: string; secret?: { secretName: string } }[] };

  it('has the devices’ settings and the server certificate from the named Secret', () => {
    expect(conf(tls)).toContain(
      [
        'listener 1883',
        'use_username_as_clientid true',
        'listener 8883',
        'use_username_as_clientid true',
        'certfile /mosquitto/tls/tls.crt',
        'keyfile /mosquitto/tls/tls.key',
        "# The services' (client ids are free: collectors name their sessions).",
        'listener 1884',
      ].join('\n'),
    );
    const pod = byName(tls, 'StatefulSet', 'iot-mosquitto')?.spec?.template?.spec as Pod;
    expect(pod.volumes?.find((v) => v.name === 'tls')?.secret?.secretName).toBe('iot-mqtt-tls');
    expect(pod.containers[0]?.ports?.map((p) => [p.name, p.containerPort])).toEqual([
      ['mqtt', 1883],
      ['mqtt-services', 1884],
      ['mqtts', 8883],
    ]);
  });

  it('is all the external Service exposes; the plain devices’ listener stays inside the cluster', () => {
    const nodePort = render(helm, chart, {
      values: ['tls-values.yaml'],
      set: ['mosquitto.service.type=NodePort'],
    });
    expect(byName(nodePort, 'Service', 'iot-mosquitto')?.spec).toMatchObject({
      type: 'NodePort',
      ports: [
        { name: 'mqtts', port: 8883, targetPort: 'mqtts', nodePort: 31883 },
        { name: 'metrics', port: 9234 },
      ],
    });
    expect(byName(nodePort, 'Service', 'iot-mosquitto-devices')?.spec).toMatchObject({
      type: 'ClusterIP',
      ports: [{ name: 'mqtt', port: 1883 }],
    });
    expect(ports(nodePort, 'iot-mosquitto-headless')).toEqual([['mqtt-services', 1884]]);
    // Without TLS the external Service is the plain listener.
    expect(ports(renderScenario(), 'iot-mosquitto')).toEqual([
      ['mqtt', 1883],
      ['metrics', 9234],
    ]);
    // The plain devices' listener from the cluster's pods only, the TLS one from anywhere.
    const policy = byName(tls, 'NetworkPolicy', 'iot-mosquitto')?.spec as unknown as {
      ingress: { ports: { port: string }[]; from?: object[] }[];
    };
    expect(policy.ingress.slice(1)).toEqual([
      { ports: [{ port: 'mqtt' }], from: [{ namespaceSelector: {} }] },
      { ports: [{ port: 'mqtts' }, { port: 'metrics' }, { port: 'account-sync' }] },
    ]);
  });

  it('renders a cert-manager Certificate into the Secret it mounts when an issuer is named', () => {
    const issued = render(helm, chart, {
      set: [
        'mosquitto.tls.enabled=true',
        'mosquitto.tls.certManager.issuerRef.kind=ClusterIssuer',
        'mosquitto.tls.certManager.issuerRef.name=devices-ca',
      ],
    });
    expect(byName(issued, 'Certificate', 'iot-mosquitto')).toMatchObject({
      apiVersion: 'cert-manager.io/v1',
      spec: {
        secretName: 'iot-mosquitto-tls',
        issuerRef: { kind: 'ClusterIssuer', name: 'devices-ca' },
        duration: '2160h',
        renewBefore: '360h',
        dnsNames: ['iot-mosquitto', 'iot-mosquitto.iot.svc', 'iot-mosquitto.iot.svc.cluster.local'],
      },
    });
    const pod = byName(issued, 'StatefulSet', 'iot-mosquitto')?.spec?.template?.spec as Pod;
    expect(pod.volumes?.find((v) => v.name === 'tls')?.secret?.secretName).toBe('iot-mosquitto-tls');
    const named = render(helm, chart, {
      values: ['tls-values.yaml'],
      set: [
        'mosquitto.tls.certManager.issuerRef.name=devices-ca',
        'mosquitto.tls.certManager.dnsNames={mqtt.example.net}',
      ],
    });
    // A named Secret wins: no Certificate.
    expect(named.filter((o) => o.kind === 'Certificate')).toEqual([]);
    expect(tls.filter((o) => o.kind === 'Certificate')).toEqual([]);
    const dns = render(helm, chart, {
      set: [
        'mosquitto.tls.enabled=true',
        'mosquitto.tls.certManager.issuerRef.name=devices-ca',
        'mosquitto.tls.certManager.dnsNames={mqtt.example.net}',
      ],
    });
    expect(
      (byName(dns, 'Certificate', 'iot-mosquitto')?.spec as { dnsNames?: string[] } | undefined)?.dnsNames,
    ).toEqual(['mqtt.example.net']);
  });

  it('gives every broker client of ours the CA of global.mqtt.caSecret as MQTT_CA_FILE', () => {
    const trusting = render(helm, chart, {
      values: ['simulator-values.yaml'],
      set: ['global.mqtt.caSecret.name=broker-ca'],
    });
    type Mounted = PodSpec & {
      containers: (Container & { volumeMounts?: object[] })[];
      volumes?: object[];
    };
    for (const [kind, name] of [
      ['StatefulSet', 'iot-collector'],
      ['Deployment', 'iot-device-manager'],
      ['Deployment', 'iot-simulator'],
    ] as const) {
      const pod = byName(trusting, kind, name)?.spec?.template?.spec as Mounted;
      const container = pod.containers[0];
      expect(envOf(container).MQTT_CA_FILE, name).toBe('/etc/iot-meter/mqtt-ca/ca.crt');
      expect(container?.volumeMounts, name).toEqual([
        { name: 'mqtt-ca', mountPath: '/etc/iot-meter/mqtt-ca', readOnly: true },
      ]);
      expect(pod.volumes, name).toEqual([
        { name: 'mqtt-ca', secret: { secretName: 'broker-ca', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
      ]);
    }
    // The exporter speaks to its own broker in the clear, over loopback.
    const broker = byName(trusting, 'StatefulSet', 'iot-mosquitto')?.spec?.template?.spec;
    expect(envOf(broker?.containers.find((c) => c.name === 'broker-exporter')).MQTT_CA_FILE).toBeUndefined();
    // Unset, nobody is given one.
    for (const [, pod] of workloads(renderScenario('simulator-values.yaml'))) {
      for (const c of pod.containers) expect(envOf(c).MQTT_CA_FILE, c.name).toBeUndefined();
    }
  });

  it('refuses TLS with neither a Secret nor an issuer', () => {
    expect(() => render(helm, chart, { set: ['mosquitto.tls.enabled=true'] })).toThrow(
      /mosquitto.tls.enabled needs tls.existingSecret \(a kubernetes.io\/tls Secret\) or tls.certManager.issuerRef/,
    );
  });
});

describe('least privilege in the stores', () => {
  const defaults = renderScenario();
  const external = renderScenario('external-values.yaml');
  const decode = (value?: string) => Buffer.from(value ?? '', 'base64').toString('utf8');
  const STORE_VARS = ['DATABASE_URL', 'INFLUX_TOKEN', 'S3_ACCESS_KEY', 'S3_SECRET_KEY'];
  /** Every container's store credentials, as `workload/container VAR secret:key`, sorted. */
  const accounts = (objects: K8sObject[]) =>
    workloads(objects)
      .flatMap(([workload, pod]) =>
        [...(pod.initContainers ?? []), ...pod.containers].flatMap((c) =>
          (c.env ?? [])
            .filter((e) => STORE_VARS.includes(e.name))
            .map(
              (e) =>
                `${workload}/${c.name} ${e.name} ${e.valueFrom?.secretKeyRef?.name}:${e.valueFrom?.secretKeyRef?.key}`,
            ),
        ),
      )
      .sort();

  it('gives each bundled store’s workload its own account; only migrations, retention and provisioning are admins', () => {
    const c = 'iot-meter-credentials';
    expect(accounts(defaults).filter((a) => !a.startsWith('iot-simulator'))).toEqual([
      `iot-collector/collector DATABASE_URL ${c}:collector-database-url`,
      `iot-collector/collector INFLUX_TOKEN ${c}-influx-tokens:collector-token`,
      `iot-collector/collector S3_ACCESS_KEY ${c}:collector-s3-access-key`,
      `iot-collector/collector S3_SECRET_KEY ${c}:collector-s3-secret-key`,
      `iot-device-manager-alert-rules-1/alert-rules DATABASE_URL ${c}:device-manager-database-url`,
      `iot-device-manager-alert-rules-1/migrate DATABASE_URL ${c}:database-url`,
      `iot-device-manager-retention-1/retention INFLUX_TOKEN ${c}:admin-token`,
      `iot-device-manager-retention-1/retention S3_ACCESS_KEY ${c}:root-user`,
      `iot-device-manager-retention-1/retention S3_SECRET_KEY ${c}:root-password`,
      `iot-device-manager-store-accounts-1/store-accounts INFLUX_TOKEN ${c}:admin-token`,
      `iot-device-manager/device-manager DATABASE_URL ${c}:device-manager-database-url`,
      `iot-device-manager/device-manager INFLUX_TOKEN ${c}-influx-tokens:device-manager-token`,
      `iot-device-manager/device-manager S3_ACCESS_KEY ${c}:device-manager-s3-access-key`,
      `iot-device-manager/device-manager S3_SECRET_KEY ${c}:device-manager-s3-secret-key`,
      `iot-device-manager/migrate DATABASE_URL ${c}:database-url`,
      `iot-mosquitto/broker-accounts DATABASE_URL ${c}:device-manager-database-url`,
    ]);
  });

  it('takes each service’s account from the external stores’ Secrets, by the keys the values name', () => {
    expect(accounts(external)).toEqual([
      'iot-collector/collector DATABASE_URL iot-database:COLLECTOR_DATABASE_URL',
      'iot-collector/collector INFLUX_TOKEN iot-influx:collector-token',
      'iot-collector/collector S3_ACCESS_KEY iot-s3:collector-access-key',
      'iot-collector/collector S3_SECRET_KEY iot-s3:collector-secret-key',
      'iot-device-manager-alert-rules-1/alert-rules DATABASE_URL iot-database:DEVICE_MANAGER_DATABASE_URL',
      'iot-device-manager-alert-rules-1/migrate DATABASE_URL iot-database:DATABASE_URL',
      'iot-device-manager-retention-1/retention INFLUX_TOKEN iot-influx:token',
      'iot-device-manager-retention-1/retention S3_ACCESS_KEY iot-s3:access-key',
      'iot-device-manager-retention-1/retention S3_SECRET_KEY iot-s3:secret-key',
      'iot-device-manager/device-manager DATABASE_URL iot-database:DEVICE_MANAGER_DATABASE_URL',
      'iot-device-manager/device-manager INFLUX_TOKEN iot-influx:device-manager-token',
      'iot-device-manager/device-manager S3_ACCESS_KEY iot-s3:device-manager-access-key',
      'iot-device-manager/device-manager S3_SECRET_KEY iot-s3:device-manager-secret-key',
      'iot-device-manager/migrate DATABASE_URL iot-database:DATABASE_URL',
      'iot-mosquitto/broker-accounts DATABASE_URL iot-database:DEVICE_MANAGER_DATABASE_URL',
    ]);
    // A service's key left empty: the admin's credentials, as before per-service accounts.
    const shared = render(helm, chart, {
      values: ['external-values.yaml'],
      setString: ['global.database.collectorSecretKey=', 'global.influx.deviceManagerSecretKey='],
    });
    expect(
      accounts(shared).filter((a) => a.includes(' DATABASE_URL ') || a.includes(' INFLUX_TOKEN ')),
    ).toEqual([
      'iot-collector/collector DATABASE_URL iot-database:DATABASE_URL',
      'iot-collector/collector INFLUX_TOKEN iot-influx:collector-token',
      'iot-device-manager-alert-rules-1/alert-rules DATABASE_URL iot-database:DEVICE_MANAGER_DATABASE_URL',
      'iot-device-manager-alert-rules-1/migrate DATABASE_URL iot-database:DATABASE_URL',
      'iot-device-manager-retention-1/retention INFLUX_TOKEN iot-influx:token',
      'iot-device-manager/device-manager DATABASE_URL iot-database:DEVICE_MANAGER_DATABASE_URL',
      'iot-device-manager/device-manager INFLUX_TOKEN iot-influx:token',
      'iot-device-manager/migrate DATABASE_URL iot-database:DATABASE_URL',
      'iot-mosquitto/broker-accounts DATABASE_URL iot-database:DEVICE_MANAGER_DATABASE_URL',
    ]);
  });

  it('generates each service’s PostgreSQL login and MinIO user in the credentials Secret', () => {
    const data = byName(defaults, 'Secret', 'iot-meter-credentials')?.data ?? {};
    const password = (key: string) => {
      const value = decode(data[key]);
      expect(value, key).toMatch(/^[A-Za-z0-9]{48}$/);
      return value;
    };
    expect(decode(data['collector-database-url'])).toBe(
      `postgresql://iot_collector:${password('collector-db-password')}@iot-postgresql:5432/iot`,
    );
    expect(decode(data['device-manager-database-url'])).toBe(
      `postgresql://iot_device_manager:${password('device-manager-db-password')}@iot-postgresql:5432/iot`,
    );
    expect(decode(data['postgres-database-url'])).toBe(
      `postgresql://postgres:${password('postgres-password')}@iot-postgresql:5432/iot`,
    );
    expect([decode(data['collector-s3-access-key']), decode(data['device-manager-s3-access-key'])]).toEqual([
      'iot-meter-collector',
      'iot-meter-device-manager',
    ]);
    password('collector-s3-secret-key');
    password('device-manager-s3-secret-key');
  });

  it('runs the store-accounts Job as PostgreSQL’s superuser and InfluxDB’s admin, allowed to write one Secret', () => {
    const job = byName(defaults, 'Job', 'iot-device-manager-store-accounts-1')?.spec?.template
      ?.spec as PodSpec & {
      serviceAccountName?: string;
      automountServiceAccountToken?: boolean;
    };
    expect([job.serviceAccountName, job.automountServiceAccountToken]).toEqual([
      'iot-device-manager-store-accounts',
      true,
    ]);
    expect(job.containers[0]?.command).toEqual(['node', 'dist/bin/provision-store-accounts.js']);
    expect(envOf(job.containers[0])).toMatchObject({
      PROVISION_DATABASE_URL: {
        secretKeyRef: { name: 'iot-meter-credentials', key: 'postgres-database-url' },
      },
      COLLECTOR_DATABASE_URL: {
        secretKeyRef: { name: 'iot-meter-credentials', key: 'collector-database-url' },
      },
      DEVICE_MANAGER_DATABASE_URL: {
        secretKeyRef: { name: 'iot-meter-credentials', key: 'device-manager-database-url' },
      },
      INFLUX_TOKENS_SECRET: 'iot-meter-credentials-influx-tokens',
    });
    const role = byName(defaults, 'Role', 'iot-device-manager-store-accounts') as K8sObject & {
      rules?: unknown;
    };
    expect(role.rules).toEqual([
      { apiGroups: [''], resources: ['secrets'], verbs: ['create'] },
      {
        apiGroups: [''],
        resources: ['secrets'],
        resourceNames: ['iot-meter-credentials-influx-tokens'],
        verbs: ['get', 'update'],
      },
    ]);
    const binding = byName(defaults, 'RoleBinding', 'iot-device-manager-store-accounts') as K8sObject & {
      subjects?: unknown;
    };
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'iot-device-manager-store-accounts' }]);
    expect(byName(defaults, 'ServiceAccount', 'iot-device-manager-store-accounts')).toMatchObject({
      automountServiceAccountToken: false,
    });
    // External stores bring their accounts: nothing to make.
    expect(external.filter((o) => o.metadata.name.includes('store-accounts'))).toEqual([]);
    // Only PostgreSQL bundled: its logins, no token Secret, no API access.
    const postgresOnly = render(helm, chart, {
      set: [
        'influxdb2.enabled=false',
        'global.influx.url=https://influx.example.net',
        'global.influx.existingSecret=iot-influx',
      ],
    });
    const names = postgresOnly
      .filter((o) => o.metadata.name.includes('store-accounts'))
      .map((o) => `${o.kind} ${o.metadata.name}`);
    expect(names).toEqual(['Job iot-device-manager-store-accounts-1']);
    const only = byName(postgresOnly, 'Job', 'iot-device-manager-store-accounts-1')?.spec?.template?.spec;
    expect(Object.keys(envOf(only?.containers[0]))).toEqual([
      'LOG_LEVEL',
      'COLLECTOR_DATABASE_URL',
      'DEVICE_MANAGER_DATABASE_URL',
      'PROVISION_DATABASE_URL',
    ]);
  });

  it('hands the bundled MinIO’s provisioning the chart’s policies for the bucket and the users’ keys', () => {
    const policies = (objects: K8sObject[]) =>
      byName(objects, 'ConfigMap', 'iot-meter-credentials-s3-policies')?.data;
    const file = (service: string, bucket: string) =>
      readFileSync(join(chartDir, 'files', 's3-policies', `${service}.json`), 'utf8').replaceAll(
        '@BUCKET@',
        bucket,
      );
    expect(policies(defaults)).toEqual({
      'collector.json': file('collector', 'iot-data'),
      'device-manager.json': file('device-manager', 'iot-data'),
    });
    const other = render(helm, chart, { set: ['global.s3.bucket=other-bucket'] });
    expect(JSON.parse(policies(other)?.['collector.json'] ?? '{}').Statement[0].Resource).toEqual([
      'arn:aws:s3:::other-bucket/raw/*',
      'arn:aws:s3:::other-bucket/quarantine/*',
    ]);
    expect(policies(external)).toBeUndefined();
    // Bitnami's provisioning Job (not rendered offline) mounts what these values name.
    const { provisioning } = parse(readFileSync(join(chartDir, 'values.yaml'), 'utf8')).minio;
    const name = (template: string) =>
      template.replace('{{ .Values.global.credentials.secretName }}', 'iot-meter-credentials');
    expect(name(provisioning.extraVolumes[0].configMap.name)).toBe('iot-meter-credentials-s3-policies');
    expect(name(provisioning.extraVolumes[1].secret.secretName)).toBe('iot-meter-credentials');
    const keys = Object.keys(byName(defaults, 'Secret', 'iot-meter-credentials')?.data ?? {});
    for (const item of provisioning.extraVolumes[1].secret.items) expect(keys).toContain(item.key);
    expect(provisioning.extraCommands).toEqual(
      ['collector', 'device-manager'].flatMap((service) => [
        `mc admin policy create provisioning iot-meter-${service} /etc/iot-meter/s3-policies/${service}.json`,
        `mc admin user add provisioning iot-meter-${service} "$(cat /etc/iot-meter/s3-users/iot-meter-${service})"`,
        `attachPolicy user iot-meter-${service} iot-meter-${service}`,
      ]),
    );
  });
});
