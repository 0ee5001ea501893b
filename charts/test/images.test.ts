import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createObjectStore, influxEnv, loadConfig, s3Env } from '@iot-meter/common';
import {
  createTestDatabase,
  createTestInfluxBucket,
  stackFleetEnv,
  stackMqttEnv,
} from '@iot-meter/common/testing';
import { afterAll, beforeAll, describe, expect, inject, it, onTestFailed } from 'vitest';
import { PrivateStack } from '../../scripts/stack/private-stack.js';
import { ImageContainer, imageConfig } from './image-container.js';

// Our three images, built from their Dockerfiles by scripts/images/build.sh (buildah, no engine;
// on a stand-in of the Node base image, since Docker Hub is out of reach here), then run as the
// chart runs them: read-only root, uid 1000, the command as PID 1, stopped with SIGTERM. The stores
// are the local stack's (a database, bucket and object bucket of this file's own); the broker is one
// of its own, so no other test's messages reach these collectors.
const env = inject('stackEnv');
const root = fileURLToPath(new URL('../..', import.meta.url));
const broker = new PrivateStack(820);
const run = Math.random().toString(16).slice(2, 8);
const s3Bucket = `images-${run}`;
const cleanups: (() => Promise<unknown>)[] = [];
const containers: ImageContainer[] = [];
const images: Record<string, string> = {};
let stores: Record<string, string> = {};

beforeAll(async () => {
  const built = execFileSync('bash', ['scripts/images/build.sh'], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, NODE_IMAGE: process.env.NODE_IMAGE ?? 'local' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  for (const ref of built.trim().split('\n')) images[ref.split('/').pop()?.split(':')[0] ?? ''] = ref;
  broker.up('mosquitto');
  cleanups.push(async () => broker.destroy());
  const database = await createTestDatabase(env.DATABASE_URL ?? '');
  const influx = await createTestInfluxBucket(loadConfig(influxEnv, env), 'images');
  cleanups.push(database.drop, influx.drop, async () => {
    const store = createObjectStore(loadConfig(s3Env, env));
    if (!(await store.bucketExists(s3Bucket))) return;
    const names = (await store.listObjectsV2(s3Bucket, '', true).toArray()).map((o) => o.name ?? '');
    await store.removeObjects(s3Bucket, names);
    await store.removeBucket(s3Bucket);
  });
  stores = {
    DATABASE_URL: database.url,
    INFLUX_URL: env.INFLUX_URL ?? '',
    INFLUX_TOKEN: env.INFLUX_TOKEN ?? '',
    INFLUX_ORG: env.INFLUX_ORG ?? '',
    INFLUX_BUCKET: influx.name,
    S3_ENDPOINT: env.S3_ENDPOINT ?? '',
    S3_ACCESS_KEY: env.S3_ACCESS_KEY ?? '',
    S3_SECRET_KEY: env.S3_SECRET_KEY ?? '',
    S3_BUCKET: s3Bucket,
    LOG_LEVEL: 'warn',
  };
}, 900_000);

afterAll(async () => {
  for (const container of containers) await container.remove();
  for (const cleanup of cleanups.reverse()) await cleanup();
});

function container(service: string): ImageContainer {
  const made = new ImageContainer(images[service] ?? service);
  containers.push(made);
  onTestFailed(() => console.error(`${service}: ${made.output}`));
  return made;
}

const status = (port: number, path: string) =>
  fetch(`http://127.0.0.1:${port}${path}`).then(
    (r) => r.status,
    () => 0,
  );

/** Starts a long-running container, waits for /readyz, then stops it as the kubelet would. */
async function serveThenStop(
  made: ImageContainer,
  port: number,
  env: Record<string, string>,
  options: { args?: string[]; command?: string[] } = {},
) {
  made.start({ ...env, PORT: String(port) }, options);
  await expect.poll(() => status(port, '/readyz'), { timeout: 30_000, interval: 250 }).toBe(200);
  made.signal('SIGTERM');
  expect(await made.exited()).toBe(0);
}

describe.each(['collector', 'device-manager', 'simulator'])('image %s', (service) => {
  it('runs as user node from its compiled JavaScript, with production dependencies only', () => {
    const config = imageConfig(images[service] ?? '');
    expect(config.User).toBe('node');
    expect(config.Entrypoint?.[0]).toBe('node');
    // The collector starts from its bundle (services/collector/package.json, bundle).
    const entry = service === 'collector' ? 'dist/bundle/main.js' : 'dist/main.js';
    expect(config.Entrypoint?.at(-1)).toBe(entry);
    const rootfs = container(service).rootfs();
    const app = join(rootfs, config.WorkingDir ?? '');
    expect(existsSync(join(app, entry))).toBe(true);
    expect(existsSync(join(app, 'src'))).toBe(false);
    for (const dev of ['typescript', 'vitest', 'vite', 'esbuild', 'tsx', '@biomejs/biome', 'autocannon']) {
      expect(existsSync(join(rootfs, 'app/node_modules', dev)), dev).toBe(false);
    }
    // Our layer over the Node base: compiled code and production dependencies, about 101 MiB, a
    // third of it OpenTelemetry's SDK (services/common); TypeScript alone would add 23 MiB.
    const kib = Number(execFileSync('du', ['-sk', join(rootfs, 'app')], { encoding: 'utf8' }).split('\t')[0]);
    console.log(`${images[service]}: /app ${(kib / 1024).toFixed(1)} MiB over the Node base`);
    expect(kib).toBeLessThan(110 * 1024);
  });
});

describe('run as the chart runs them (read-only root, uid 1000, PID 1)', () => {
  it('as the pods would: uid 1000, PID 1, nothing writable on the root', async () => {
    const probe = container('collector');
    probe.start({}, { command: ['sh', '-c', 'echo "uid=$(id -u) pid=$$"; touch /tmp/probe'] });
    expect(await probe.exited()).toBe(1);
    expect(probe.output).toMatch(
      /^uid=1000 pid=1\ntouch: cannot touch '\/tmp\/probe': Read-only file system\n$/,
    );
  });

  it("device-manager: the init container's migration, the retention Job, then the API until SIGTERM", async () => {
    const migrate = container('device-manager');
    migrate.start(stores, { command: ['node', 'dist/bin/migrate-database.js'] });
    expect(await migrate.exited()).toBe(0);
    const retention = container('device-manager');
    retention.start(
      { ...stores, RETENTION_TIME_SERIES_DAYS: '30', RETENTION_ARCHIVE_DAYS: '7' },
      {
        command: ['node', 'dist/bin/configure-retention.js'],
      },
    );
    expect(await retention.exited()).toBe(0);
    await serveThenStop(container('device-manager'), 18_821, {
      ...stores,
      ...stackMqttEnv(broker.env, 'device-manager'),
      API_ADMIN_KEY: 'images-test-admin-key-0123456789abcdef',
    });
  });

  it('collector: ready with every store, then stops on SIGTERM; its broker exporter too', async () => {
    await serveThenStop(container('collector'), 18_822, {
      ...stores,
      ...stackMqttEnv(broker.env, 'collector'),
      MQTT_CLIENT_ID: 'collector-0',
    });
    await serveThenStop(container('collector'), 18_823, stackMqttEnv(broker.env, 'broker-exporter'), {
      command: ['node', 'dist/bin/export-broker-stats.js'],
    });
  });

  it('simulator: its fleet connects, then it stops on SIGTERM', async () => {
    await serveThenStop(
      container('simulator'),
      18_824,
      // Unregistered, every device as the stack's test client.
      stackFleetEnv(broker.env),
      {
        args: ['--devices', '2', '--send-interval', '1', '--prefix', `images-${run}-`],
      },
    );
  });
});
