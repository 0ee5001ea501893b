import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadMqttClientOptions } from '@iot-meter/common';
import { createTestDatabase, type TestDatabase } from '@iot-meter/common/testing';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { insertDevice } from '../../services/device-manager/src/devices/devices.repository.js';
import { tryConnect } from '../../services/device-manager/test/auth-broker.js';
import { createTestCertificates } from '../../services/device-manager/test/test-certificates.js';
import { freePort } from './free-port.js';
import { type Container, type K8sObject, offlineChart, render } from './render.js';

// The chart's broker pod, run as processes: its rendered mosquitto.conf and ACLs, its init
// container's command, and the broker account sync with its rendered environment, together in a
// PID namespace of their own (unshare), as `shareProcessNamespace` puts them in the pod, so the sync
// finds the broker by its process name and signals it. Only the pod's paths (/mosquitto/… → a
// folder here), its ports (free loopback ones) and the database (this file's own) are local. TLS is
// on, with a server certificate from a CA made here in place of the pod's Secret.
const env = inject('stackEnv');
const root = fileURLToPath(new URL('../..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'iot-broker-pod-'));
// The clients tryConnect let in (it answers a refusal with its code).
const clients: Exclude<Awaited<ReturnType<typeof tryConnect>>, number | string>[] = [];
let pod: ChildProcess | undefined;
let database: TestDatabase;
let objects: K8sObject[] = [];
const certificates = createTestCertificates('broker-pod');
let ports = { devices: 0, services: 0, tls: 0, sync: 0 };
let passwords: Record<string, string> = {};

const local = (text: string) => text.replaceAll('/mosquitto/', `${dir}/`);
const container = (name: string, init = false) => {
  const spec = objects.find((o) => o.kind === 'StatefulSet' && o.metadata.name === 'iot-mosquitto')?.spec
    ?.template?.spec;
  return (init ? spec?.initContainers : spec?.containers)?.find((c) => c.name === name) as Container;
};
const url = (port: number) => `mqtt://127.0.0.1:${port}`;

async function connect(port: number, username?: string, password?: string) {
  const client = await tryConnect(url(port), { username, password });
  if (typeof client === 'object') clients.push(client);
  return client;
}

beforeAll(async () => {
  objects = render(env.HELM_BIN ?? 'helm', offlineChart(), {
    set: ['mosquitto.tls.enabled=true', 'mosquitto.tls.existingSecret=iot-mqtt-tls'],
  });
  ports = {
    devices: await freePort(),
    services: await freePort(),
    tls: await freePort(),
    sync: await freePort(),
  };
  database = await createTestDatabase(env.DATABASE_URL ?? '');
  for (const folder of ['config', 'accounts', 'data', 'service-accounts', 'tls'])
    mkdirSync(join(dir, folder));
  // The kubernetes.io/tls Secret's keys.
  copyFileSync(certificates.certFile, join(dir, 'tls', 'tls.crt'));
  copyFileSync(certificates.keyFile, join(dir, 'tls', 'tls.key'));

  // The volumes: the ConfigMap, and the service accounts' Secret as files.
  const configMap = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'iot-mosquitto');
  for (const [file, text] of Object.entries(configMap?.data ?? {})) {
    let content = local(text)
      .replace(/^listener 1883$/m, `listener ${ports.devices} 127.0.0.1`)
      .replace(/^listener 1884$/m, `listener ${ports.services} 127.0.0.1`)
      .replace(/^listener 8883$/m, `listener ${ports.tls} 127.0.0.1`);
    // Started by root here: stay root, as the pod's uid 1883 both runs the broker and writes its files.
    if (file === 'mosquitto.conf') content = `user root\n${content}`;
    writeFileSync(join(dir, 'config', file), content);
  }
  const secret = objects.find((o) => o.kind === 'Secret' && o.metadata.name === 'iot-mqtt-accounts');
  passwords = Object.fromEntries(
    Object.entries(secret?.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]),
  );
  for (const [name, password] of Object.entries(passwords)) {
    writeFileSync(join(dir, 'service-accounts', name), password, { mode: 0o400 });
  }

  const init = container('broker-files', true);
  execFileSync(init.command?.[0] ?? '', (init.command ?? []).slice(1).map(local));

  const broker = container('mosquitto');
  const sync = container('broker-accounts');
  const syncEnv: Record<string, string> = { PATH: process.env.PATH ?? '' };
  for (const e of sync.env ?? []) {
    // The device-manager's own login, as the chart's Secret holds it.
    if (e.valueFrom?.secretKeyRef?.key === 'device-manager-database-url')
      syncEnv[e.name] = database.urlAs(env.DEVICE_MANAGER_DATABASE_URL ?? '');
    else syncEnv[e.name] = local(e.value ?? '');
  }
  syncEnv.PORT = String(ports.sync);
  syncEnv.BROKER_SERVICE_URL = url(ports.services);
  // The pod's two commands, in a PID namespace that shows the sync only its own broker.
  const [mosquitto, ...mosquittoArgs] = (broker.command ?? []).map(local);
  const [node, ...syncArgs] = sync.command ?? [];
  expect(node).toBe('node');
  pod = spawn(
    'unshare',
    [
      '--pid',
      '--fork',
      '--mount-proc',
      'sh',
      '-c',
      '"$@" & exec node services/device-manager/"$0"',
      ...syncArgs,
      mosquitto ?? '',
      ...mosquittoArgs,
    ],
    // A process group of its own: unshare ignores SIGTERM while it waits, so the pod is stopped as
    // the kubelet stops it, each of its processes sent SIGTERM.
    { cwd: root, env: syncEnv, stdio: ['ignore', 'ignore', 'inherit'], detached: true },
  );
}, 60_000);

afterAll(async () => {
  await Promise.all(clients.map((c) => c.endAsync(true)));
  if (pod?.pid !== undefined && pod.exitCode === null) {
    const exited = new Promise((resolve) => pod?.once('exit', resolve));
    process.kill(-pod.pid, 'SIGTERM');
    await exited;
  }
  await database?.drop();
  rmSync(dir, { recursive: true, force: true });
  rmSync(certificates.dir, { recursive: true, force: true });
});

describe('the chart’s broker pod, run as processes', () => {
  it('is ready once the sync has applied its first pass, with no device registered', async () => {
    expect(container('broker-accounts').env?.find((e) => e.name === 'BROKER_PROCESS_NAME')?.value).toBe(
      'mosquitto',
    );
    await vi.waitFor(
      async () => expect((await fetch(`http://127.0.0.1:${ports.sync}/readyz`)).status).toBe(200),
      { timeout: 30_000, interval: 200 },
    );
    // Each service logs in on the services' listener with its account from the chart's Secret.
    for (const account of ['collector', 'device-manager', 'broker-exporter']) {
      expect(typeof (await connect(ports.services, `@${account}`, passwords[account])), account).toBe(
        'object',
      );
    }
    expect(await connect(ports.services, '@collector', 'not-its-password')).toBe(135);
    // Anonymous access is off on both listeners.
    expect(await connect(ports.devices)).toBe(135);
    expect(await connect(ports.services)).toBe(135);
  });

  it('admits a device registered in PostgreSQL after the sync’s reload, on its own topics only, plain and over TLS', async () => {
    const registered = await insertDevice(database.db, { device_id: 'pod-1', device_name: 'pod' });
    const password = registered?.credentials.password ?? '';
    // Refused until the sync has rewritten the devices' file and the broker reloaded it.
    const device = await vi.waitFor(
      async () => {
        const client = await connect(ports.devices, 'pod-1', password);
        if (typeof client !== 'object') throw new Error(`refused: ${client}`);
        return client;
      },
      { timeout: 10_000, interval: 200 },
    );
    await expect(device.publishAsync('iot/pod-1/telemetry', '{}', { qos: 1 })).resolves.toBeDefined();
    await expect(device.publishAsync('iot/pod-2/telemetry', '{}', { qos: 1 })).rejects.toMatchObject({
      code: 135,
    });
    // The same account on the services' listener (which the NetworkPolicy keeps devices off) is
    // still held to its own topics.
    const astray = await connect(ports.services, 'pod-1', password);
    if (typeof astray !== 'object') throw new Error(`refused on the services' listener: ${astray}`);
    await expect(astray.publishAsync('iot/pod-2/telemetry', '{}', { qos: 1 })).rejects.toMatchObject({
      code: 135,
    });

    // And over TLS, trusting the CA by MQTT_CA_FILE, with the same account and the same ACL.
    const secure = await tryConnect(`mqtts://127.0.0.1:${ports.tls}`, {
      ...loadMqttClientOptions({
        MQTT_USERNAME: 'pod-1',
        MQTT_PASSWORD: password,
        MQTT_CA_FILE: certificates.caFile,
      }),
    });
    if (typeof secure !== 'object') throw new Error(`refused over TLS: ${secure}`);
    clients.push(secure);
    await expect(secure.publishAsync('iot/pod-1/status', 'online', { qos: 1 })).resolves.toBeDefined();
    await expect(secure.publishAsync('iot/pod-2/status', 'online', { qos: 1 })).rejects.toMatchObject({
      code: 135,
    });
  });
});
