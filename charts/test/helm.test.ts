import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { stringify } from 'yaml';
import { brokerExporterConfig, collectorConfig } from '../../services/collector/src/config.js';
import { deviceManagerConfig } from '../../services/device-manager/src/config.js';
import { retentionConfig } from '../../services/device-manager/src/retention/retention-config.js';
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
  'broker-exporter': Object.keys(brokerExporterConfig.shape),
  collector: Object.keys(collectorConfig.shape),
  'device-manager': [...Object.keys(deviceManagerConfig.shape), 'OTEL_EXPORTER_OTLP_ENDPOINT'],
  migrate: ['DATABASE_URL', 'LOG_LEVEL', 'OTEL_EXPORTER_OTLP_ENDPOINT'],
  retention: [...Object.keys(retentionConfig.shape), 'LOG_LEVEL', 'OTEL_EXPORTER_OTLP_ENDPOINT'],
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
        if (!workload.includes('-retention-')) {
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
    const external = ['iot-database', 'iot-influx', 'iot-s3'];
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
          o.metadata.labels?.['iot-meter.io/headless'] === undefined,
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
    ['device-manager.retention.downsample.every=90s', /device-manager\/retention\/downsample\/every/],
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
    expect(out).toContain('SUCCESS: 9 rules found');
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
      MQTT_URL: 'mqtt://iot-mosquitto-headless:1883',
      INFLUX_URL: 'http://iot-influxdb2:80',
      S3_ENDPOINT: 'http://iot-minio:9000',
      DATABASE_URL: { secretKeyRef: { name: 'iot-meter-credentials', key: 'database-url' } },
      INFLUX_TOKEN: { secretKeyRef: { name: 'iot-meter-credentials', key: 'admin-token' } },
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
    expect(mqttUrl('StatefulSet', 'iot-collector')).toBe('mqtt://iot-mosquitto-headless:1883');
    expect(mqttUrl('Deployment', 'iot-device-manager')).toBe('mqtt://iot-mosquitto-headless:1883');
    expect(byName(defaults, 'Service', 'iot-mosquitto-headless')?.spec).toMatchObject({
      clusterIP: 'None',
      publishNotReadyAddresses: true,
    });
    // Devices use the Service with the broker's readiness; the exporter's readiness is the gate.
    expect(byName(defaults, 'Service', 'iot-mosquitto')?.spec?.publishNotReadyAddresses).toBeUndefined();
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
      DATABASE_URL: { secretKeyRef: { name: 'iot-database', key: 'DATABASE_URL' } },
      INFLUX_TOKEN: { secretKeyRef: { name: 'iot-influx', key: 'token' } },
      S3_ACCESS_KEY: { secretKeyRef: { name: 'iot-s3', key: 'access-key' } },
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
      MQTT_URL: 'mqtt://iot-mosquitto:1883',
    });
  });

  it("runs the broker's exporter beside it, in the collector's image, on its plain listener", () => {
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
      MQTT_URL: 'mqtt://127.0.0.1:1883',
      BROKER_READY_SHARED_SUBSCRIPTIONS: '4',
      LOG_LEVEL: 'info',
    });

    const secured = images(
      render(helm, chart, {
        set: ['global.imageRegistry=registry.example.net', 'global.mqtt.existingSecret=iot-mqtt'],
      }),
    );
    expect(secured.exporter?.image).toBe('registry.example.net/iot-meter/collector:0.1.0');
    expect(secured.collectorImage).toBe(secured.exporter?.image);
    expect(envOf(secured.exporter)).toMatchObject({
      MQTT_USERNAME: { secretKeyRef: { name: 'iot-mqtt', key: 'username' } },
      MQTT_PASSWORD: { secretKeyRef: { name: 'iot-mqtt', key: 'password' } },
    });
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

  it('adds a TLS listener to Mosquitto from the named Secret', () => {
    const tls = renderScenario('tls-values.yaml');
    const config = byName(tls, 'ConfigMap', 'iot-mosquitto')?.data?.['mosquitto.conf'] ?? '';
    expect(config).toContain(
      'listener 8883\ncertfile /mosquitto/tls/tls.crt\nkeyfile /mosquitto/tls/tls.key',
    );
    expect(byName(tls, 'Service', 'iot-mosquitto')?.spec?.ports?.map((p) => [p.name, p.port])).toEqual([
      ['mqtt', 1883],
      ['mqtts', 8883],
      ['metrics', 9234],
    ]);
  });
});
