import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ControlPlane } from '../../scripts/stack/control-plane.js';
import { chartDir, offlineChart } from './render.js';

// The umbrella chart against a real Kubernetes API server (built from Go modules; kwok's fake
// nodes instead of kubelets): every rendered object accepted by the server, and the release
// installed, upgraded, scaled down with the drain Job, rolled back and uninstalled.
const env = inject('stackEnv');
const cluster = new ControlPlane(env);
const chart = offlineChart();
const scenarios = readdirSync(join(chartDir, 'ci')).filter((f) => f.endsWith('-values.yaml'));
// No PersistentVolume provisioner without a kubelet.
const noVolumes = ['--set', 'mosquitto.persistence.enabled=false'];

function helm(...args: string[]): string {
  return execFileSync(env.HELM_BIN ?? 'helm', ['--kubeconfig', cluster.kubeconfig, ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}
/** helm upgrade of the release, waiting for workloads and Jobs; `set` pairs on top of noVolumes. */
const upgrade = (...set: string[]) =>
  helm(
    'upgrade',
    'iot',
    chart,
    '-n',
    'iot',
    ...noVolumes,
    ...set.flatMap((s) => ['--set', s]),
    '--wait',
    '--wait-for-jobs',
    '--timeout',
    '4m',
  );
const get = (...args: string[]) => JSON.parse(cluster.kubectl(['-n', 'iot', 'get', ...args, '-o', 'json']));

beforeAll(async () => {
  await cluster.start();
  cluster.kubectl(['create', 'namespace', 'iot']);
  // kube-prometheus-stack's Alertmanager, as that chart labels its Service: the API finds it.
  cluster.kubectl(['create', 'namespace', 'monitoring']);
  cluster.kubectl(['-n', 'monitoring', 'apply', '-f', '-'], {
    input: JSON.stringify({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: {
        name: 'kube-prometheus-stack-alertmanager',
        labels: { app: 'kube-prometheus-stack-alertmanager', 'self-monitor': 'true' },
      },
      spec: {
        ports: [{ name: 'http-web', port: 9093 }],
        selector: { 'app.kubernetes.io/name': 'alertmanager' },
      },
    }),
  });
}, 120_000);
afterAll(() => cluster.stop());

describe('the chart on a real API server', () => {
  it.each(['(defaults)', ...scenarios])('has every object of %s accepted by the server (dry run)', (file) => {
    const values = file === '(defaults)' ? [] : ['-f', join(chart, 'ci', file)];
    const rendered = execFileSync(
      env.HELM_BIN ?? 'helm',
      ['template', 'iot', chart, '--namespace', 'iot', '--kube-version', 'v1.34.4', ...values, ...noVolumes],
      { encoding: 'utf8' },
    );
    const out = cluster.kubectl(['-n', 'iot', 'apply', '--dry-run=server', '-f', '-'], { input: rendered });
    expect(out).toContain('statefulset.apps/iot-collector created (server dry run)');
  });

  it('installs and waits until every workload is ready', { timeout: 300_000 }, () => {
    helm('install', 'iot', chart, '-n', 'iot', ...noVolumes, '--wait', '--wait-for-jobs', '--timeout', '4m');
    expect(get('statefulset', 'iot-collector').status.readyReplicas).toBe(2);
    expect(get('statefulset', 'iot-mosquitto').status.readyReplicas).toBe(1);
    expect(get('deployment', 'iot-device-manager').status.availableReplicas).toBeGreaterThanOrEqual(1);
    const apiEnv = get('deployment', 'iot-device-manager').spec.template.spec.containers[0].env;
    expect(apiEnv.find((e: { name: string }) => e.name === 'ALERTMANAGER_URL')).toEqual({
      name: 'ALERTMANAGER_URL',
      value: 'http://kube-prometheus-stack-alertmanager.monitoring.svc:9093',
    });
    // The rules-as-code Job ran (it declares the default sequence_gap rule).
    expect(get('job', 'iot-device-manager-alert-rules-1').status.succeeded).toBe(1);
    const secret = get('secret', 'iot-meter-credentials');
    expect(Object.keys(secret.data).sort()).toEqual([
      'admin-password',
      'admin-token',
      'api-admin-key',
      // Each service's own logins in PostgreSQL and MinIO (docs/security.md §2).
      'collector-database-url',
      'collector-db-password',
      'collector-s3-access-key',
      'collector-s3-secret-key',
      'database-url',
      'device-manager-database-url',
      'device-manager-db-password',
      'device-manager-s3-access-key',
      'device-manager-s3-secret-key',
      'password',
      'postgres-database-url',
      'postgres-password',
      'root-password',
      'root-user',
    ]);
    expect(Object.keys(get('secret', 'iot-mqtt-accounts').data)).toEqual([
      'broker-exporter',
      'collector',
      'device-manager',
    ]);
    // The broker's pod: the sync beside the broker, which it signals in their shared process namespace.
    const broker = get('statefulset', 'iot-mosquitto').spec.template.spec;
    expect([broker.shareProcessNamespace, broker.containers.map((c: { name: string }) => c.name)]).toEqual([
      true,
      ['mosquitto', 'broker-accounts', 'broker-exporter'],
    ]);
    expect(get('networkpolicy', 'iot-mosquitto').spec.ingress[0].ports).toEqual([
      { port: 'mqtt-services', protocol: 'TCP' },
    ]);
  });

  it('keeps the generated credentials on upgrade', { timeout: 300_000 }, () => {
    const before = get('secret', 'iot-meter-credentials').data;
    const accounts = get('secret', 'iot-mqtt-accounts').data;
    upgrade();
    expect(get('secret', 'iot-meter-credentials').data).toEqual(before);
    // The broker's service accounts too: a new password would lock every service out until restarted.
    expect(get('secret', 'iot-mqtt-accounts').data).toEqual(accounts);
  });

  it('scaling the collectors down drains the removed members’ sessions with a Job', {
    timeout: 300_000,
  }, () => {
    upgrade('collector.replicas=3');
    expect(get('statefulset', 'iot-collector').status.readyReplicas).toBe(3);
    upgrade('collector.replicas=1');
    const job = get('job', 'iot-collector-drain-4');
    const containers = job.spec.template.spec.containers as {
      name: string;
      args: string[];
      env: { name: string; value?: string }[];
    }[];
    expect(
      containers.map((c) => [c.name, c.args, c.env.find((e) => e.name === 'MQTT_CLIENT_ID')?.value]),
    ).toEqual([
      ['drain-1', ['--drain'], 'iot-collector-1'],
      ['drain-2', ['--drain'], 'iot-collector-2'],
    ]);
    // The broker's NetworkPolicy lets the release's own pods onto the services' listener.
    expect(job.spec.template.metadata.labels).toMatchObject({
      'app.kubernetes.io/instance': 'iot',
      'app.kubernetes.io/part-of': 'iot-meter',
    });
    expect(job.status.succeeded).toBe(1);
    // Retention is applied on every release by a Job of its own.
    expect(get('job', 'iot-device-manager-retention-4').status.succeeded).toBe(1);
    expect(get('statefulset', 'iot-collector').spec.replicas).toBe(1);
  });

  it('rolls back to the first revision', { timeout: 300_000 }, () => {
    helm('rollback', 'iot', '1', '-n', 'iot', '--wait', '--timeout', '4m');
    expect(get('statefulset', 'iot-collector').spec.replicas).toBe(2);
    expect(
      JSON.parse(helm('history', 'iot', '-n', 'iot', '-o', 'json')).map(
        (r: { revision: number; status: string }) => [r.revision, r.status],
      ),
    ).toEqual([
      [1, 'superseded'],
      [2, 'superseded'],
      [3, 'superseded'],
      [4, 'superseded'],
      [5, 'deployed'],
    ]);
  });

  it('uninstalls without leaving objects behind', { timeout: 300_000 }, () => {
    helm('uninstall', 'iot', '-n', 'iot', '--wait', '--timeout', '4m');
    const left = cluster
      .kubectl(['-n', 'iot', 'get', 'all,secrets,configmaps,pdb,hpa,serviceaccounts', '-o', 'name'])
      .trim()
      .split('\n')
      .filter((name) => !['configmap/kube-root-ca.crt', 'serviceaccount/default'].includes(name));
    // Jobs' pods finish and go with their Job only after its TTL: the drain Job is the release's.
    expect(left).toEqual([]);
  });
});
