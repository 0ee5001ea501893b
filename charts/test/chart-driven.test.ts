import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { influxEnv, loadConfig } from '@iot-meter/common';
import { createTestBucket, createTestDatabase, createTestInfluxBucket } from '@iot-meter/common/testing';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { PrivateStack } from '../../scripts/stack/private-stack.js';
import { freePort } from './free-port.js';
import { type Container, type K8sObject, offlineChart, render } from './render.js';

// The chart's wiring, proven: render it, start each service as a local process with exactly the
// environment of its rendered workload (secret references resolved the way the kubelet would,
// from the rendered Secrets and from the external ones these values name), the stores being the
// local stack's (the broker one of this file's own, so the fleet's telemetry reaches no other
// test's collectors). The broker is authenticated like the chart's: the services log in on its
// services' listener with the chart's accounts, the simulated devices on its devices' listener
// with the credentials the API issued them, applied by the broker account sync of the chart's
// broker pod. Only ports, the in-cluster API address and the sync's view of its broker (the
// password file and pid in the pod, the stack's here) are local ones.
const env = inject('stackEnv');
const broker = new PrivateStack(700);
const run = randomBytes(3).toString('hex');
const release = `chart${run}`;
const root = fileURLToPath(new URL('../..', import.meta.url));
// The services' broker passwords, in a Secret these values name (the stack's broker reads them from
// its folder before it starts, so they are known before the render, which needs its address).
const mqttAccounts = Object.fromEntries(
  ['collector', 'device-manager', 'broker-exporter'].map((name) => [name, randomBytes(16).toString('hex')]),
);
const processes: ChildProcess[] = [];
const cleanups: (() => Promise<unknown>)[] = [];
let objects: K8sObject[] = [];
let apiBase = '';
let adminKey = '';

/** The container's environment as the kubelet would give it to pod `podName`. */
function resolveEnv(
  container: Container | undefined,
  podName: string,
  secrets: Record<string, Record<string, string>>,
) {
  const resolved: Record<string, string> = {};
  for (const e of container?.env ?? []) {
    const ref = e.valueFrom?.secretKeyRef;
    if (ref) {
      const value = secrets[ref.name]?.[ref.key];
      if (value === undefined) throw new Error(`${e.name}: no key ${ref.key} in Secret ${ref.name}`);
      resolved[e.name] = value;
    } else if (e.valueFrom?.fieldRef?.fieldPath === 'metadata.name') {
      resolved[e.name] = podName;
    } else {
      resolved[e.name] = e.value ?? '';
    }
  }
  return resolved;
}

function container(kind: string, name: string, init = false) {
  const pod = objects.find((o) => o.kind === kind && o.metadata.name === name)?.spec?.template?.spec;
  return init ? pod?.initContainers?.[0] : pod?.containers[0];
}

function start(argv: string[], processEnv: Record<string, string>): ChildProcess {
  // Only the rendered environment (and PATH): nothing leaks in from the test's own.
  const child = spawn(process.execPath, argv, {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', ...processEnv },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  processes.push(child);
  return child;
}

beforeAll(async () => {
  const accountsDir = join(broker.dir, 'mosquitto', 'service-accounts');
  mkdirSync(accountsDir, { recursive: true });
  for (const [name, password] of Object.entries(mqttAccounts)) {
    writeFileSync(join(accountsDir, name), `${password}\n`, { mode: 0o600 });
  }
  broker.up('mosquitto');
  cleanups.push(async () => broker.destroy());
  const database = await createTestDatabase(env.DATABASE_URL ?? '');
  const influx = await createTestInfluxBucket(loadConfig(influxEnv, env), 'chart');
  const bucket = await createTestBucket(env, 'chart');
  cleanups.push(database.drop, influx.drop, bucket.drop);
  const chart = offlineChart();
  const values = (...set: string[]) => ({
    release,
    values: ['external-values.yaml', 'simulator-values.yaml'],
    set: [
      `global.influx.url=${env.INFLUX_URL}`,
      `global.influx.org=${env.INFLUX_ORG}`,
      `global.influx.bucket=${influx.name}`,
      `global.s3.endpoint=${env.S3_ENDPOINT}`,
      `global.s3.bucket=${bucket.name}`,
      'global.mqtt.serviceAccounts.existingSecret=iot-mqtt',
      `collector.config.MQTT_SHARE_GROUP=chart-${run}`,
      ...set,
    ],
    setString: [`simulator.args={--devices,3,--send-interval,1,--prefix,chart-${run}-}`],
  });
  // The services and the simulated fleet as for an external broker (the stack's, at its two listeners)…
  objects = render(
    env.HELM_BIN ?? 'helm',
    chart,
    values(
      'mosquitto.enabled=false',
      `global.mqtt.url=${broker.env.MQTT_URL}`,
      `global.mqtt.deviceUrl=${broker.env.MQTT_DEVICE_URL}`,
    ),
  );
  // …and the broker pod's account sync from the bundled broker's render.
  const brokerPod = render(env.HELM_BIN ?? 'helm', chart, values()).find(
    (o) => o.kind === 'StatefulSet' && o.metadata.name === `${release}-mosquitto`,
  )?.spec?.template?.spec;
  // The Secrets a cluster would hold: the chart's own, and the external ones its values name, with
  // each service's own least-privilege credentials (docs/security.md).
  const { collector, 'device-manager': api } = bucket.credentials;
  const secrets: Record<string, Record<string, string>> = {
    'iot-mqtt': mqttAccounts,
    'iot-database': {
      DATABASE_URL: database.url,
      COLLECTOR_DATABASE_URL: database.urlAs(env.COLLECTOR_DATABASE_URL ?? ''),
      DEVICE_MANAGER_DATABASE_URL: database.urlAs(env.DEVICE_MANAGER_DATABASE_URL ?? ''),
    },
    'iot-influx': {
      token: env.INFLUX_TOKEN ?? '',
      'collector-token': influx.writeToken,
      'device-manager-token': env.DEVICE_MANAGER_INFLUX_TOKEN ?? '',
    },
    'iot-s3': {
      'access-key': env.S3_ACCESS_KEY ?? '',
      'secret-key': env.S3_SECRET_KEY ?? '',
      'collector-access-key': collector.S3_ACCESS_KEY,
      'collector-secret-key': collector.S3_SECRET_KEY,
      'device-manager-access-key': api.S3_ACCESS_KEY,
      'device-manager-secret-key': api.S3_SECRET_KEY,
    },
  };
  for (const secret of objects.filter((o) => o.kind === 'Secret')) {
    secrets[secret.metadata.name] = Object.fromEntries(
      Object.entries(secret.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]),
    );
  }
  adminKey = secrets['iot-meter-credentials']?.['api-admin-key'] ?? '';

  // The device-manager's init container migrates the database, then the API starts.
  execFileSync(process.execPath, ['services/device-manager/dist/bin/migrate-database.js'], {
    cwd: root,
    env: {
      PATH: process.env.PATH ?? '',
      ...resolveEnv(container('Deployment', `${release}-device-manager`, true), 'dm-0', secrets),
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const apiPort = await freePort();
  apiBase = `http://127.0.0.1:${apiPort}`;
  start(['services/device-manager/dist/main.js'], {
    ...resolveEnv(
      container('Deployment', `${release}-device-manager`),
      `${release}-device-manager-0`,
      secrets,
    ),
    PORT: String(apiPort),
  });
  // The sync applies the devices' credentials the API issues to the stack's broker: the rendered
  // container, its broker's password file and pid here being the stack's.
  const sync = brokerPod?.containers.find((c) => c.name === 'broker-accounts');
  expect(sync?.command).toEqual(['node', 'dist/bin/sync-broker-accounts.js']);
  const syncPort = await freePort();
  start(['services/device-manager/dist/bin/sync-broker-accounts.js'], {
    ...resolveEnv(sync, `${release}-mosquitto-0`, secrets),
    BROKER_PASSWORD_FILE: broker.env.BROKER_PASSWORD_FILE ?? '',
    BROKER_SERVICE_ACCOUNTS_DIR: accountsDir,
    BROKER_PID_FILE: broker.env.BROKER_PID_FILE ?? '',
    BROKER_SERVICE_URL: broker.env.BROKER_SERVICE_URL ?? '',
    PORT: String(syncPort),
  });
  const collectorPod = `${release}-collector-0`;
  start(['--max-old-space-size=192', 'services/collector/dist/bundle/main.js'], {
    ...resolveEnv(container('StatefulSet', `${release}-collector`), collectorPod, secrets),
    PORT: String(await freePort()),
  });
  await vi.waitFor(
    async () => expect((await fetch(`${apiBase}/readyz`)).ok, 'the API’s /readyz').toBe(true),
    {
      timeout: 30_000,
      interval: 100,
    },
  );
  await vi.waitFor(
    async () =>
      expect((await fetch(`http://127.0.0.1:${syncPort}/readyz`)).ok, 'the sync’s /readyz').toBe(true),
    { timeout: 30_000, interval: 100 },
  );
  const simulator = container('Deployment', `${release}-simulator`);
  start(['services/simulator/dist/main.js', ...(simulator?.args ?? [])], {
    ...resolveEnv(simulator, `${release}-simulator-0`, secrets),
    // The in-cluster Service address of the API, here on this machine.
    API_URL: apiBase,
    PORT: String(await freePort()),
  });
}, 120_000);

afterAll(async () => {
  for (const child of processes) child.kill('SIGTERM');
  await Promise.all(
    processes.map((c) => (c.exitCode === null ? new Promise((r) => c.once('exit', r)) : null)),
  );
  for (const cleanup of cleanups.reverse()) await cleanup();
}, 60_000);

describe('the chart’s wiring, run as processes', () => {
  it('registers the fleet, stores its telemetry and serves it through the API', async () => {
    const get = async (path: string) =>
      (
        await fetch(`${apiBase}${path}`, { headers: { authorization: `Bearer ${adminKey}` } })
      ).json() as Promise<{ device_id: string; connection_status: string; metric: string }[]>;
    const within = { timeout: 30_000, interval: 200 };
    await expect
      .poll(
        async () => (await get('/api/devices?sort=device_id')).map((d) => [d.device_id, d.connection_status]),
        within,
      )
      .toEqual([
        [`chart-${run}-001`, 'online'],
        [`chart-${run}-002`, 'online'],
        [`chart-${run}-003`, 'online'],
      ]);
    await expect
      .poll(async () => {
        const metrics = await get(`/api/devices/chart-${run}-002/metrics?start=-5m`);
        return [...new Set(metrics.map((m) => m.metric))].sort();
      }, within)
      .toEqual(['current_dc', 'voltage_dc']);
  });
});
