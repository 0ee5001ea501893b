// npm run soak:delivery [-- --runs N | --minutes N] [--seed S] [--broker VERSION] [--json]
//
// The delivery guarantee under repetition, on a private stack of the real servers. Every message
// the broker acknowledges to a publisher is written in a ledger; at the end of a run each must have
// exactly one point in InfluxDB and a record in the raw archive.
//
// --runs N (default 30): N kill runs, each with the conditions of the loss seen once in an
//   independent check: the collector's persistent session holds the subscriptions of stale share
//   groups and a deep backlog queued while it was away, 12 devices publish the v1 format, and the
//   collector is SIGKILLed while draining and restarted with the same client id. Backlog depth,
//   stale groups, kill timing, batch sizes and the unacknowledged window vary from run to run.
// --minutes N: one run of N minutes with random faults (collector SIGKILL and SIGTERM, broker
//   restart, InfluxDB, MinIO or PostgreSQL stopped and started) under two collectors, after the
//   kill runs if --runs is given too.
// --max-unacked N: the collector window of every kill run (else it varies).
// --broker VERSION: a Debian release of Mosquitto other than the installed one (fetched into the
//   stack's cache), e.g. 2.0.11-1.2+deb12u2, bookworm's own.
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { InfluxDB } from '@influxdata/influxdb-client';
import { createRandom, DEVICE_TOPIC_FILTERS, type Random } from '@iot-meter/common';
import { stackMqttLogin, waitFor } from '@iot-meter/common/testing';
import mqtt, { type MqttClient } from 'mqtt';
import { PrivateStack } from '../../../scripts/stack/private-stack.js';
import { saveSessionFilters } from '../src/mqtt/session-filters.repository.js';
import { CollectorHarness } from '../test/collector-harness.js';
import { CollectorProcess } from '../test/collector-process.js';
import { DeliveryLedger, type DeliveryVerdict } from '../test/delivery-ledger.js';
import { publishStream, seqOf, telemetry, v1Telemetry } from '../test/device-stream.js';

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string' },
    minutes: { type: 'string' },
    seed: { type: 'string', default: randomBytes(4).toString('hex') },
    broker: { type: 'string' },
    // Times (1 + stale groups, at most 3) it stays below the stack's max_queued_messages (1,000,000).
    'backlog-max': { type: 'string', default: '200000' },
    devices: { type: 'string', default: '12' },
    messages: { type: 'string', default: '500' },
    rate: { type: 'string', default: '400' },
    'fault-every': { type: 'string', default: '12' },
    'port-offset': { type: 'string', default: '900' },
    // Every kill run with this INGEST_MAX_UNACKED (65535, the whole packet id space, makes a broker
    // that ignores Receive Maximum reuse ids).
    'max-unacked': { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});
const BACKLOG_MAX = Number(args['backlog-max']);
const DEVICES = Number(args.devices);
const MESSAGES = Number(args.messages);
const random = createRandom(args.seed);
const pick = <T>(r: Random, options: readonly T[]): T => options[Math.floor(r.next() * options.length)] as T;
const between = (r: Random, min: number, max: number) => min + r.next() * (max - min);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const log = (line: string) => (args.json ? process.stderr : process.stdout).write(`${line}\n`);
const COLLECTOR_PORT = 18_600 + Number(args['port-offset']) / 10;

/**
 * A kill landed mid-stream when its process had received messages and either held some it had not
 * acknowledged yet or the devices were still publishing.
 */
type Kill = {
  signal: 'SIGKILL' | 'SIGTERM';
  atMs: number;
  receivedBefore: number;
  unacknowledgedBefore: number;
  acknowledgedBefore: number;
  midStream: boolean;
};
type Fault = { kind: string; atMs: number; landed: boolean; detail: string };
type RunReport = {
  run: number;
  settings: Record<string, number | string>;
  verdict: DeliveryVerdict;
  faults: (Kill | Fault)[];
  brokerDropped: number;
  packetIdReuse: number;
  /** PUBACKs 0x10 "No matching subscribers" (after a broker restart, before the collectors subscribe again); resent. */
  unrouted: number;
  seconds: number;
};

const brokerBin = args.broker
  ? execFileSync(
      'bash',
      [
        fileURLToPath(new URL('../../../scripts/stack/stack.sh', import.meta.url)),
        'mosquitto-release',
        args.broker,
      ],
      { encoding: 'utf8' },
    ).trim()
  : undefined;
const stack = new PrivateStack(Number(args['port-offset']), {
  ...(brokerBin ? { IOT_STACK_MOSQUITTO_BIN: brokerBin } : {}),
});
// The whole stack: `up` also makes the services' own store accounts the collectors run with.
stack.up();
const harness = new CollectorHarness(stack.env);
await harness.prepare();
// Reading back a run's points can take long on a machine the run keeps busy.
// (With the stack's operator token: the collector's own may only write.)
const influx = new InfluxDB({
  url: harness.config.INFLUX_URL,
  token: stack.env.INFLUX_TOKEN ?? '',
  timeout: 120_000,
});
const brokerVersion = await readBrokerVersion();
log(`delivery soak: seed ${args.seed}, Mosquitto ${brokerVersion}, stack ${stack.dir}`);

const reports: RunReport[] = [];
// Every collector started, so none outlives a soak that fails half-way.
const started: CollectorProcess[] = [];
const collectorProcess = (env: Record<string, string>, port: number) => {
  const process = new CollectorProcess(env, port);
  started.push(process);
  return process;
};
// Ctrl-C (or a SIGTERM) still stops the collectors and the private stack.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, async () => {
    await Promise.all(started.map((c) => c.stop('SIGKILL')));
    stack.destroy();
    process.exit(130);
  });
}
try {
  const runs = Number(args.runs ?? (args.minutes ? 0 : 30));
  for (let run = 1; run <= runs; run += 1) reports.push(await killRun(run));
  if (args.minutes) reports.push(await faultRun(runs + 1, Number(args.minutes) * 60_000));
} finally {
  await Promise.all(started.map((c) => c.stop('SIGKILL')));
  await harness.dispose().catch(() => undefined);
  stack.destroy();
}

const failed = reports.filter((r) => !r.verdict.ok);
const summary = {
  seed: args.seed,
  broker: brokerVersion,
  runs: reports.length,
  failed: failed.length,
  acknowledged: reports.reduce((n, r) => n + r.verdict.acknowledged, 0),
  missing: reports.reduce((n, r) => n + r.verdict.missing.reduce((m, d) => m + d.seqs.length, 0), 0),
  brokerDropped: reports.reduce((n, r) => n + r.brokerDropped, 0),
  packetIdReuse: reports.reduce((n, r) => n + r.packetIdReuse, 0),
  unrouted: reports.reduce((n, r) => n + r.unrouted, 0),
};
log(
  `${summary.runs - summary.failed} of ${summary.runs} runs lost nothing: ${summary.acknowledged} messages ` +
    `acknowledged, ${summary.missing} missing; broker drops ${summary.brokerDropped}, packet id reuse ${summary.packetIdReuse}, ` +
    `unrouted and resent ${summary.unrouted}`,
);
if (args.json) console.log(JSON.stringify({ ...summary, reports }));
process.exit(failed.length === 0 ? 0 : 1);

/** One kill run under the conditions of the loss seen once: stale groups, a deep backlog, SIGKILL. */
async function killRun(run: number): Promise<RunReport> {
  const started = Date.now();
  const prefix = `r${run}-${args.seed}`;
  const settings = {
    backlog: Math.round(BACKLOG_MAX * pick(random, [0, 0.05, 0.2, 0.5, 1])),
    staleGroups: pick(random, [0, 1, 2, 2, 3]),
    kills: pick(random, [1, 2, 2, 3]),
    batch: pick(random, [200, 1000, 5000]),
    flushMs: pick(random, [50, 200, 500]),
    maxUnacked: args['max-unacked'] ? Number(args['max-unacked']) : pick(random, [1000, 20_000, 65_535]),
    concurrentBatches: pick(random, [1, 2, 4]),
  };
  const clientId = `soak-${prefix}`;
  const group = `soak-${prefix}`;
  const ledger = new DeliveryLedger();
  let unrouted = 0;
  log(`run ${run}: ${describe(settings)}`);
  const broker = await watchBroker();

  // The session as an earlier configuration left it, then a backlog queued while it is away.
  const stale = Array.from({ length: settings.staleGroups }, (_, k) => `${group}-stale-${k}`);
  await holdSession(clientId, [group, ...stale]);
  await publishBacklog(prefix, settings.backlog, ledger);

  const collector = collectorProcess(
    harness.env({
      MQTT_CLIENT_ID: clientId,
      MQTT_SHARE_GROUP: group,
      INGEST_BATCH_MAX_MESSAGES: String(settings.batch),
      INGEST_FLUSH_INTERVAL_MS: String(settings.flushMs),
      INGEST_MAX_UNACKED: String(settings.maxUnacked),
      INGEST_MAX_CONCURRENT_BATCHES: String(settings.concurrentBatches),
    }),
    COLLECTOR_PORT,
  );
  await collector.start();
  let reuse = 0;
  // Half the devices are mosquitto_pub (MQTT 3.1.1, as in the check that saw the loss), half MQTT.js (MQTT 5).
  const publishers = await Promise.all(
    Array.from({ length: DEVICES / 2 }, (_, i) => device(`${prefix}-d${i}`)),
  );
  const streams = [
    ...publishers.map(async ({ client, deviceId }) => {
      await sleep(between(random, 0, 3000));
      await publishStream(client, deviceId, MESSAGES, pick(random, [200, 500, 2000]), {
        format: 'v1',
        onAck: (seq) => ledger.ack(deviceId, seq),
        resendUnrouted: true,
        onUnrouted: () => {
          unrouted += 1;
        },
      });
    }),
    ...Array.from({ length: DEVICES - DEVICES / 2 }, async (_, i) => {
      const deviceId = `${prefix}-m${i}`;
      await sleep(between(random, 0, 3000));
      await mosquittoPub(deviceId, MESSAGES, pick(random, [200, 500, 2000]), (seq) =>
        ledger.ack(deviceId, seq),
      );
    }),
  ];

  // Each kill lands at a random point of the devices' publishing (once the broker has acknowledged
  // that share of their messages), while the collector drains the backlog and takes the stream.
  const killAt = Array.from({ length: settings.kills }, () => between(random, 0.05, 0.95)).sort(
    (a, b) => a - b,
  );
  const kills: Kill[] = [];
  for (const share of killAt) {
    // A share not reached in five minutes still gets its kill: the verdict judges it after the stream.
    await waitFor(
      () => ledger.acknowledged >= settings.backlog + share * DEVICES * MESSAGES,
      `${Math.round(share * 100)} % of the devices' messages acknowledged`,
      { timeoutMs: 300_000, intervalMs: 5 },
    ).catch(() => undefined);
    // Shares close together would otherwise kill a restarted collector before it took a message.
    await waitFor(
      async () => (await collector.metric('iot_collector_messages_received_total')) > 0,
      'the restarted collector to take a message',
      { timeoutMs: 60_000, intervalMs: 20 },
    ).catch(() => undefined);
    const receivedBefore = await collector.metric('iot_collector_messages_received_total');
    const unacknowledgedBefore = await collector.metric('iot_collector_unacknowledged_messages');
    const acknowledgedBefore = ledger.acknowledged;
    reuse += await collector.metric('iot_collector_mqtt_protocol_violations_total');
    await collector.stop('SIGKILL');
    kills.push({
      signal: 'SIGKILL',
      atMs: Date.now() - started,
      receivedBefore,
      unacknowledgedBefore,
      acknowledgedBefore,
      midStream: false,
    });
    await sleep(between(random, 100, 2000));
    await collector.start();
  }
  await Promise.all(streams);
  await settle(collector, prefix, ledger);
  reuse += await collector.metric('iot_collector_mqtt_protocol_violations_total');
  await collector.stop('SIGTERM');
  await harness.endSession(clientId);
  await Promise.all(publishers.map(({ client }) => client.endAsync()));

  const verdict = await judge(prefix, ledger);
  for (const kill of kills) {
    kill.midStream =
      kill.receivedBefore > 0 &&
      (kill.unacknowledgedBefore > 0 || kill.acknowledgedBefore < verdict.acknowledged);
  }
  const report = {
    run,
    settings,
    verdict,
    faults: kills,
    brokerDropped: await broker.dropped(),
    packetIdReuse: reuse,
    unrouted,
    seconds: Math.round((Date.now() - started) / 1000),
  };
  await broker.close();
  printRun(report);
  return report;
}

/** A longer run with a random schedule of faults under two collectors and steady publishing. */
async function faultRun(run: number, durationMs: number): Promise<RunReport> {
  const started = Date.now();
  const prefix = `f-${args.seed}`;
  const group = `soak-${prefix}`;
  const ledger = new DeliveryLedger();
  let unrouted = 0;
  const broker = await watchBroker();
  const ids = [`soak-${prefix}-0`, `soak-${prefix}-1`];
  // The first member's session also holds a stale group's filters, as after a group change.
  await holdSession(ids[0] ?? '', [group, `${group}-stale`]);
  const collectors = ids.map((id, i) =>
    collectorProcess(harness.env({ MQTT_CLIENT_ID: id, MQTT_SHARE_GROUP: group }), COLLECTOR_PORT + i),
  );
  await Promise.all(collectors.map((c) => c.start()));
  const counters = { reuse: 0, storeErrors: 0 };
  // Counters die with a process, so they are read before each stop and at the end.
  const harvest = async (c: CollectorProcess) => {
    counters.reuse += await c.metric('iot_collector_mqtt_protocol_violations_total').catch(() => 0);
    counters.storeErrors += await c.metric('iot_collector_store_errors_total').catch(() => 0);
  };
  const storeErrorsNow = async () =>
    counters.storeErrors +
    (
      await Promise.all(collectors.map((c) => c.metric('iot_collector_store_errors_total').catch(() => 0)))
    ).reduce((a, b) => a + b, 0);

  let stopping = false;
  const publishers = await Promise.all(Array.from({ length: DEVICES }, (_, i) => device(`${prefix}-d${i}`)));
  const perDevice = Number(args.rate) / DEVICES;
  const streams = publishers.map(({ client, deviceId }, i) =>
    publishStream(client, deviceId, Number.MAX_SAFE_INTEGER, perDevice, {
      format: i % 2 === 0 ? 'v1' : 'v2',
      onAck: (seq) => ledger.ack(deviceId, seq),
      resendUnrouted: true,
      onUnrouted: () => {
        unrouted += 1;
      },
      stop: () => stopping,
    }),
  );

  const faults: Fault[] = [];
  const every = Number(args['fault-every']) * 1000;
  while (Date.now() - started < durationMs) {
    await sleep(between(random, every / 2, every * 1.5));
    if (Date.now() - started >= durationMs) break;
    const kind = pick(random, [
      'collector SIGKILL',
      'collector SIGKILL',
      'collector SIGTERM',
      'broker restart',
      'influxdb outage',
      'minio outage',
      'postgres outage',
    ] as const);
    const atMs = Date.now() - started;
    if (kind.startsWith('collector')) {
      const member = Math.floor(random.next() * collectors.length);
      const victim = collectors[member] as CollectorProcess;
      const receivedBefore = await victim.metric('iot_collector_messages_received_total');
      await harvest(victim);
      const code = await victim.stop(kind.endsWith('SIGKILL') ? 'SIGKILL' : 'SIGTERM');
      await sleep(between(random, 200, 3000));
      await victim.start();
      faults.push({
        kind,
        atMs,
        landed: receivedBefore > 0,
        detail: `${ids[member]}, exit ${code ?? 'signal'}`,
      });
    } else if (kind === 'broker restart') {
      // The devices come back first: the collectors stay frozen until the devices have been at it
      // for a while, so the broker answers them 0x10 (no shared subscription yet) and they resend.
      for (const c of collectors) c.freeze(true);
      stack.signal('stop', 'mosquitto');
      stack.signal('start', 'mosquitto');
      const unroutedBefore = unrouted;
      const awayMs = between(random, 1000, 3000);
      await sleep(awayMs);
      for (const c of collectors) c.freeze(false);
      faults.push({
        kind,
        atMs,
        landed: unrouted > unroutedBefore,
        detail: `SIGTERM, collectors back ${(awayMs / 1000).toFixed(1)} s after, ${unrouted - unroutedBefore} answered 0x10`,
      });
    } else {
      const server = kind.split(' ')[0] as 'influxdb' | 'minio' | 'postgres';
      const errorsBefore = await storeErrorsNow();
      const outageMs = between(random, 3000, 15_000);
      stack.signal('stop', server);
      await sleep(outageMs);
      const errorsDuring = (await storeErrorsNow()) - errorsBefore;
      stack.signal('start', server);
      faults.push({ kind, atMs, landed: errorsDuring > 0, detail: `${(outageMs / 1000).toFixed(1)} s` });
    }
    log(`  ${(atMs / 1000).toFixed(0).padStart(4)} s  ${kind}  (${faults.at(-1)?.detail})`);
  }
  stopping = true;
  await Promise.all(streams);
  for (const collector of collectors) await settle(collector, prefix, ledger);
  for (const collector of collectors) {
    await harvest(collector);
    await collector.stop('SIGTERM');
  }
  for (const id of ids) await harness.endSession(id);
  await Promise.all(publishers.map(({ client }) => client.endAsync()));

  const report = {
    run,
    settings: { minutes: durationMs / 60_000, collectors: 2, rate: Number(args.rate), devices: DEVICES },
    verdict: await judge(prefix, ledger),
    faults,
    brokerDropped: await broker.dropped(),
    packetIdReuse: counters.reuse,
    unrouted,
    seconds: Math.round((Date.now() - started) / 1000),
  };
  await broker.close();
  printRun(report);
  return report;
}

/**
 * Leaves a persistent session for `clientId` subscribed to the device filters of each group, as an
 * earlier configuration of that collector would have, and recorded as it would have recorded them.
 */
async function holdSession(clientId: string, groups: readonly string[]): Promise<void> {
  const client = await mqtt.connectAsync(stack.env.MQTT_URL ?? '', {
    ...stackMqttLogin(stack.env, 'collector'),
    clientId,
    clean: false,
    protocolVersion: 5,
    properties: { sessionExpiryInterval: 3600 },
  });
  const filters = groups.flatMap((group) =>
    DEVICE_TOPIC_FILTERS.map((filter) => `$share/${group}/${filter}`),
  );
  await client.subscribeAsync(filters, { qos: 1 });
  await client.endAsync();
  await saveSessionFilters(harness.database.db, clientId, filters);
}

/** Queues `count` v2 messages from ten devices while the collector is away, a thousand at a time. */
async function publishBacklog(prefix: string, count: number, ledger: DeliveryLedger): Promise<void> {
  if (count === 0) return;
  const { client } = await device(`${prefix}-backlog`);
  for (let i = 0; i < count; i += 1000) {
    const sends = [];
    for (let n = i; n < Math.min(count, i + 1000); n += 1) {
      const [deviceId, seq] = [`${prefix}-b${n % 10}`, Math.floor(n / 10)];
      sends.push(
        client
          .publishAsync(`iot/${deviceId}/telemetry`, telemetry(deviceId, seq), { qos: 1 })
          .then(() => ledger.ack(deviceId, seq)),
      );
    }
    await Promise.all(sends);
  }
  await client.endAsync();
}

/**
 * A device that is `mosquitto_pub -l` (MQTT 3.1.1, clean session): one v1 message a line at
 * `perSecond`; its debug output names the packet id of each PUBLISH and each PUBACK it receives.
 */
async function mosquittoPub(
  deviceId: string,
  count: number,
  perSecond: number,
  onAck: (seq: number) => void,
) {
  const url = new URL(stack.env.MQTT_URL ?? '');
  const child = spawn(
    'mosquitto_pub',
    [
      '-h',
      url.hostname,
      '-p',
      url.port,
      '-u',
      stackMqttLogin(stack.env).username,
      '-P',
      stackMqttLogin(stack.env).password,
      '-i',
      `dev-${deviceId}`,
      '-t',
      `iot/${deviceId}/telemetry`,
      '-q',
      '1',
      '-l',
      '-d',
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const seqByPacketId = new Map<number, number>();
  let sent = 0;
  let pending = '';
  child.stdout.on('data', (chunk: Buffer) => {
    const lines = (pending + chunk.toString()).split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      const publish = /sending PUBLISH \(d\d, q1, r\d, m(\d+),/.exec(line);
      if (publish) seqByPacketId.set(Number(publish[1]), sent++);
      const puback = /received PUBACK \(Mid: (\d+), RC:0\)/.exec(line);
      const seq = puback && seqByPacketId.get(Number(puback[1]));
      if (seq !== undefined && seq !== null) onAck(seq);
    }
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const startedAt = Date.now();
  for (let seq = 0; seq < count; seq += 1) {
    child.stdin.write(`${v1Telemetry(deviceId, seq)}\n`);
    const wait = startedAt + ((seq + 1) * 1000) / perSecond - Date.now();
    if (wait > 0) await sleep(wait);
  }
  // mosquitto_pub sends what it read, waits for the PUBACKs, then exits at the end of its input.
  child.stdin.end();
  await exited;
}

/** A device's connection: a persistent session, so what is unacknowledged is sent again after a broker restart. */
async function device(deviceId: string): Promise<{ client: MqttClient; deviceId: string }> {
  const client = await mqtt.connectAsync(stack.env.MQTT_URL ?? '', {
    ...stackMqttLogin(stack.env),
    clientId: `dev-${deviceId}`,
    clean: false,
    protocolVersion: 5,
    reconnectPeriod: 200,
    properties: { sessionExpiryInterval: 600 },
  });
  client.on('error', () => undefined);
  return { client, deviceId };
}

/** Waits until the collector holds nothing and the points stop growing (or match the ledger). */
async function settle(collector: CollectorProcess, prefix: string, ledger: DeliveryLedger): Promise<void> {
  let last = -1;
  let unchangedSince = Date.now();
  await waitFor(
    async () => {
      // A busy InfluxDB may time out a query: that round counts as no progress.
      const points = await countPoints(prefix).catch(() => last);
      const unacknowledged = await collector.metric('iot_collector_unacknowledged_messages').catch(() => 1);
      if (points >= ledger.acknowledged && unacknowledged === 0 && points === last) return true;
      if (points !== last) unchangedSince = Date.now();
      last = points;
      // Nothing more is coming (or the collector is stuck): let the verdict say what is missing.
      return Date.now() - unchangedSince > 60_000;
    },
    'the collector to settle',
    { timeoutMs: Number.POSITIVE_INFINITY, intervalMs: 2000 },
  );
}

async function countPoints(prefix: string): Promise<number> {
  const rows = await query<{ _value: number }>(`${points(prefix)} |> group() |> count()`);
  return Number(rows[0]?._value ?? 0);
}

function points(prefix: string): string {
  return `from(bucket: "${harness.config.INFLUX_BUCKET}")
    |> range(start: 2025-01-01T00:00:00Z, stop: 2100-01-01T00:00:00Z)
    |> filter(fn: (r) => r._measurement == "iot_telemetry" and strings.hasPrefix(v: r.device_id, prefix: "${prefix}-"))`;
}

async function query<T>(flux: string): Promise<T[]> {
  return influx.getQueryApi(harness.config.INFLUX_ORG).collectRows<T>(`import "strings"\n${flux}`);
}

/** The ledger against InfluxDB (each point's value is its message's seq) and the archive index. */
async function judge(prefix: string, ledger: DeliveryLedger): Promise<DeliveryVerdict> {
  const stored = new Map<string, number[]>();
  for (const row of await query<{ device_id: string; _value: number }>(
    `${points(prefix)} |> keep(columns: ["device_id", "_value"])`,
  )) {
    const seqs = stored.get(row.device_id) ?? [];
    seqs.push(Number(row._value));
    stored.set(row.device_id, seqs);
  }
  const archived = new Map<string, number[]>();
  for (const [deviceId, records] of await harness.archivedByDevice('raw', ledger.devices)) {
    archived.set(
      deviceId,
      records.map((record) => seqOf(record.payload)),
    );
  }
  return ledger.verdict(stored, archived);
}

/** The broker's count of acknowledged messages it then dropped, across its restarts. */
async function watchBroker() {
  const client = await mqtt.connectAsync(stack.env.MQTT_URL ?? '', {
    ...stackMqttLogin(stack.env),
    protocolVersion: 5,
    reconnectPeriod: 500,
  });
  let base: number | undefined;
  let total = 0;
  let last = 0;
  client.on('message', (_topic, payload) => {
    const value = Number(payload.toString());
    base ??= value;
    // A restarted broker counts from 0 again.
    total += value >= last ? value - last : value;
    last = value;
  });
  client.on('connect', () => void client.subscribe('$SYS/broker/publish/messages/dropped'));
  await client.subscribeAsync('$SYS/broker/publish/messages/dropped');
  return {
    async dropped() {
      // $SYS figures come every sys_interval (5 s on the stack).
      await sleep(6000);
      return total - (base ?? 0);
    },
    close: () => client.endAsync(),
  };
}

async function readBrokerVersion(): Promise<string> {
  const client = await mqtt.connectAsync(stack.env.MQTT_URL ?? '', {
    ...stackMqttLogin(stack.env),
    protocolVersion: 5,
  });
  const version = new Promise<string>((resolve) => client.once('message', (_t, p) => resolve(p.toString())));
  await client.subscribeAsync('$SYS/broker/version');
  const text = await version;
  await client.endAsync();
  return text.replace('mosquitto version ', '');
}

function printRun(r: RunReport): void {
  const missing = r.verdict.missing.reduce((n, d) => n + d.seqs.length, 0);
  const notArchived = r.verdict.notArchived.reduce((n, d) => n + d.seqs.length, 0);
  const settings = describe(r.settings);
  const faults = r.faults.map((f) =>
    'signal' in f
      ? `${f.signal}${f.midStream ? '' : ' (after the stream)'}`
      : `${f.kind}${f.landed ? '' : ' (did not land)'}`,
  );
  log(
    `run ${r.run}: ${r.verdict.ok ? 'ok' : 'LOST'}  acknowledged ${r.verdict.acknowledged}, stored ${r.verdict.stored}, ` +
      `missing ${missing}, not archived ${notArchived}, broker drops ${r.brokerDropped}, packet id reuse ${r.packetIdReuse}, unrouted ${r.unrouted}, ` +
      `${r.seconds} s  [${settings}; ${faults.join(', ')}]`,
  );
  for (const d of r.verdict.missing.slice(0, 12)) {
    log(`    ${d.deviceId}: ${d.seqs.length} missing, first ${d.seqs.slice(0, 8).join(' ')}`);
  }
  if (r.brokerDropped > 0) {
    log(
      `    the broker dropped ${r.brokerDropped} messages after their PUBACK: a session's queue was full ` +
        '(max_queued_messages counts every copy, one per share group the session holds)',
    );
  }
  if (!r.verdict.ok) log(brokerLogTail());
}

function describe(settings: Record<string, number | string>): string {
  return Object.entries(settings)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
}

function brokerLogTail(): string {
  try {
    return readFileSync(`${stack.dir}/mosquitto/log`, 'utf8').split('\n').slice(-15).join('\n');
  } catch {
    return '';
  }
}
