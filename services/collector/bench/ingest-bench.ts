// npm run bench:ingest [-- --messages N --json --telegraf-sweep]: ingest throughput on the local
// stack, each figure measured in the same run so the ratios compare like with like. Consumers drain
// a backlog that was queued in their persistent session first, so the publisher's speed does not
// limit them. Telegraf, configured as the collector is, drains the same v1 backlog as a reference.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { createInflux, createObjectStore, influxEnv, loadConfig } from '@iot-meter/common';
import {
  createTestDatabase,
  createTestInfluxBucket,
  stackMqttLogin,
  type TestDatabase,
  type TestInfluxBucket,
  waitFor,
} from '@iot-meter/common/testing';
import mqtt from 'mqtt';
import { stackEnvFor } from '../../../scripts/stack/service-env.js';
import { readStackEnv } from '../../../scripts/stack/stack-env.js';
import { collectorConfig } from '../src/config.js';
import { createInfluxWriter } from '../src/timeseries/influx-writer.js';
import { toLineProtocol } from '../src/timeseries/line-protocol.js';
import { collectorMetric, endSession as endSessionOn, queueBacklog as queueBacklogOn } from './backlog.js';
import { assertSamePoints } from './points-check.js';
import { readProcessUsage } from './process-usage.js';
import { startTelegraf, type TelegrafSettings, telegrafConfig } from './telegraf-contender.js';

const run = promisify(execFile);
const main = fileURLToPath(new URL('../dist/bundle/main.js', import.meta.url));
// The heap cap the collector's start script uses: V8 grows its heap lazily far past the live set.
const NODE_ARGS = ['--max-old-space-size=192'];
const { values: args } = parseArgs({
  options: {
    messages: { type: 'string', default: '200000' },
    json: { type: 'boolean', default: false },
    'telegraf-sweep': { type: 'boolean', default: false },
  },
});
const N = Number(args.messages);
const stackEnv = readStackEnv();
// Sessions in the collectors' share groups under their account, devices' messages from the test client.
const asCollector = stackMqttLogin(stackEnv, 'collector');
const asDevices = stackMqttLogin(stackEnv);
const id = randomBytes(3).toString('hex');
const T0 = Date.parse('2026-01-01T00:00:00Z');
// Every point a run writes: v1 messages 1 ms apart, v2 measurements 1 ms apart.
const POINTS_RANGE = { start: new Date(T0).toISOString(), stop: new Date(T0 + 20 * N + 1000).toISOString() };
// The collectors' and Telegraf's v1 backlogs come from this many devices, round-robin.
const V1_DEVICES = 100;
const results: Record<string, number> = {};
// The bench's own writes and queries run as the stores' admin; the collectors as themselves.
const adminConfig = loadConfig(collectorConfig, stackEnv);
const influxQuery = createInflux(adminConfig).getQueryApi(adminConfig.INFLUX_ORG);

/** A run's devices, `bench-<label>-<id>-000` on, all starting with `bench-<label>-<id>-`. */
const fleet = (label: string, count: number) =>
  Array.from({ length: count }, (_, d) => `bench-${label}-${id}-${String(d).padStart(3, '0')}`);
const v1Devices = fleet('v1', V1_DEVICES);

const v1 = (device: string, i: number) =>
  JSON.stringify({
    timestamp: new Date(T0 + i).toISOString(),
    device_id: device,
    temperature: 20 + (i % 100) / 10,
    unit: 'celsius',
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

function queueBacklog(
  group: string,
  clientIds: readonly string[],
  devices: readonly string[],
  payload: (device: string, i: number) => string,
) {
  return queueBacklogOn(stackEnv, {
    group,
    clientIds,
    devices,
    payload,
    count: N,
    publisherId: `bench-pub-${id}`,
  });
}

const endSession = (clientId: string) => endSessionOn(stackEnv, clientId);

async function ceilingMosquittoSub(label: string, payload: typeof v1): Promise<number> {
  const clientId = `bench-msub-${label}-${id}`;
  await queueBacklog(`bm-${id}`, [clientId], [`bm-${id}`], payload);
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
  await queueBacklog(`bj-${id}`, [clientId], [`bj-${id}`], v1);
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
  const writer = createInfluxWriter(
    {
      url: adminConfig.INFLUX_URL,
      token: adminConfig.INFLUX_TOKEN,
      org: adminConfig.INFLUX_ORG,
      bucket: adminConfig.INFLUX_BUCKET,
    },
    { timeoutMs: 60_000, gzipLevel: adminConfig.INGEST_GZIP_LEVEL },
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
            unit: body.unit,
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

type DrainRun = {
  rate: number;
  cpuSeconds: number;
  cpuMicrosPerMessage: number;
  rssBytes: number;
  firstPointSeconds: number;
};

type CollectorRun = DrainRun & { putsPerThousand: number; shares: number[]; influxBucket: string };

// Each collector run writes to a fresh bucket of its own, as each Telegraf run does, so that asking
// for the first point costs the same for every contender; dropped when the benchmark ends.
const influxBuckets: TestInfluxBucket[] = [];

/**
 * Times a contender's drain of `N` messages from `startedAt` (its spawn) until `progress` reaches N,
 * asked every 100 ms for every contender alike. CPU time and peak RSS are its processes' own, read
 * from /proc at that moment; the first point is polled for meanwhile.
 */
async function measureDrain(
  startedAt: number,
  pids: readonly (number | undefined)[],
  progress: () => Promise<number>,
  points: { bucket: string; devicePrefix: string },
): Promise<DrainRun> {
  let done = 0;
  let failure: Error | undefined;
  stallGuard(
    () => done,
    (err) => {
      failure = err;
    },
  );
  const firstPoint = firstPointAfter(startedAt, points, () => failure);
  // No deadline: the stall guard ends a phase that stops moving.
  await waitFor(
    async () => {
      if (failure) throw failure;
      done = await progress();
      return done >= N;
    },
    `${N} messages stored`,
    { timeoutMs: Number.POSITIVE_INFINITY, intervalMs: 100 },
  );
  const seconds = (performance.now() - startedAt) / 1000;
  const usage = pids.map(readProcessUsage);
  const cpuSeconds = usage.reduce((sum, u) => sum + u.cpuSeconds, 0);
  return {
    rate: N / seconds,
    cpuSeconds,
    cpuMicrosPerMessage: (cpuSeconds / N) * 1e6,
    // The largest process's: each replica has a heap cap of its own.
    rssBytes: Math.max(...usage.map((u) => u.peakRssBytes)),
    firstPointSeconds: await firstPoint,
  };
}

/**
 * Seconds from `startedAt` until InfluxDB answers with a point of a device whose id starts with
 * `devicePrefix`, asked every 20 ms: the time of the answer that first holds one.
 */
async function firstPointAfter(
  startedAt: number,
  { bucket, devicePrefix }: { bucket: string; devicePrefix: string },
  failure: () => Error | undefined,
): Promise<number> {
  let seconds = 0;
  await waitFor(
    async () => {
      const err = failure();
      if (err) throw err;
      const rows = await influxQuery.collectRows(
        `from(bucket: "${bucket}") |> range(start: ${POINTS_RANGE.start}, stop: ${POINTS_RANGE.stop}) |> filter(fn: (r) => r.device_id =~ /^${devicePrefix}/) |> limit(n: 1)`,
      );
      seconds = (performance.now() - startedAt) / 1000;
      return rows.length > 0;
    },
    `a point of ${devicePrefix}* in ${bucket}`,
    { timeoutMs: Number.POSITIVE_INFINITY, intervalMs: 20 },
  );
  return seconds;
}

/**
 * A compiled collector as its own process, with its own accounts at the broker and in the stores
 * (the chart's rights, docs/security.md), on the run's database.
 */
function spawnCollector(
  database: TestDatabase,
  group: string,
  clientId: string,
  port: number,
  env: Record<string, string> = {},
): ChildProcess {
  return spawn(process.execPath, [...NODE_ARGS, main], {
    env: {
      ...process.env,
      ...stackEnvFor(stackEnv, 'COLLECTOR'),
      DATABASE_URL: database.urlAs(stackEnv.COLLECTOR_DATABASE_URL ?? ''),
      MQTT_SHARE_GROUP: group,
      MQTT_CLIENT_ID: clientId,
      PORT: String(port),
      LOG_LEVEL: 'warn',
      ...env,
    },
    stdio: 'ignore',
  });
}

/** Collectors draining a backlog of `N` messages from `devices` into both stores. */
async function collectorDrain(
  label: string,
  replicas: number,
  devices: readonly string[],
  payload: (device: string, i: number) => string,
  env: Record<string, string> = {},
): Promise<CollectorRun> {
  const database = await createTestDatabase(stackEnv.DATABASE_URL ?? '');
  const influxBucket = await createTestInfluxBucket(loadConfig(influxEnv, stackEnv), `bench-${label}`);
  influxBuckets.push(influxBucket);
  const group = `bc-${label}-${id}`;
  const ids = Array.from({ length: replicas }, (_, r) => `bench-${label}-${id}-${r}`);
  await queueBacklog(group, ids, devices, payload);
  const started = performance.now();
  const procs = ids.map((clientId, r) =>
    spawnCollector(database, group, clientId, 18_600 + r, {
      INFLUX_BUCKET: influxBucket.name,
      INFLUX_TOKEN: influxBucket.writeToken,
      ...env,
    }),
  );
  const ports = ids.map((_, r) => 18_600 + r);
  let stored: number[] = ports.map(() => 0);
  const run = await measureDrain(
    started,
    procs.map((p) => p.pid),
    async () => {
      stored = await Promise.all(
        ports.map((p) => collectorMetric(p, 'iot_collector_messages_stored_total').catch(() => 0)),
      );
      return stored.reduce((a, b) => a + b, 0);
    },
    { bucket: influxBucket.name, devicePrefix: `bench-${label}-${id}-` },
  );
  const objects = await tearDown(procs, ids, database);
  return {
    ...run,
    influxBucket: influxBucket.name,
    putsPerThousand: (objects / N) * 1000,
    // Of what the two stored: whatever else is published on iot/+/… meanwhile (other test files on
    // the same broker) reaches this group too, so the total can pass N.
    shares: stored.map((s) => s / stored.reduce((a, b) => a + b, 0)),
  };
}

/**
 * Telegraf draining the collectors' v1 backlog (the same devices and messages) into a bucket of its
 * own, which the caller drops.
 */
async function telegrafDrain(
  label: string,
  settings: TelegrafSettings,
): Promise<{ run: DrainRun; bucket: TestInfluxBucket }> {
  const bin = stackEnv.TELEGRAF_BIN ?? '';
  if (!existsSync(bin)) throw new Error(`no Telegraf at '${bin}': run 'bash scripts/stack/stack.sh up'`);
  const bucket = await createTestInfluxBucket(loadConfig(influxEnv, stackEnv), `bench-telegraf-${label}`);
  const clientId = `bench-telegraf-${label}-${id}`;
  const shareGroup = `bt-${label}-${id}`;
  await queueBacklog(shareGroup, [clientId], v1Devices, v1);
  const target = {
    mqttUrl: stackEnv.MQTT_URL ?? '',
    username: asCollector.username,
    shareGroup,
    clientId,
    influxUrl: adminConfig.INFLUX_URL,
    org: adminConfig.INFLUX_ORG,
    bucket: bucket.name,
  };
  const telegraf = await startTelegraf(bin, telegrafConfig(target, settings), {
    MQTT_PASSWORD: asCollector.password,
    INFLUX_TOKEN: bucket.writeToken,
  });
  try {
    const run = await measureDrain(
      telegraf.startedAt,
      [telegraf.pid],
      async () => {
        telegraf.assertRunning();
        return telegraf.written();
      },
      { bucket: bucket.name, devicePrefix: `bench-v1-${id}-` },
    );
    return { run, bucket };
  } finally {
    await telegraf.stop();
    await endSession(clientId);
  }
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
  const port = 18_610;
  const proc = spawnCollector(database, `bl-${id}`, clientId, port);
  await waitFor(
    () =>
      fetch(`http://127.0.0.1:${port}/readyz`).then(
        (r) => r.ok,
        () => false,
      ),
    "the collector's /readyz",
    { timeoutMs: 30_000 },
  );
  const newest = async () => {
    const rows = await influxQuery.collectRows<{ _time: string }>(
      `from(bucket: "${adminConfig.INFLUX_BUCKET}") |> range(start: -10m) |> filter(fn: (r) => r.device_id == "${device}") |> last()`,
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
          JSON.stringify({
            timestamp: new Date(now).toISOString(),
            device_id: device,
            temperature: k % 50,
            unit: 'celsius',
          }),
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
  await tearDown([proc], [clientId], database);
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  return { p50: at(0.5), p99: at(0.99) };
}

/**
 * Stops the collectors and removes what a run left: its archive objects, sessions, database.
 * Returns the object count.
 */
async function tearDown(
  procs: readonly ChildProcess[],
  clientIds: readonly string[],
  database: TestDatabase,
): Promise<number> {
  for (const proc of procs) proc.kill('SIGTERM');
  await Promise.all(procs.map((proc) => new Promise((r) => proc.once('exit', r))));
  // The stack's archive bucket, where the collectors' own account may write: their objects' keys
  // hold their client ids (raw/<hour>/<client id>/<batch>.records).
  const bucket = adminConfig.S3_BUCKET;
  const store = createObjectStore(adminConfig);
  const objects = (await store.listObjectsV2(bucket, '', true).toArray())
    .map((o) => o.name ?? '')
    .filter((name) => clientIds.some((clientId) => name.includes(`/${clientId}/`)));
  await store.removeObjects(bucket, objects);
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
const cores = (run: DrainRun) => `CPU ${(run.cpuSeconds / (N / run.rate)).toFixed(2)} cores`;
const usage = (run: DrainRun) =>
  `${run.cpuMicrosPerMessage.toFixed(1)} µs CPU/msg; peak RSS ${mib(run.rssBytes)}; first point after start ${run.firstPointSeconds.toFixed(2)} s`;

/** Telegraf as configured for the comparison, and the same with its messages acknowledged once written. */
const TELEGRAF: TelegrafSettings = {
  metricTag: 'unpivot',
  metricBatchSize: 5000,
  maxUndelivered: 5000,
  concurrentWrites: 1,
};
const TELEGRAF_TRACKED: TelegrafSettings = { ...TELEGRAF, metricTag: 'constant' };
// Both again, under the same later conditions (InfluxDB compacting the v2 runs' points), then the
// tracked one with other settings. Mosquitto lets an MQTT 3.1.1 client such as Telegraf's hold at
// most max_inflight_messages (1000, as the chart sets it) unacknowledged, so the tracked Telegraf
// never fills a 5,000-metric batch and writes on the 200 ms flush alone, whatever
// max_undelivered_messages allows: the last run's batches fit that window.
const TELEGRAF_SWEEP: TelegrafSettings[] = [
  TELEGRAF,
  TELEGRAF_TRACKED,
  { ...TELEGRAF_TRACKED, maxUndelivered: 1000 },
  { ...TELEGRAF_TRACKED, maxUndelivered: 20_000 },
  { ...TELEGRAF_TRACKED, concurrentWrites: 2 },
  { ...TELEGRAF_TRACKED, concurrentWrites: 4 },
  { ...TELEGRAF_TRACKED, metricBatchSize: 1000 },
];
const settingsOf = (s: TelegrafSettings) =>
  `${s.metricTag === 'unpivot' ? 'unpivot, acks before writing' : 'acks after writing'}, metric_batch_size ${s.metricBatchSize}, max_undelivered ${s.maxUndelivered}, concurrent_writes ${s.concurrentWrites}`;

/** Telegraf drains the collector's v1 backlog; the benchmark fails unless its points are the collector's. */
async function telegrafChecked(label: string, settings: TelegrafSettings) {
  const { run, bucket } = await telegrafDrain(label, settings);
  phase(`Telegraf's points against the collector's (${settingsOf(settings)})`);
  let pointsChecked: number;
  try {
    pointsChecked = await assertSamePoints(influxQuery, collectorV1.influxBucket, bucket.name, {
      devicePrefix: `bench-v1-${id}-`,
      ...POINTS_RANGE,
      sampleDevices: [0, V1_DEVICES / 2, V1_DEVICES - 1].map((d) => v1Devices[d] ?? ''),
    });
  } finally {
    await bucket.drop();
  }
  if (pointsChecked !== N)
    throw new Error(`Telegraf's and the collector's buckets hold ${pointsChecked} points, not ${N}`);
  return { ...run, pointsChecked };
}

phase('mosquitto_sub ceiling, v1');
results.mosquitto_sub = await ceilingMosquittoSub('v1', v1);
phase('MQTT.js ceiling');
results.mqttjs = await ceilingMqttJs();
phase('InfluxDB ceiling, v1');
results.influx_v1 = await ceilingInflux(`bench-iv1-${id}`, (i) => v1('x', i), 1);
phase('collector, v1');
const collectorV1 = await collectorDrain('v1', 1, v1Devices, v1);
const collectorV1Workers: CollectorRun[] = [];
for (const workers of [1, 2]) {
  phase(`collector, v1, ${workers} decode worker thread${workers === 1 ? '' : 's'}`);
  collectorV1Workers.push(
    await collectorDrain(`v1w${workers}`, 1, fleet(`v1w${workers}`, V1_DEVICES), v1, {
      INGEST_WORKERS: String(workers),
    }),
  );
}
phase('Telegraf, v1');
const telegraf = await telegrafChecked('v1', TELEGRAF);
phase('Telegraf acknowledging after writing, v1');
const telegrafTracked = await telegrafChecked('v1t', TELEGRAF_TRACKED);
phase('latency at half the v1 rate');
const latency = await latencyAtRate(collectorV1.rate / 2);
phase('mosquitto_sub ceiling, v2');
results.mosquitto_sub_v2 = await ceilingMosquittoSub('v2', v2);
phase('InfluxDB ceiling, v2');
results.influx_v2 = await ceilingInflux(`bench-iv2-${id}`, (i) => v2('x', i), 20);
phase('collector, v2');
const collectorV2 = await collectorDrain('v2', 1, fleet('v2', 1), v2);
phase('two collectors, v1');
const twoCollectors = await collectorDrain('v1x2', 2, fleet('v1x2', V1_DEVICES), v1);
const telegrafSweep: (TelegrafSettings & DrainRun)[] = [];
if (args['telegraf-sweep']) {
  for (const [i, settings] of TELEGRAF_SWEEP.entries()) {
    phase(`Telegraf sweep, ${settingsOf(settings)}`);
    const { run, bucket } = await telegrafDrain(`s${i}`, settings);
    await bucket.drop();
    telegrafSweep.push({ ...settings, ...run });
  }
}

const rows = [
  ['mosquitto_sub drain, v1 (ceiling)', perSecond(results.mosquitto_sub), ''],
  ['MQTT.js do-nothing subscriber (ceiling)', perSecond(results.mqttjs), ''],
  ['InfluxDB direct write, v1 points (ceiling)', perSecond(results.influx_v1), ''],
  ...[telegraf, telegrafTracked].map((run) => [
    run === telegraf ? 'Telegraf, v1 (reference; acks before writing)' : 'Telegraf acking after writing, v1',
    perSecond(run.rate),
    `${cores(run)}; ${usage(run)}; its ${run.pointsChecked.toLocaleString('en-US')} points equal the collector's`,
  ]),
  [
    `collector end to end, v1 (${V1_DEVICES} devices)`,
    perSecond(collectorV1.rate),
    `${(collectorV1.rate / telegraf.rate).toFixed(2)}× Telegraf, ${(collectorV1.rate / telegrafTracked.rate).toFixed(2)}× Telegraf acking after writing, ${(collectorV1.rate / results.influx_v1).toFixed(2)}× InfluxDB direct, ${(collectorV1.rate / Math.min(results.influx_v1, results.mosquitto_sub)).toFixed(2)}× the lower ceiling; ${cores(collectorV1)}; ${usage(collectorV1)}; ${collectorV1.putsPerThousand.toFixed(2)} PUTs/1000 msg`,
  ],
  ...collectorV1Workers.map((run, i) => [
    `collector, v1, INGEST_WORKERS=${i + 1}`,
    perSecond(run.rate),
    `${(run.rate / collectorV1.rate).toFixed(2)}× without workers; ${cores(run)}; ${usage(run)}`,
  ]),
  [
    'publish → queryable latency at half that rate',
    `p50 ${latency.p50} ms`,
    `p99 ${latency.p99} ms (flush interval ${adminConfig.INGEST_FLUSH_INTERVAL_MS} ms)`,
  ],
  ['mosquitto_sub drain, v2 ×20 (ceiling)', perSecond(results.mosquitto_sub_v2), ''],
  ['InfluxDB direct write, v2 ×20 points (ceiling)', perSecond(results.influx_v2), ''],
  [
    'collector end to end, v2 ×20',
    perSecond(collectorV2.rate),
    `${(collectorV2.rate / results.influx_v2).toFixed(2)}× InfluxDB direct, ${(collectorV2.rate / Math.min(results.influx_v2, results.mosquitto_sub_v2)).toFixed(2)}× the lower ceiling; ${cores(collectorV2)}; ${usage(collectorV2)}; ${collectorV2.putsPerThousand.toFixed(2)} PUTs/1000 msg`,
  ],
  [
    'two collectors, v1',
    perSecond(twoCollectors.rate),
    `${(twoCollectors.rate / collectorV1.rate).toFixed(2)}× one collector; shares ${twoCollectors.shares.map((s) => `${(s * 100).toFixed(0)}%`).join(' / ')}; ${cores(twoCollectors)}; ${usage(twoCollectors)}`,
  ],
  ...telegrafSweep.map((run) => [
    `Telegraf sweep: ${settingsOf(run)}`,
    perSecond(run.rate),
    `collector ${(collectorV1.rate / run.rate).toFixed(2)}× this; ${cores(run)}; ${usage(run)}`,
  ]),
];
for (const bucket of influxBuckets) await bucket.drop();

if (args.json) {
  console.log(
    JSON.stringify({
      messages: N,
      results,
      collectorV1,
      collectorV1Workers,
      telegraf,
      telegrafTracked,
      latency,
      collectorV2,
      twoCollectors,
      telegrafSweep,
    }),
  );
} else {
  console.log(`ingest benchmark, ${N.toLocaleString('en-US')} messages per run (QoS 1 backlog drained)\n`);
  for (const [name, rate, note] of rows) console.log(`${name?.padEnd(48)} ${rate?.padStart(14)}  ${note}`);
}
