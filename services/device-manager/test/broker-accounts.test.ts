import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { CommandMessage } from '@iot-meter/common';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { BrokerAccountsSync } from '../src/broker-accounts/broker-accounts-sync.js';
import { reloadBrokerBySignal } from '../src/broker-accounts/reload-broker.js';
import { ApiHarness } from './api-harness.js';
import { AuthBroker, startSyncFor, stopAll, tryConnect } from './auth-broker.js';

// Device identity at the broker: credentials issued by the API, applied to a real Mosquitto by the
// account sync, and the chart's ACLs holding every device to its own topics.
const stackEnv = inject('stackEnv');
// 17xxx: no stack (PostgreSQL 15432+, MQTT 11883+, InfluxDB 18086+ with offsets up to 900) or soak port.
const broker = new AuthBroker({ devices: 17640, services: 17641 });
const api = new ApiHarness(stackEnv);
const servicePasswords = {
  collector: randomBytes(16).toString('hex'),
  'device-manager': randomBytes(16).toString('hex'),
};
const registry = new Registry();
let sync: BrokerAccountsSync;
const clients: MqttClient[] = [];

const NOT_AUTHORIZED = 135;

function startSync(
  reloadBroker = reloadBrokerBySignal({ pidFile: broker.pidFile }),
  metrics = new Registry(),
) {
  return startSyncFor(broker, api, { reloadBroker, registry: metrics });
}

beforeAll(async () => {
  for (const [service, password] of Object.entries(servicePasswords))
    broker.setServicePassword(service, password);
  await broker.start();
  await api.start(
    {},
    {
      mqttUrl: broker.serviceUrl,
      mqttUsername: '@device-manager',
      mqttPassword: servicePasswords['device-manager'],
    },
  );
  sync = startSync(undefined, registry);
  await sync.applied();
});
afterAll(() => stopAll({ clients, sync, api, broker }));

/** Connects to the devices' listener (or `url`); resolves with the client or the CONNACK refusal code. */
type ConnectOptions = IClientOptions & { url?: string };

async function connect(
  username: string | undefined,
  password: string | undefined,
  options: ConnectOptions = {},
) {
  const { url = broker.deviceUrl, ...rest } = options;
  const client = await tryConnect(url, { username, password, ...rest });
  if (typeof client === 'object') clients.push(client);
  return client;
}

async function connected(username: string, password: string, options: ConnectOptions = {}) {
  const client = await connect(username, password, options);
  if (typeof client !== 'object') throw new Error(`${username} refused: ${client}`);
  return client;
}

async function register(deviceId: string) {
  const r = await api.call('POST', '/api/devices', { json: { device_id: deviceId, device_name: deviceId } });
  expect(r.status).toBe(201);
  return (r.json as { mqtt_credentials: { username: string; password: string } }).mqtt_credentials;
}

/** The reason code of a QoS 1 publish's PUBACK: 0 accepted, 135 not authorised. */
async function publishCode(client: MqttClient, topic: string, retain = false): Promise<number> {
  try {
    await client.publishAsync(topic, '{}', { qos: 1, retain });
    return 0;
  } catch (err) {
    return (err as { code?: number }).code ?? -1;
  }
}

async function subscribeCode(client: MqttClient, filter: string): Promise<number> {
  const granted = await client.subscribeAsync(filter, { qos: 1 });
  return granted[0]?.qos ?? -1;
}

const closed = (client: MqttClient) =>
  new Promise<number>((resolve) => {
    const started = Date.now();
    client.once('close', () => resolve(Date.now() - started));
  });

const command = (_label: string): CommandMessage => ({
  v: 2,
  cmd_id: randomUUID(),
  ts: new Date().toISOString(),
  cmd: 'reboot',
  params: {},
});

// The API's broker connection was refused until the sync's first pass wrote its account, and
// reconnects with backoff.
async function commandsConnected() {
  await expect.poll(() => api.commands.isConnected(), { timeout: 15_000 }).toBe(true);
}

async function applied(): Promise<void> {
  await sync.applied();
}

describe('device credentials', () => {
  it('are issued once at registration, as the device id and a 256-bit secret, and connect the device', async () => {
    const r = await api.call('POST', '/api/devices', { json: { device_id: 'acct-1', device_name: 'one' } });
    expect(r.status).toBe(201);
    const { mqtt_credentials: credentials, ...device } = r.json as {
      mqtt_credentials: Record<string, string>;
      device_id: string;
    };
    expect(credentials).toEqual({
      device_id: 'acct-1',
      username: 'acct-1',
      password: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
      issued_at: expect.stringMatching(/Z$/),
    });
    expect(device.device_id).toBe('acct-1');
    const password = credentials?.password ?? '';
    // Never shown again, and stored only as the broker's hash.
    const reads = [
      await api.call('GET', '/api/devices/acct-1'),
      await api.call('GET', '/api/devices'),
      await api.call('GET', '/api/devices/acct-1/status'),
    ];
    for (const read of reads) expect(read.text).not.toContain(password);
    const [stored] = await api.database.db.selectFrom('device_credentials').selectAll().execute();
    expect(stored?.password_hash).toMatch(/^\$7\$1\$[A-Za-z0-9+/=]{16}\$[A-Za-z0-9+/=]{88}$/);
    expect(stored?.password_hash).not.toContain(password);

    await applied();
    expect(readFileSync(broker.passwordFile, 'utf8')).toContain(`acct-1:${stored?.password_hash}\n`);
    const client = await connected('acct-1', password);
    expect(await publishCode(client, 'iot/acct-1/telemetry')).toBe(0);
  });

  it('refuses ids Mosquitto cannot take as a username', async () => {
    const r = await api.call('POST', '/api/devices', { json: { device_id: 'aa:bb:cc', device_name: 'mac' } });
    expect(r.status).toBe(400);
    expect(r.json).toMatchObject({ code: 'invalid_request', field: 'device_id' });
    const imported = await api.call('POST', '/api/devices/import', {
      body: JSON.stringify({ device_id: 'aa:bb:dd', device_name: 'mac' }),
      headers: { 'content-type': 'application/x-ndjson' },
    });
    expect(imported.json).toMatchObject({ created: 0, failed: 1, errors: [{ line: 1, field: 'device_id' }] });
    expect(
      await api.database.db
        .selectFrom('devices')
        .select('device_id')
        .where('device_id', '=', 'aa:bb:cc')
        .execute(),
    ).toEqual([]);
  });

  it('issue one change for a bulk import, with every new device’s secret in the answer', async () => {
    const before = await appliedPasses();
    const ids = Array.from({ length: 300 }, (_, i) => `bulk-${String(i).padStart(3, '0')}`);
    const file = ids.map((id) => JSON.stringify({ device_id: id, device_name: id })).join('\n');
    const r = await api.call('POST', '/api/devices/import', {
      body: file,
      headers: { 'content-type': 'application/x-ndjson' },
    });
    expect(r.status).toBe(200);
    const result = r.json as { created: number; credentials: { device_id: string; password: string }[] };
    expect(result.created).toBe(300);
    expect(result.credentials.map((c) => c.device_id).sort()).toEqual(ids);
    await applied();
    expect((await appliedPasses()) - before).toBe(1);
    for (const c of [result.credentials[0], result.credentials[299]]) {
      const client = await connected(c?.device_id ?? '', c?.password ?? '');
      expect(await publishCode(client, `iot/${c?.device_id}/telemetry`)).toBe(0);
    }
  });
});

async function appliedPasses(): Promise<number> {
  const metric = await registry.getSingleMetric('iot_broker_account_syncs_total')?.get();
  return metric?.values.find((v) => v.labels.result === 'applied')?.value ?? 0;
}

describe('a device with valid credentials cannot speak for another', () => {
  let a: { username: string; password: string };
  let b: { username: string; password: string };
  let client: MqttClient;
  const seen: string[] = [];

  beforeAll(async () => {
    a = await register('spoof-a');
    b = await register('spoof-b');
    await applied();
    // The collectors' view: everything devices send, through a shared subscription.
    const collector = await connected('@collector', servicePasswords.collector, {
      url: broker.serviceUrl,
      clientId: 'collector-test',
    });
    for (const kind of ['telemetry', 'hello', 'status', 'command/ack']) {
      expect(await subscribeCode(collector, `$share/collectors/iot/+/${kind}`)).toBe(1);
    }
    collector.on('message', (topic) => seen.push(topic));
    client = await connected(a.username, a.password);
  });

  it.each(['telemetry', 'hello', 'status', 'command/ack'])('publishing on its %s topic', async (kind) => {
    expect(await publishCode(client, `iot/spoof-b/${kind}`, kind === 'status')).toBe(NOT_AUTHORIZED);
    expect(await publishCode(client, `iot/spoof-a/${kind}`)).toBe(0);
    await expect.poll(() => seen).toContain(`iot/spoof-a/${kind}`);
    expect(seen.filter((t) => t.startsWith('iot/spoof-b/'))).toEqual([]);
  });

  it('reading its commands, every device’s traffic, or the broker’s', async () => {
    // Mosquitto's acl_file checks read access when it delivers, not on SUBSCRIBE (docs/security.md):
    // the SUBACK grants, and nothing arrives.
    const filters = ['iot/spoof-b/command', 'iot/#', 'iot/+/command', '$SYS/#', '$share/g/iot/+/telemetry'];
    for (const filter of filters) expect(await subscribeCode(client, filter)).toBe(1);
    expect(await subscribeCode(client, 'iot/spoof-a/command')).toBe(1);
    const got: string[] = [];
    client.on('message', (topic) => got.push(topic));
    const other = await connected(b.username, b.password);
    expect(await subscribeCode(other, 'iot/spoof-b/command')).toBe(1);
    const otherGot: string[] = [];
    other.on('message', (topic) => otherGot.push(topic));

    await commandsConnected();
    await api.commands.publish('spoof-b', command('for-b'));
    expect(await publishCode(other, 'iot/spoof-b/telemetry')).toBe(0);
    // Sent last, so anything of spoof-b's or the broker's would have reached spoof-a before it.
    await api.commands.publish('spoof-a', command('for-a'));
    await expect.poll(() => got).toContain('iot/spoof-a/command');
    // One copy per matching subscription, all of its own command.
    expect(new Set(got)).toEqual(new Set(['iot/spoof-a/command']));
    await expect.poll(() => otherGot).toEqual(['iot/spoof-b/command']);
  });

  it('leaving a Last Will on its status', async () => {
    // Accepted at CONNECT, refused when the broker would publish it (the ACL is checked then).
    const forged = await connected(a.username, a.password, {
      will: { topic: 'iot/spoof-b/status', payload: Buffer.from('offline'), qos: 1, retain: true },
    });
    forged.stream.destroy(); // gone without a DISCONNECT: the broker acts on the Will
    await new Promise<void>((resolve) => forged.once('close', () => resolve()));
    const wills = () => seen.filter((t) => t === 'iot/spoof-a/status').length;
    const before = wills();
    const own = await connected(a.username, a.password, {
      will: { topic: 'iot/spoof-a/status', payload: Buffer.from('offline'), qos: 1, retain: true },
    });
    own.stream.destroy();
    await expect.poll(wills).toBe(before + 1);
    expect(seen.filter((t) => t === 'iot/spoof-b/status')).toEqual([]);
  });

  it('taking its client id, which is always its username', async () => {
    const other = await connected(b.username, b.password);
    // Asks for spoof-b's client id and gets its own, so spoof-b stays connected.
    const impostor = await connected(a.username, a.password, { clientId: 'spoof-b' });
    const impostorClosed = closed(impostor);
    await new Promise((r) => setTimeout(r, 500));
    expect([other.connected, impostor.connected]).toEqual([true, true]);
    // Its next connection takes over that one: both had client id spoof-a.
    await connected(a.username, a.password);
    expect(await impostorClosed).toBeLessThan(5000);
    expect(other.connected).toBe(true);
  });

  it('connecting without credentials or with a wrong secret, on either listener', async () => {
    for (const url of [broker.deviceUrl, broker.serviceUrl]) {
      expect(await connect(undefined, undefined, { url })).toBe(NOT_AUTHORIZED);
      expect(await connect('spoof-a', 'x'.repeat(43), { url })).toBe(NOT_AUTHORIZED);
    }
  });

  it('on the services’ listener (which only our pods reach) a device is still confined to its own topics', async () => {
    const device = await connected('spoof-a', a.password, {
      url: broker.serviceUrl,
      clientId: 'spoof-a-svc',
    });
    expect(await publishCode(device, 'iot/spoof-b/telemetry')).toBe(NOT_AUTHORIZED);
    expect(await publishCode(device, 'iot/spoof-a/telemetry')).toBe(0);
  });
});

describe('authentication keeps the delivery guarantee', () => {
  // With a password file and ACL per listener (per_listener_settings), Mosquitto 2.0 denies every
  // message to a session whose client is away: an offline collector's queue stayed empty.
  it('queues what a device sends while the collector is away, and delivers it when it is back', async () => {
    const device = await register('queue-1');
    await applied();
    const session = {
      clientId: 'collector-away',
      clean: false,
      properties: { sessionExpiryInterval: 300 },
    };
    const away = await connected('@collector', servicePasswords.collector, {
      ...session,
      url: broker.serviceUrl,
    });
    await away.subscribeAsync('$share/away/iot/+/telemetry', { qos: 1 });
    await away.endAsync();
    const sender = await connected('queue-1', device.password);
    for (const seq of [1, 2, 3]) await sender.publishAsync('iot/queue-1/telemetry', `${seq}`, { qos: 1 });
    // Listening before it connects: the queue arrives right after the CONNACK.
    const received: string[] = [];
    const back = mqtt.connect(broker.serviceUrl, {
      ...session,
      username: '@collector',
      password: servicePasswords.collector,
      protocolVersion: 5,
      reconnectPeriod: 0,
    });
    back.on('message', (_topic, payload) => received.push(payload.toString()));
    await expect.poll(() => received).toEqual(['1', '2', '3']);
    await back.endAsync(true, { properties: { sessionExpiryInterval: 0 } });
  });
});

describe('services hold only their own rights', () => {
  it('the API sends commands and the device receives them; it reads nothing', async () => {
    const credentials = await register('svc-1');
    await applied();
    const device = await connected('svc-1', credentials.password);
    expect(await subscribeCode(device, 'iot/svc-1/command')).toBe(1);
    const received: string[] = [];
    device.on('message', (topic) => received.push(topic));
    await commandsConnected();
    await api.commands.publish('svc-1', command('c-1'));
    await expect.poll(() => received).toEqual(['iot/svc-1/command']);

    // Their subscriptions are granted (acl_file checks on delivery), and nothing reaches them.
    const dm = await connected('@device-manager', servicePasswords['device-manager'], {
      url: broker.serviceUrl,
      clientId: 'dm-probe',
    });
    const dmGot: string[] = [];
    dm.on('message', (topic) => dmGot.push(topic));
    expect(await subscribeCode(dm, 'iot/#')).toBe(1);
    expect(await publishCode(dm, 'iot/svc-1/telemetry')).toBe(NOT_AUTHORIZED);
    const collector = await connected('@collector', servicePasswords.collector, {
      url: broker.serviceUrl,
      clientId: 'collector-probe',
    });
    const collectorGot: string[] = [];
    collector.on('message', (topic) => collectorGot.push(topic));
    expect(await subscribeCode(collector, '$share/probe/iot/+/telemetry')).toBe(1);
    expect(await subscribeCode(collector, 'iot/+/command')).toBe(1);
    expect(await publishCode(collector, 'iot/svc-1/command')).toBe(NOT_AUTHORIZED);
    expect(await publishCode(collector, 'iot/svc-1/telemetry')).toBe(NOT_AUTHORIZED);

    expect(await publishCode(device, 'iot/svc-1/telemetry')).toBe(0);
    await api.commands.publish('svc-1', command('c-2'));
    await expect.poll(() => collectorGot).toEqual(['iot/svc-1/telemetry']);
    await expect.poll(() => received).toEqual(['iot/svc-1/command', 'iot/svc-1/command']);
    // Both copies went out in the same publishes as those above.
    await new Promise((r) => setTimeout(r, 200));
    expect([dmGot, collectorGot]).toEqual([[], ['iot/svc-1/telemetry']]);
  });
});

describe('revocation', () => {
  it('disconnects a deleted device within 5 s and refuses it after', async () => {
    const { password } = await register('rev-delete');
    await applied();
    const client = await connected('rev-delete', password);
    const gone = closed(client);
    expect((await api.call('DELETE', '/api/devices/rev-delete')).status).toBe(200);
    expect(await gone).toBeLessThan(5000);
    expect(await connect('rev-delete', password)).toBe(NOT_AUTHORIZED);
  });

  it('disconnects a disabled device within 5 s, and lets it back once enabled', async () => {
    const { password } = await register('rev-disable');
    await applied();
    const client = await connected('rev-disable', password);
    const gone = closed(client);
    // Any case: status is free text.
    const r = await api.call('PUT', '/api/devices/rev-disable', { json: { status: 'Disabled' } });
    expect(r.status).toBe(200);
    expect(await gone).toBeLessThan(5000);
    expect(await connect('rev-disable', password)).toBe(NOT_AUTHORIZED);
    await api.call('PUT', '/api/devices/rev-disable', { json: { status: 'active' } });
    await applied();
    expect(typeof (await connect('rev-disable', password))).toBe('object');
  });

  it('refuses a rotated device’s old secret, disconnecting it, and takes the new one', async () => {
    const old = await register('rev-rotate');
    await applied();
    const client = await connected('rev-rotate', old.password);
    const gone = closed(client);
    const r = await api.call('POST', '/api/devices/rev-rotate/credentials');
    expect(r.status).toBe(201);
    const fresh = r.json as { username: string; password: string };
    expect(fresh.password).not.toBe(old.password);
    expect(await gone).toBeLessThan(5000);
    expect(await connect('rev-rotate', old.password)).toBe(NOT_AUTHORIZED);
    expect(typeof (await connect('rev-rotate', fresh.password))).toBe('object');
    expect((await api.call('POST', '/api/devices/nobody/credentials')).status).toBe(404);
  });

  it('reissues every device of an import with credentials=all: old secrets refused, new ones taken', async () => {
    const old = await register('reissue-1');
    await applied();
    const file = ['reissue-1', 'reissue-2'].map((id) => JSON.stringify({ device_id: id, device_name: id }));
    const r = await api.call('POST', '/api/devices/import?credentials=all', {
      body: file.join('\n'),
      headers: { 'content-type': 'application/x-ndjson' },
    });
    const result = r.json as { created: number; unchanged: number; credentials: Record<string, string>[] };
    expect([r.status, result.created, result.unchanged]).toEqual([200, 1, 1]);
    expect(result.credentials.map((c) => c.username).sort()).toEqual(['reissue-1', 'reissue-2']);
    await applied();
    expect(await connect('reissue-1', old.password)).toBe(NOT_AUTHORIZED);
    for (const c of result.credentials) {
      const client = await connected(c.username ?? '', c.password ?? '');
      expect(await publishCode(client, `iot/${c.username}/telemetry`)).toBe(0);
    }
    const bad = await api.call('POST', '/api/devices/import?credentials=some', {
      body: file.join('\n'),
      headers: { 'content-type': 'application/x-ndjson' },
    });
    expect(bad.status).toBe(400);
  });
});

describe('the broker converges on PostgreSQL after a crash', () => {
  it('between writing the file and reloading the broker, and with the sync down while devices registered', async () => {
    await sync.close();
    const { password } = await register('crash-1');
    // A sync that dies after writing the file, before the broker reloads it.
    let reloads = 0;
    const dying = startSync(async () => {
      reloads += 1;
      throw new Error('killed before SIGHUP');
    });
    await expect.poll(() => reloads).toBeGreaterThanOrEqual(1);
    await dying.close();
    expect(readFileSync(broker.passwordFile, 'utf8')).toContain('crash-1:');
    expect(await connect('crash-1', password)).toBe(NOT_AUTHORIZED);

    // Restarted, it converges within the 30 s (its first pass always reloads the broker).
    sync = startSync();
    await expect
      .poll(async () => typeof (await connect('crash-1', password)), { timeout: 30_000, interval: 200 })
      .toBe('object');
  });
});
