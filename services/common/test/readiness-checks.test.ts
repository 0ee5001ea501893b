import { randomBytes } from 'node:crypto';
import net from 'node:net';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import {
  createDatabase,
  createInfluxReadiness,
  createMqttReadiness,
  createObjectStore,
  createObjectStoreReadiness,
  createPostgresReadiness,
  databaseEnv,
  influxEnv,
  loadConfig,
  mqttEnv,
  type ReadinessCheck,
  s3Env,
} from '../src/index.js';
import { stackMqttLogin } from '../src/testing/index.js';

const schema = databaseEnv.extend(influxEnv.shape).extend(s3Env.shape).extend(mqttEnv.shape);
const stackEnv = inject('stackEnv');
const config = loadConfig(schema, stackEnv);
const run = randomBytes(4).toString('hex');

// Our own fakes at the network edge: a port nobody listens on, and one that accepts and never answers.
let refusedPort = 0;
let silentPort = 0;
const silentSockets = new Set<net.Socket>();
const silent = net.createServer((socket) => {
  silentSockets.add(socket);
  socket.on('error', () => {});
});
const cleanups: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  const closed = net.createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  refusedPort = (closed.address() as net.AddressInfo).port;
  await new Promise((resolve) => closed.close(resolve));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  silentPort = (silent.address() as net.AddressInfo).port;
});

afterAll(async () => {
  // Ends the requests the timed-out checks left waiting, so the clients can close.
  for (const socket of silentSockets) socket.destroy();
  await Promise.all(cleanups.map((cleanup) => cleanup()));
  await new Promise((resolve) => silent.close(resolve));
});

const withPort = (url: string, port: number) => {
  const moved = new URL(url);
  moved.hostname = '127.0.0.1';
  moved.port = String(port);
  return moved.toString();
};

async function outcome(readiness: ReadinessCheck): Promise<{ ready: true } | { reason: string; ms: number }> {
  const started = performance.now();
  try {
    await readiness.check();
    return { ready: true };
  } catch (err) {
    return { reason: (err as Error).message, ms: performance.now() - started };
  }
}

// The timeout of these tests, well below the 2 s default, so a check that waited for the default fails.
const timeoutMs = 200;

function expectTimedOut(result: Awaited<ReturnType<typeof outcome>>) {
  expect(result).toMatchObject({ reason: `timed out after ${timeoutMs} ms` });
  const { ms } = result as { ms: number };
  expect(ms).toBeGreaterThanOrEqual(timeoutMs - 5);
  expect(ms).toBeLessThan(2000);
}

describe('createPostgresReadiness', () => {
  const database = (url: string) => {
    const db = createDatabase<unknown>({ DATABASE_URL: url });
    cleanups.push(() => db.destroy());
    return db;
  };

  it('is ready while PostgreSQL answers', async () => {
    const readiness = createPostgresReadiness(database(config.DATABASE_URL), { timeoutMs });
    expect(readiness.name).toBe('postgres');
    expect(await outcome(readiness)).toEqual({ ready: true });
  });

  it('is not ready, saying why, when nothing listens on the port', async () => {
    const db = database(withPort(config.DATABASE_URL, refusedPort));
    expect(await outcome(createPostgresReadiness(db, { timeoutMs }))).toMatchObject({
      reason: 'ECONNREFUSED',
    });
  });

  it('gives up after its timeout when the server never answers', async () => {
    const db = database(withPort(config.DATABASE_URL, silentPort));
    expectTimedOut(await outcome(createPostgresReadiness(db, { timeoutMs })));
  });
});

describe('createInfluxReadiness', () => {
  it('is ready while InfluxDB reports healthy', async () => {
    const readiness = createInfluxReadiness(config.INFLUX_URL, { timeoutMs });
    expect(readiness.name).toBe('influxdb');
    expect(await outcome(readiness)).toEqual({ ready: true });
  });

  it('is not ready, saying why, when nothing listens on the port', async () => {
    const readiness = createInfluxReadiness(withPort(config.INFLUX_URL, refusedPort), { timeoutMs });
    expect(await outcome(readiness)).toMatchObject({ reason: 'ECONNREFUSED' });
  });

  it('gives up after its timeout when the server never answers', async () => {
    expectTimedOut(
      await outcome(createInfluxReadiness(withPort(config.INFLUX_URL, silentPort), { timeoutMs })),
    );
  });
});

describe('createObjectStoreReadiness', () => {
  const store = (endpoint: string) => createObjectStore({ ...config, S3_ENDPOINT: endpoint });
  const missing = `readiness-${run}`;

  it('is ready while the store answers, with or without the bucket unless the bucket is required', async () => {
    const readiness = createObjectStoreReadiness(store(config.S3_ENDPOINT), missing, { timeoutMs });
    expect(readiness.name).toBe('object_store');
    expect(await outcome(readiness)).toEqual({ ready: true });
    const required = createObjectStoreReadiness(store(config.S3_ENDPOINT), missing, {
      timeoutMs,
      requireBucket: true,
    });
    expect(await outcome(required)).toMatchObject({ reason: `no bucket ${missing}` });
  });

  it('is not ready, saying why, when nothing listens on the port', async () => {
    const readiness = createObjectStoreReadiness(store(withPort(config.S3_ENDPOINT, refusedPort)), missing, {
      timeoutMs,
    });
    expect(await outcome(readiness)).toMatchObject({ reason: 'ECONNREFUSED' });
  });

  it('gives up after its timeout when the server never answers', async () => {
    const readiness = createObjectStoreReadiness(store(withPort(config.S3_ENDPOINT, silentPort)), missing, {
      timeoutMs,
    });
    expectTimedOut(await outcome(readiness));
  });
});

describe('createMqttReadiness', () => {
  const client = (url: string, clientId: string): MqttClient => {
    const connection = mqtt.connect(url, {
      ...stackMqttLogin(stackEnv),
      clientId,
      protocolVersion: 5,
      reconnectPeriod: 0,
      connectTimeout: 30_000,
    });
    connection.on('error', () => {});
    cleanups.push(() => connection.endAsync(true));
    return connection;
  };

  it('is ready while the connection to Mosquitto is up', async () => {
    const connection = client(config.MQTT_URL, `vitest-ready-${run}`);
    await new Promise((resolve) => connection.once('connect', resolve));
    const readiness = createMqttReadiness({ connected: () => connection.connected });
    expect(readiness.name).toBe('mqtt');
    expect(await outcome(readiness)).toEqual({ ready: true });
  });

  it('is not ready, with its reason, when the connection was refused', async () => {
    const connection = client(withPort(config.MQTT_URL, refusedPort), `vitest-refused-${run}`);
    await new Promise<void>((resolve) => connection.once('close', () => resolve()));
    const readiness = createMqttReadiness({
      name: 'broker',
      connected: () => connection.connected,
      reason: 'no device connected',
    });
    expect(readiness.name).toBe('broker');
    expect(await outcome(readiness)).toMatchObject({ reason: 'no device connected' });
  });

  it('answers at once, not waiting out the connect, when the broker accepts and never answers', async () => {
    const connection = client(withPort(config.MQTT_URL, silentPort), `vitest-silent-${run}`);
    const sockets = silentSockets.size;
    // Accepted: the client now waits for a CONNACK that never comes.
    await vi.waitFor(() => expect(silentSockets.size).toBe(sockets + 1));
    const result = await outcome(createMqttReadiness({ connected: () => connection.connected }));
    expect(result).toMatchObject({ reason: 'not connected' });
    expect((result as { ms: number }).ms).toBeLessThan(timeoutMs);
  });
});
