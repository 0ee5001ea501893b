// npm run bench:ingest [-- --messages N --json]: ingest throughput on the local stack, each figure
// measured in the same run so the ratios compare like with like. Consumers drain a backlog that was
// queued in their persistent session first, so the publisher's speed does not limit them.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { createInflux, createObjectStore, loadConfig } from '@iot-meter/common';
import {
  createTestDatabase,
  stackMqttEnv,
  stackMqttLogin,
  type TestDatabase,
  waitFor,
} from '@iot-meter/common/testing';
import mqtt from 'mqtt';
import { readStackEnv } from '../../../scripts/stack/stack-env.js';
import { collectorConfig } from '../src/config.js';
import { createInfluxWriter } from '../src/timeseries/influx-writer.js';
import { toLineProtocol } from '../src/timeseries/line-protocol.js';

const run = promisify(execFile);
const main = fileURLToPath(new URL('../dist/main.js', import.meta.url));
// The heap cap the collector's start script uses: V8 grows its heap lazily far past the live set.
const NODE_ARGS = ['--max-old-space-size=192'];
const { values: args } = parseArgs({
  options: { messages: { type: 'string', default: '200000' }, json: { type: 'boolean', default: false } },
});
const N = Number(args.messages);
const stackEnv = readStackEnv();
// Sessions in the collectors' share groups under their account, devices' messages from the test client.
const asCollector = stackMqttLogin(stackEnv, 'collector');
const asDevices = stackMqttLogin(stackEnv);
const id = randomBytes(3).toString('hex');
const T0 = Date.parse('2026-01-01T00:00:00Z');
const results: Record<string, number> = {};

const v1 = (device: string, i: number) =>
  JSON.stringify({
    timestamp: new Date(T0 + i).toISOString(),
    device_id: device,
    temperature: 20 + (i % 100) / 10,
  });
const v2 = (device: string, i: number) =>
  JSON.stringify({
    v: 2,
    device_id: device,
    ts: new Date(T0 + i * 20).toISOString(),
    seq: i,
    msg_type: 'telemetry',
    measurements: Array.from({ length: 20 }, (_, k) => ({
      ts: new Date(T0 + i * 20 + k).toISOString(),
      type: 'voltage_dc',
      val: 700 + k,
      unit: 'V',
    })),
  });

/** Creates persistent sessions in a share group, then queues `count` messages into them. */
async function queueBacklog(
  group: string,
  clientIds: string[],
  topic: string,
  payload: (i: number) => string,
  count = N,
) {
  for (const clientId of clientIds) {
    const c = await mqtt.connectAsync(stackEnv.MQTT_URL ?? '', {
      ...asCollector,
      clientId,
      clean: false,
      protocolVersion: 5,
      properties: { sessionExpiryInterval: 600 },
    });
    await c.subscribeAsync(`$share/${group}/${topic.replace(/^iot\/[^/]+/, 'iot/+')}`, { qos: 1 });
    await c.endAsync();
  }
  const pub = await mqtt.connectAsync(stackEnv.MQTT_URL ?? '', {
    ...asDevices,
    protocolVersion: 5,
    clientId: `bench-pub-${id}`,
  });
  for (let i = 0; i < count; i += 1000) {
    const batch = [];
    for (let k = i; k < Math.min(count, i + 1000); k += 1)
      batch.push(pub.publishAsync(topic, payload(k), { qos: 1 }));
    await Promise.all(batch);
  }
  await pub.endAsync();
}

async function endSession(clientId: string) {
  const c = await mqtt.connectAsync(stackEnv.MQTT_URL ?? '', {
    ...asCollector,
    clientId,
    clean: true,
    protocolVersion: 5,
  });
  await c.endAsync();
}

async function ceilingMosquittoSub(label: string, payload: typeof v1): Promise<number> {
  const clientId = `bench-msub-${label}-${id}`;
  await queueBacklog(`bm-${id}`, [clientId], `iot/bm-${id}/telemetry`, (i) => payload(`bm-${id}`, i));
  const url = new URL(stackEnv.MQTT_URL ?? '');
  const started = performance.now();
  await run(
    'mosquitto_sub',
    [
      ...['-h', url.hostname, '-p', url.port, '-u', asCollector.username, '-P', asCollector.password],
      ...['-V', '5', '-c', '-i', clientId, '-x', '600', '-q', '1'],
      ...['-t', `$share/bm-${id}/iot/+/telemetry`, '-C', String(N), '-W', '300'],
    ],
    { maxBuffer: 1 << 30 },
  );
  const rate = N / ((performance.now() - started) / 1000);
  await endSession(clientId);
  return rate;
}

async function ceilingMqttJs(): Promise<number> {
  const clientId = `bench-mjs-${id}`;
  await queueBacklog(`bj-${id}`, [clientId], `iot/bj-${id}/telemetry`, (i) => v1(`bj-${id}`, i));
  const started = performance.now();
  let received = 0;
  const client = mqtt.connect(stackEnv.MQTT_URL ?? '', {
    ...asCollector,
    clientId,
    clean: false,
    protocolVersion: 5,
    properties: { sessionExpiryInterval: 600 },
  });
  await new Promise<void>((resolve, reject) => {
    client.on('message', () => ++received === N && resolve());
    stallGuard(() => received, reject);
  });
  const rate = N / ((performance.now() - started) / 1000);
  await client.endAsync();
  await endSession(clientId);
  return rate;
}

/** InfluxDB's own ceiling for the points of `messages`, written directly in 5,000-line gzip batches, two at a time. */
async function ceilingInflux(
  device: string,
  payload: (i: number) => string,
  pointsPerMessage: number,
): Promise<number> {
  const config = loadConfig(collectorConfig, stackEnv);
  const writer = createInfluxWriter(
    {
      url: config.INFLUX_URL,
      token: config.INFLUX_TOKEN,
      org: config.INFLUX_ORG,
      bucket: config.INFLUX_BUCKET,
    },
    { timeoutMs: 60_000, gzipLevel: config.INGEST_GZIP_LEVEL },
  );
  // Each message's lines, as the collector builds them.
  const lines: string[] = [];
  for (let i = 0; i < N; i += 1) {
    const body = JSON.parse(payload(i));
    if (pointsPerMessage === 1) {
      lines.push(
        toLineProtocol(device, [
          {
            metric: 'temperature',
            value: body.temperature,
            timeNs: BigInt(Date.parse(body.timestamp)) * 1_000_000n,
          },
        ]),
      );
    } else {
      lines.push(
        toLineProtocol(
          device,
          body.measurements.map((m: { ts: string; val: number }) => ({
            metric: 'voltage_dc',
            value: m.val,
            unit: 'V',
            timeNs: BigInt(Date.parse(m.ts)) * 1_000_000n,
          })),
        ),
      );
    }
  }
  const started = performance.now();
  const chunks: string[] = [];
  const perChunk = 5000 / pointsPerMessage;
  for (let i = 0; i < lines.length; i += perChunk) chunks.push(lines.slice(i, i + perChunk).join('\n'));
  const lanes = [0, 1].map(async (lane) => {
    for (let c = lane; c < chunks.length; c += 2) await writer.write(chunks[c] ?? '');
  });
  await Promise.all(lanes);
  return N / ((performance.now() - started) / 1000);
}

type CollectorRun = {
  rate: number;
  cpuSeconds: number;
  rssBytes: number;
  putsPerThousand: number;
  shares: number[];
};

async function metric(port: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
    .reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);
}

/** Collectors (compiled, as separate processes) draining a backlog of `N` messages into both stores. */
async function collectorDrain(
  label: string,
  replicas: number,
  payload: (device: string, i: number) => string,
): Promise<CollectorRun> {
  const database = await createTestDatabase(stackEnv.DATABASE_URL ?? '');
  const device = `bench-${label}-${id}`;
  const group = `bc-${label}-${id}`;
  const bucket = `bench-${label}-${id}`;
  const ids = Array.from({ length: replicas }, (_, r) => `bench-${label}-${id}-${r}`);
  await queueBacklog(group, ids, `iot/${device}/telemetry`, (i) => payload(device, i));
  const started = performance.now();
  const procs = ids.map((clientId, r) =>
    spawn(process.execPath, [...NODE_ARGS, main], {
      env: {
        ...process.env,
        ...stackEnv,
        ...stackMqttEnv(stackEnv, 'collector'),
        DATABASE_URL: database.url,
        S3_BUCKET: bucket,
        MQTT_SHARE_GROUP: group,
        MQTT_CLIENT_ID: clientId,
        PORT: String(18_600 + r),
        LOG_LEVEL: 'warn',
      },
      stdio: 'ignore',
    }),
  );
  const ports = ids.map((_, r) => 18_600 + r);
  let stored: number[] = ports.map(() => 0);
  let rss = 0;
  let failure: Error | undefined;
  stallGuard(
    () => stored.reduce((a, b) => a + b, 0),
    (err) => {
      failure = err;
    },
  );
  // No deadline: the stall guard ends a phase that stops moving.
  await waitFor(
    async () => {
      if (failure) throw failure;
      stored = await Promise.all(
        ports.map((p) => metric(p, 'iot_collector_messages_stored_total').catch(() => 0)),
      );
      const memory = await Promise.all(
        ports.map((p) => metric(p, 'process_resident_memory_bytes').catch(() => 0)),
      );
      rss = Math.max(rss, ...memory);
      return stored.reduce((a, b) => a + b, 0) >= N;
    },
    `${N} messages stored`,
    { timeoutMs: Number.POSITIVE_INFINITY, intervalMs: 100 },
  );
  const seconds = (performance.now() - started) / 1000;
  const cpuSeconds = (await Promise.all(ports.map((p) => metric(p, 'process_cpu_seconds_total')))).reduce(
    (a, b) => a + b,
    0,
  );
  const objects = await tearDown(procs, bucket, ids, database);
  return {
    rate: N / seconds,
    cpuSeconds,
    rssBytes: rss,
    putsPerThousand: (objects / N) * 1000,
    // Of what the two stored: whatever else is published on iot/+/… meanwhile (other test files on
    // the same broker) reaches this group too, so the total can pass N.
    shares: stored.map((s) => s / stored.reduce((a, b) => a + b, 0)),
  };
}

/**
 * Publish-to-queryable latency: one collector takes `N` v1 messages published live at `perSecond`,
 * each stamped with its publish time; InfluxDB is polled every 20 ms for the newest point, and a
 * message counts as queryable at the first poll that reaches its time.
 */
async function latencyAtRate(perSecond: number): Promise<{ p50: number; p99: number }> {
  const database = await createTestDatabase(stackEnv.DATABASE_URL ?? '');
  const device = `bench-lat-${id}`;
  const clientId = `bench-lat-${id}-0`;
  const bucket = `bench-lat-${id}`;
  const port = 18_610;
  const proc = spawn(process.execPath, [...NODE_ARGS, main], {
    env: {
      ...process.env,
      ...stackEnv,
      ...stackMqttEnv(stackEnv, 'collector'),
      DATABASE_URL: database.url,
      S3_BUCKET: bucket,
      MQTT_SHARE_GROUP: `bl-${id}`,
      MQTT_CLIENT_ID: clientId,
      PORT: String(port),
      LOG_LEVEL: 'warn',
    },
    stdio: 'ignore',
  });
  await waitFor(
    () =>
      fetch(`http://127.0.0.1:${port}/readyz`).then(
        (r) => r.ok,
        () => false,
      ),
    "the collector's /readyz",
    { timeoutMs: 30_000 },
  );
  const config = loadConfig(collectorConfig, stackEnv);
  const query = createInflux(config).getQueryApi(config.INFLUX_ORG);
  const newest = async () => {
    const rows = await query.collectRows<{ _time: string }>(
      `from(bucket: "${config.INFLUX_BUCKET}") |> range(start: -10m) |> filter(fn: (r) => r.device_id == "${device}") |> last()`,
    );
    return rows.length > 0 ? Date.parse(rows[0]?._time ?? '') : 0;
  };
  const sent: number[] = [];
  const latencies: number[] = [];
  let publishing = true;
  let resolved = 0;
  // Until every message published is queryable (as long as that takes: the stream is bounded).
  const poller = waitFor(
    async () => {
      const done = !publishing;
      const seen = await newest();
      const now = Date.now();
      while (resolved < sent.length && (sent[resolved] ?? Number.POSITIVE_INFINITY) <= seen) {
        latencies.push(now - (sent[resolved] ?? now));
        resolved += 1;
      }
      return done && resolved === sent.length;
    },
    'every message queryable',
    { timeoutMs: Number.POSITIVE_INFINITY, intervalMs: 20 },
  );
  const pub = await mqtt.connectAsync(stackEnv.MQTT_URL ?? '', {
    ...asDevices,
    protocolVersion: 5,
    clientId: `bench-latpub-${id}`,
  });
  const perTick = Math.max(1, Math.round(perSecond / 100));
  for (let i = 0; i < N; i += perTick) {
    const tick = Date.now();
    const batch = [];
    for (let k = i; k < Math.min(N, i + perTick); k += 1) {
      const now = Date.now();
      sent.push(now);
      batch.push(
        pub.publishAsync(
          `iot/${device}/telemetry`,
          JSON.stringify({ timestamp: new Date(now).toISOString(), device_id: device, temperature: k % 50 }),
          { qos: 1 },
        ),
      );
    }
    await Promise.all(batch);
    await new Promise((r) => setTimeout(r, Math.max(0, 10 - (Date.now() - tick))));
  }
  publishing = false;
  await poller;
  await pub.endAsync();
  await tearDown([proc], bucket, [clientId], database);
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  return { p50: at(0.5), p99: at(0.99) };
}

/** Stops the collectors and removes what a run left: bucket, sessions, database. Returns the object count. */
async function tearDown(
  procs: readonly ChildProcess[],
  bucket: string,
  clientIds: readonly string[],
  database: TestDatabase,
): Promise<number> {
  for (const proc of procs) proc.kill('SIGTERM');
  await Promise.all(procs.map((proc) => new Promise((r) => proc.once('exit', r))));
  const store = createObjectStore({ ...loadConfig(collectorConfig, stackEnv), S3_BUCKET: bucket });
  const objects = (await store.listObjectsV2(bucket, '', true).toArray()).map((o) => o.name ?? '');
  await store.removeObjects(bucket, objects);
  await store.removeBucket(bucket);
  for (const clientId of clientIds) await endSession(clientId);
  await database.drop();
  return objects.length;
}

/** Fails a phase whose count has not moved for 30 s, instead of waiting for ever. */
function stallGuard(progress: () => number, fail: (err: Error) => void) {
  let last = -1;
  const timer = setInterval(() => {
    const now = progress();
    if (now >= N) clearInterval(timer);
    else if (now === last) {
      clearInterval(timer);
      fail(new Error(`stalled at ${now} of ${N} messages`));
    }
    last = now;
  }, 30_000);
  timer.unref();
}

const phase = (name: string) => process.stderr.write(`bench: ${name}\n`);

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MiB`;
const perSecond = (rate: number) => `${Math.round(rate).toLocaleString('en-US')} msg/s`;

phase('mosquitto_sub ceiling, v1');
results.mosquitto_sub = await ceilingMosquittoSub('v1', v1);
phase('MQTT.js ceiling');
results.mqttjs = await ceilingMqttJs();
phase('InfluxDB ceiling, v1');
results.influx_v1 = await ceilingInflux(`bench-iv1-${id}`, (i) => v1('x', i), 1);
phase('collector, v1');
const collectorV1 = await collectorDrain('v1', 1, v1);
phase('latency at half the v1 rate');
const latency = await latencyAtRate(collectorV1.rate / 2);
phase('mosquitto_sub ceiling, v2');
results.mosquitto_sub_v2 = await ceilingMosquittoSub('v2', v2);
phase('InfluxDB ceiling, v2');
results.influx_v2 = await ceilingInflux(`bench-iv2-${id}`, (i) => v2('x', i), 20);
phase('collector, v2');
const collectorV2 = await collectorDrain('v2', 1, v2);
phase('two collectors, v1');
const twoCollectors = await collectorDrain('v1x2', 2, v1);

const rows = [
  ['mosquitto_sub drain, v1 (ceiling)', perSecond(results.mosquitto_sub), ''],
  ['MQTT.js do-nothing subscriber (ceiling)', perSecond(results.mqttjs), ''],
  ['InfluxDB direct write, v1 points (ceiling)', perSecond(results.influx_v1), ''],
  [
    'collector end to end, v1',
    perSecond(collectorV1.rate),
    `${(collectorV1.rate / results.influx_v1).toFixed(2)}× InfluxDB direct, ${(collectorV1.rate / Math.min(results.influx_v1, results.mosquitto_sub)).toFixed(2)}× the lower ceiling; CPU ${(collectorV1.cpuSeconds / (N / collectorV1.rate)).toFixed(2)} cores; RSS ${mib(collectorV1.rssBytes)}; ${collectorV1.putsPerThousand.toFixed(2)} PUTs/1000 msg`,
  ],
  [
    'publish → queryable latency at half that rate',
    `p50 ${latency.p50} ms`,
    `p99 ${latency.p99} ms (flush interval ${loadConfig(collectorConfig, stackEnv).INGEST_FLUSH_INTERVAL_MS} ms)`,
  ],
  ['mosquitto_sub drain, v2 ×20 (ceiling)', perSecond(results.mosquitto_sub_v2), ''],
  ['InfluxDB direct write, v2 ×20 points (ceiling)', perSecond(results.influx_v2), ''],
  [
    'collector end to end, v2 ×20',
    perSecond(collectorV2.rate),
    `${(collectorV2.rate / results.influx_v2).toFixed(2)}× InfluxDB direct, ${(collectorV2.rate / Math.min(results.influx_v2, results.mosquitto_sub_v2)).toFixed(2)}× the lower ceiling; CPU ${(collectorV2.cpuSeconds / (N / collectorV2.rate)).toFixed(2)} cores; RSS ${mib(collectorV2.rssBytes)}; ${collectorV2.putsPerThousand.toFixed(2)} PUTs/1000 msg`,
  ],
  [
    'two collectors, v1',
    perSecond(twoCollectors.rate),
    `${(twoCollectors.rate / collectorV1.rate).toFixed(2)}× one collector; shares ${twoCollectors.shares.map((s) => `${(s * 100).toFixed(0)}%`).join(' / ')}`,
  ],
];
if (args.json) {
  console.log(JSON.stringify({ messages: N, results, collectorV1, latency, collectorV2, twoCollectors }));
} else {
  console.log(`ingest benchmark, ${N.toLocaleString('en-US')} messages per run (QoS 1 backlog drained)\n`);
  for (const [name, rate, note] of rows) console.log(`${name?.padEnd(48)} ${rate?.padStart(14)}  ${note}`);
}
