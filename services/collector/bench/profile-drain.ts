// npm run profile:ingest [-- --messages N --devices D --v2 --workers W --top K]: one collector drains a
// queued QoS 1 backlog under `node --cpu-prof`; prints its rate, CPU per message and where the main
// thread's CPU went (self time by function), so each optimisation is checked against a profile.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createTestBucket, createTestDatabase, waitFor } from '@iot-meter/common/testing';
import { stackEnvFor } from '../../../scripts/stack/service-env.js';
import { readStackEnv } from '../../../scripts/stack/stack-env.js';
import { collectorMetric, endSession, queueBacklog } from './backlog.js';

const { values: args } = parseArgs({
  options: {
    messages: { type: 'string', default: '100000' },
    devices: { type: 'string', default: '100' },
    v2: { type: 'boolean', default: false },
    workers: { type: 'string' },
    top: { type: 'string', default: '25' },
    'node-args': { type: 'string', default: '' },
    // Without the profiler (its overhead): the rate and CPU per message only.
    plain: { type: 'boolean', default: false },
    // The compiled modules instead of the bundle the image runs: their file names say which stage
    // each sample belongs to (the stage table is all "other" for the bundle).
    unbundled: { type: 'boolean', default: false },
  },
});
const main = fileURLToPath(
  new URL(args.unbundled ? '../dist/main.js' : '../dist/bundle/main.js', import.meta.url),
);
const N = Number(args.messages);
const DEVICES = Number(args.devices);
const PORT = 18_620;
const stackEnv = readStackEnv();
const id = randomBytes(3).toString('hex');
const group = `prof-${id}`;
const clientId = `prof-${id}`;
const T0 = Date.parse('2026-01-01T00:00:00Z');
const deviceOf = (i: number) => `prof-${id}-${String(i % DEVICES).padStart(3, '0')}`;
const payload = (i: number) =>
  args.v2
    ? JSON.stringify({
        v: 2,
        device_id: deviceOf(i),
        ts: new Date(T0 + i * 20).toISOString(),
        seq: Math.floor(i / DEVICES),
        msg_type: 'telemetry',
        measurements: Array.from({ length: 20 }, (_, k) => ({
          ts: new Date(T0 + i * 20 + k).toISOString(),
          type: 'voltage_dc',
          val: 700 + k,
          unit: 'V',
        })),
      })
    : JSON.stringify({
        timestamp: new Date(T0 + i).toISOString(),
        device_id: deviceOf(i),
        temperature: 20 + (i % 100) / 10,
        unit: 'celsius',
      });

await queueBacklog(stackEnv, {
  group,
  clientIds: [clientId],
  devices: Array.from({ length: DEVICES }, (_, d) => deviceOf(d)),
  payload: (_device, i) => payload(i),
  count: N,
  publisherId: `prof-pub-${id}`,
});

const database = await createTestDatabase(stackEnv.DATABASE_URL ?? '');
const bucket = await createTestBucket(stackEnv);
const profiles = await mkdtemp(join(tmpdir(), 'collector-profile-'));
const env = stackEnvFor(stackEnv, 'COLLECTOR');
const started = performance.now();
const child = spawn(
  process.execPath,
  [
    '--max-old-space-size=192',
    ...args['node-args'].split(' ').filter(Boolean),
    ...(args.plain ? [] : ['--cpu-prof', `--cpu-prof-dir=${profiles}`]),
    main,
  ],
  {
    env: {
      ...process.env,
      ...env,
      DATABASE_URL: database.urlAs(env.DATABASE_URL ?? ''),
      S3_BUCKET: bucket.name,
      ...bucket.credentials.collector,
      MQTT_SHARE_GROUP: group,
      MQTT_CLIENT_ID: clientId,
      PORT: String(PORT),
      LOG_LEVEL: 'warn',
      ...(args.workers === undefined ? {} : { INGEST_WORKERS: args.workers }),
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  },
);
const metric = (name: string) => collectorMetric(PORT, name);
let rss = 0;
let heap = 0;
let external = 0;
if (process.env.PROFILE_SNAPSHOT_AT) {
  // A heap snapshot once this many messages are stored (needs --node-args=--heapsnapshot-signal=SIGUSR2).
  const at = Number(process.env.PROFILE_SNAPSHOT_AT);
  void waitFor(
    async () => (await metric('iot_collector_messages_stored_total').catch(() => 0)) >= at,
    'snapshot point',
    { timeoutMs: 600_000, intervalMs: 200 },
  ).then(() => child.kill('SIGUSR2'));
}
await waitFor(
  async () => {
    const stored = await metric('iot_collector_messages_stored_total').catch(() => 0);
    rss = Math.max(rss, await metric('process_resident_memory_bytes').catch(() => 0));
    heap = Math.max(heap, await metric('nodejs_heap_size_total_bytes').catch(() => 0));
    external = Math.max(external, await metric('nodejs_external_memory_bytes').catch(() => 0));
    return stored >= N;
  },
  `${N} messages stored`,
  // Seldom: a scrape costs the collector CPU too.
  { timeoutMs: 600_000, intervalMs: 500 },
);
const seconds = (performance.now() - started) / 1000;
const cpuSeconds = await metric('process_cpu_seconds_total');
child.kill('SIGTERM');
await new Promise((r) => child.once('exit', r));

await endSession(stackEnv, clientId);
await bucket.drop();
await database.drop();

if (args.plain) {
  console.log(
    `${N} ${args.v2 ? 'v2 ×20' : 'v1'} messages from ${DEVICES} devices: ${Math.round(N / seconds)} msg/s, ` +
      `${((cpuSeconds / N) * 1e6).toFixed(1)} µs CPU/msg (process), RSS ${(rss / 2 ** 20).toFixed(0)} MiB ` +
      `(at most ${(heap / 2 ** 20).toFixed(0)} MiB of heap, ${(external / 2 ** 20).toFixed(0)} MiB outside it)`,
  );
  await rm(profiles, { recursive: true });
  process.exit(0);
}

type Node = {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
};
type Profile = { nodes: Node[]; samples: number[]; timeDeltas: number[] };
const file = (await readdir(profiles)).find((f) => f.endsWith('.cpuprofile')) ?? '';
const profile = JSON.parse(await readFile(join(profiles, file), 'utf8')) as Profile;
await rm(profiles, { recursive: true });
const byNode = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
const name = (node: Node) => {
  const { functionName, url, lineNumber } = node.callFrame;
  const where = url.replace(/^.*\/node_modules\//, '').replace(/^.*\/services\//, '');
  return `${functionName || '(anonymous)'} ${where}:${lineNumber + 1}`;
};
// Self time says where the CPU is spent; total time (a function and what it calls) says which
// stage of ours spends it.
const self = new Map<string, number>();
const inclusive = new Map<string, number>();
let busy = 0;
profile.samples.forEach((nodeId, i) => {
  const node = byNode.get(nodeId);
  const dt = profile.timeDeltas[i] ?? 0;
  if (!node || node.callFrame.functionName === '(idle)') return;
  busy += dt;
  self.set(name(node), (self.get(name(node)) ?? 0) + dt);
  const seen = new Set<string>();
  for (let at: Node | undefined = node; at; at = byNode.get(parent.get(at.id) ?? -1)) {
    const key = name(at);
    if (seen.has(key) || !at.callFrame.url.includes('/services/')) continue;
    seen.add(key);
    inclusive.set(key, (inclusive.get(key) ?? 0) + dt);
  }
});
// Where each sample's time went, by the innermost frame on its stack that names a stage: what a
// stage calls (Node's buffers, sockets, zlib) counts to it.
const STAGES: [string, RegExp][] = [
  ['module loading and compiling (start-up)', /^node:internal\/(modules|bootstrap)|cjs-module-lexer/],
  ['MQTT: framing, PUBLISH decoding, acknowledgements', /\/mqtt\/|mqtt-packet|\/bl\//],
  ['decoding and validating payloads', /\/protocol\/|\/zod\//],
  ['line protocol and InfluxDB writes', /\/timeseries\/|influxdb-client/],
  ['archive objects and the S3 client', /\/archive\/|\/minio\//],
  ['PostgreSQL (presence, sequences, index)', /\/devices\/|\/kysely\/|\/pg|repository/],
  ['batching (ingest/)', /\/ingest\//],
  ['metrics and HTTP serving', /prom-client|\/ops\/|hono/],
];
const stages = new Map<string, number>();
profile.samples.forEach((nodeId, i) => {
  const node = byNode.get(nodeId);
  const dt = profile.timeDeltas[i] ?? 0;
  if (!node || node.callFrame.functionName === '(idle)') return;
  let stage = node.callFrame.functionName === '(garbage collector)' ? 'garbage collection' : 'other';
  for (let at: Node | undefined = node; at && stage === 'other'; at = byNode.get(parent.get(at.id) ?? -1)) {
    const found = STAGES.find(([, pattern]) => pattern.test(at?.callFrame.url ?? ''));
    if (found) stage = found[0];
  }
  stages.set(stage, (stages.get(stage) ?? 0) + dt);
});
const top = (table: Map<string, number>) =>
  [...table]
    .sort((a, b) => b[1] - a[1])
    .slice(0, Number(args.top))
    .map(
      ([key, us]) =>
        `${(us / N).toFixed(2).padStart(7)} µs/msg ${((us / busy) * 100).toFixed(1).padStart(5)}%  ${key}`,
    )
    .join('\n');
console.log(
  `${N} ${args.v2 ? 'v2 ×20' : 'v1'} messages from ${DEVICES} devices: ${Math.round(N / seconds)} msg/s, ` +
    `${((cpuSeconds / N) * 1e6).toFixed(1)} µs CPU/msg (process), RSS ${(rss / 2 ** 20).toFixed(0)} MiB; ` +
    `main thread busy ${(busy / 1e6).toFixed(2)} s = ${(busy / N).toFixed(1)} µs/msg`,
);
const byStage = [...stages]
  .sort((a, b) => b[1] - a[1])
  .map(
    ([stage, us]) =>
      `${(us / N).toFixed(2).padStart(7)} µs/msg ${((us / busy) * 100).toFixed(1).padStart(5)}%  ${stage}`,
  )
  .join('\n');
console.log(`\nby stage\n${byStage}\n\nself time\n${top(self)}\n\ntotal time, our code\n${top(inclusive)}`);
