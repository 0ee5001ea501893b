// npm run bench:alerts [-- --devices 10000 --rules 20 --passes 6 --probes 5 --interval 15s --json]:
// the alert rule evaluator at fleet scale on the local stack. Registers the devices (the import's
// repository, in a database of its own), writes the last ten minutes of their telemetry into an
// InfluxDB bucket of its own (some devices breaking limits, some silent, some offline), creates the
// rules through the API, then times evaluation passes in this process: the first (which opens every
// alert the data implies) and steady ones, each after one new sample per device and metric. Then it
// runs the evaluator as the service does (`runEvery` on the interval, the Alertmanager notifier
// after each pass, the devices still reporting every interval) and times probes: a sample that
// breaks a limit, from its write to the alert visible in the stack's Alertmanager
// (`GET /api/v2/alerts`) and to Alertmanager's webhook on the stack's receiver port, both watched by
// a child process so this one's busy event loop does not delay the stamp.
// Goals are printed beside the figures; it exits 1 only when something is wrong: alerts opened that
// the data does not imply (or missing), a rule that failed, other than one InfluxDB query per rule, a
// probe never notified.
import { type ChildProcess, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync, realpathSync } from 'node:fs';
import { createServer } from 'node:http';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { QueryApi } from '@influxdata/influxdb-client';
import {
  createInflux,
  createLeadership,
  createLogger,
  type Database,
  influxEnv,
  type Leadership,
  loadConfig,
  statementSlices,
} from '@iot-meter/common';
import { waitFor } from '@iot-meter/common/testing';
import type { KyselyPlugin } from 'kysely';
import { type Histogram, Registry } from 'prom-client';
import { parse as parseYaml } from 'yaml';
import { readStackEnv } from '../../../scripts/stack/stack-env.js';
import { parseDurationSeconds } from '../src/alert-rules/alert-rules.schema.js';
import {
  ALERTMANAGER_TARGET,
  type AlertmanagerAlert,
  alertsWithRules,
  createAlertmanagerNotifier,
  toAlertmanagerAlert,
} from '../src/alert-rules/alertmanager-notifier.js';
import { createRuleEvaluator, type PassResult } from '../src/alert-rules/rule-evaluator.js';
import { runEvery } from '../src/alert-rules/run-every.js';
import { deviceManagerConfig } from '../src/config.js';
import { upsertDevices } from '../src/devices/devices.repository.js';
import { ApiHarness } from '../test/api-harness.js';

// The evaluator's settings as the service runs it by default.
const DEFAULTS = {
  intervalMs: deviceManagerConfig.shape.ALERT_EVAL_INTERVAL.parse(undefined),
  lookbackMs: deviceManagerConfig.shape.ALERT_LOOKBACK.parse(undefined),
  lateWindowMs: deviceManagerConfig.shape.ALERT_LATE_WINDOW.parse(undefined),
  maxLatenessMs: deviceManagerConfig.shape.ALERT_MAX_LATENESS.parse(undefined),
};
// A pass should take at most this share of the default interval (issue 16).
const PASS_GOAL_SHARE = 0.25;
// Notification latency goal: within the interval plus this.
const LATENCY_MARGIN_MS = 2000;

// ---- The seeded fleet, its data and its rules: pure, so the smoke test computes what they imply. ----

export const METRICS = ['temperature', 'power', 'voltage'] as const;
export type Metric = (typeof METRICS)[number];

/**
 * What a device's data does: `hot`, `surge` and `sag` break their metric's limits for the whole
 * window; `blip` breaks the temperature limit for one minute only (shorter than any temperature
 * rule's `for`); `silent` stopped sending eight minutes ago; `offline` went offline nine minutes
 * ago (its Last Will) and has sent nothing since; `normal` stays within every limit.
 */
export type Profile = 'normal' | 'hot' | 'blip' | 'surge' | 'sag' | 'silent' | 'offline';
const PROFILE_PERCENT: [Profile, number][] = [
  ['hot', 4],
  ['blip', 4],
  ['surge', 3],
  ['sag', 3],
  ['silent', 2],
  ['offline', 2],
];
/** The profile that breaks each metric's threshold rules. */
const BREAKS: Record<Metric, Profile> = { temperature: 'hot', power: 'surge', voltage: 'sag' };
const NORMAL: Record<Metric, number> = { temperature: 45, power: 1200, voltage: 230 };
const BREAKING: Record<Metric, number> = { temperature: 95, power: 12_000, voltage: 195 };

const TYPES = ['boiler', 'freezer', 'meter', 'pump'] as const;
const SAMPLES = 10;
const SAMPLE_SPACING_MS = 60_000;
const NEWEST_SAMPLE_AGE_MS = 5000;
const BLIP_SAMPLES = [4, 5];
const SILENT_SAMPLES = 2;
const OFFLINE_SINCE_MS = 540_000;
const WRITE_BATCH = 5000;

export type BenchDevice = {
  device_id: string;
  device_name: string;
  device_type: string;
  location: string;
  metadata: { site: string; tier: string };
  profile: Profile;
};

// Fibonacci hashing (the product's high bits): profiles spread evenly and independent of type or label.
function profileOf(index: number): Profile {
  const bucket = Math.floor(((Math.imul(index + 1, 0x9e3779b1) >>> 0) / 2 ** 32) * 100);
  let edge = 0;
  for (const [profile, percent] of PROFILE_PERCENT) {
    edge += percent;
    if (bucket < edge) return profile;
  }
  return 'normal';
}

export function createFleet(count: number): BenchDevice[] {
  return Array.from({ length: count }, (_, i) => ({
    device_id: `bench-${String(i).padStart(5, '0')}`,
    device_name: `Bench ${i}`,
    device_type: TYPES[i % TYPES.length] ?? 'meter',
    location: `hall-${i % 10}`,
    metadata: { site: `site-${i % 8}`, tier: i % 5 === 0 ? 'critical' : 'standard' },
    profile: profileOf(i),
  }));
}

type Scope =
  | { all_devices: true }
  | { device_type: string }
  | { labels: Record<string, string> }
  | { device_ids: string[] };

/** A rule as `POST /api/alert-rules` takes it. */
export type BenchRule = {
  name: string;
  kind: 'threshold' | 'no_data' | 'offline';
  metric?: Metric;
  condition?: Record<string, number | string>;
  for?: string;
  scope: Scope;
  severity?: string;
};

/**
 * The first `count` of twenty rules (cycling with new names past twenty): thresholds with `for`
 * and clear thresholds on each metric, `no_data` and `offline`, over every device, a device type,
 * metadata labels and a list of ids. The first four hold one of each kind, the second one is
 * immediate (`for` 0): the latency probes break it.
 */
export function benchRules(count: number, fleet: readonly BenchDevice[]): BenchRule[] {
  const listed = fleet.slice(0, 100).map((d) => d.device_id);
  const rules: BenchRule[] = [
    {
      name: 'temperature-high',
      kind: 'threshold',
      metric: 'temperature',
      condition: { op: '>', value: 90, clear: 85 },
      for: '2m',
      scope: { all_devices: true },
      severity: 'critical',
    },
    {
      name: 'power-surge',
      kind: 'threshold',
      metric: 'power',
      condition: { op: '>', value: 10_000, clear: 9000 },
      scope: { device_type: 'meter' },
      severity: 'critical',
    },
    { name: 'site-1-silent', kind: 'no_data', for: '5m', scope: { labels: { site: 'site-1' } } },
    { name: 'offline', kind: 'offline', for: '5m', scope: { all_devices: true } },
    {
      name: 'boiler-overheat',
      kind: 'threshold',
      metric: 'temperature',
      condition: { op: '>=', value: 90 },
      for: '5m',
      scope: { device_type: 'boiler' },
    },
    {
      name: 'critical-temperature-band',
      kind: 'threshold',
      metric: 'temperature',
      condition: { op: 'outside', low: 0, high: 90, clear_low: 2, clear_high: 85 },
      for: '3m',
      scope: { labels: { tier: 'critical' } },
      severity: 'error',
    },
    {
      name: 'voltage-sag',
      kind: 'threshold',
      metric: 'voltage',
      condition: { op: '<', value: 207, clear: 210 },
      for: '1m',
      scope: { all_devices: true },
    },
    {
      name: 'meter-voltage-band',
      kind: 'threshold',
      metric: 'voltage',
      condition: { op: 'outside', low: 207, high: 253 },
      for: '3m',
      scope: { device_type: 'meter' },
    },
    {
      name: 'site-2-power-high',
      kind: 'threshold',
      metric: 'power',
      condition: { op: '>=', value: 8000 },
      for: '2m',
      scope: { labels: { site: 'site-2' } },
    },
    {
      name: 'meter-power-silent',
      kind: 'no_data',
      metric: 'power',
      for: '3m',
      scope: { device_type: 'meter' },
    },
    {
      name: 'critical-offline',
      kind: 'offline',
      for: '3m',
      scope: { labels: { tier: 'critical' } },
      severity: 'critical',
    },
    {
      name: 'pump-hot',
      kind: 'threshold',
      metric: 'temperature',
      condition: { op: '>', value: 85 },
      for: '4m',
      scope: { device_type: 'pump' },
    },
    {
      name: 'site-3-voltage-low',
      kind: 'threshold',
      metric: 'voltage',
      condition: { op: '<=', value: 200 },
      for: '2m',
      scope: { labels: { site: 'site-3' } },
    },
    {
      name: 'listed-power-surge',
      kind: 'threshold',
      metric: 'power',
      condition: { op: '>', value: 10_000 },
      for: '1m',
      scope: { device_ids: listed },
    },
    {
      name: 'temperature-silent',
      kind: 'no_data',
      metric: 'temperature',
      for: '4m',
      scope: { all_devices: true },
    },
    { name: 'meter-offline', kind: 'offline', for: '8m', scope: { device_type: 'meter' } },
    {
      name: 'freezer-warm',
      kind: 'threshold',
      metric: 'temperature',
      condition: { op: 'inside', low: 60, high: 200 },
      for: '2m',
      scope: { device_type: 'freezer' },
    },
    {
      name: 'critical-voltage-sag',
      kind: 'threshold',
      metric: 'voltage',
      condition: { op: '<', value: 207 },
      for: '5m',
      scope: { labels: { tier: 'critical' } },
      severity: 'critical',
    },
    {
      name: 'boiler-power-high',
      kind: 'threshold',
      metric: 'power',
      condition: { op: '>', value: 9000, clear: 8000 },
      for: '3m',
      scope: { device_type: 'boiler' },
    },
    { name: 'site-5-silent', kind: 'no_data', for: '2m', scope: { labels: { site: 'site-5' } } },
  ];
  return Array.from({ length: count }, (_, i) => {
    const rule = rules[i % rules.length] as BenchRule;
    return i < rules.length ? rule : { ...rule, name: `${rule.name}-${Math.floor(i / rules.length)}` };
  });
}

function inScope(scope: Scope, device: BenchDevice): boolean {
  if ('all_devices' in scope) return true;
  if ('device_type' in scope) return device.device_type === scope.device_type;
  if ('device_ids' in scope) return scope.device_ids.includes(device.device_id);
  const labels: Record<string, string> = device.metadata;
  return Object.entries(scope.labels).every(([k, v]) => labels[k] === v);
}

/** The profiles whose devices a rule fires for on the first pass (and keeps firing for). */
function firingProfiles(rule: BenchRule): Profile[] {
  if (rule.kind === 'offline') return ['offline'];
  if (rule.kind === 'no_data') return ['silent', 'offline'];
  return rule.metric ? [BREAKS[rule.metric]] : [];
}

/** The alerts the seeded data implies on the first pass, per rule name (each then stays open). */
export function expectedOpenings(fleet: readonly BenchDevice[], rules: readonly BenchRule[]) {
  const byRule: Record<string, number> = {};
  for (const rule of rules) {
    const profiles = firingProfiles(rule);
    byRule[rule.name] = fleet.filter((d) => profiles.includes(d.profile) && inScope(rule.scope, d)).length;
  }
  return { total: Object.values(byRule).reduce((a, b) => a + b, 0), byRule };
}

const line = (deviceId: string, metric: Metric, value: number, ms: number) =>
  `iot_telemetry,device_id=${deviceId},metric=${metric} value=${value} ${ms}`;

/** The last ten minutes before `anchorMs`, one sample a minute per device and metric (fewer when silent or offline). */
function seededLines(fleet: readonly BenchDevice[], anchorMs: number): string[] {
  const lines: string[] = [];
  for (const device of fleet) {
    for (const metric of METRICS) {
      if (device.profile === 'offline') {
        lines.push(line(device.device_id, metric, NORMAL[metric], anchorMs - OFFLINE_SINCE_MS));
        continue;
      }
      const samples = device.profile === 'silent' ? SILENT_SAMPLES : SAMPLES;
      for (let k = 0; k < samples; k++) {
        const breaking =
          BREAKS[metric] === device.profile ||
          (device.profile === 'blip' && metric === 'temperature' && BLIP_SAMPLES.includes(k));
        const ms = anchorMs - NEWEST_SAMPLE_AGE_MS - (SAMPLES - 1 - k) * SAMPLE_SPACING_MS;
        lines.push(line(device.device_id, metric, breaking ? BREAKING[metric] : NORMAL[metric], ms));
      }
    }
  }
  return lines;
}

const reporting = (fleet: readonly BenchDevice[]) =>
  fleet.filter((d) => d.profile !== 'silent' && d.profile !== 'offline');

/** One new sample per reporting device and metric at `ms`, each breaking what its device breaks. */
function steadyLines(fleet: readonly BenchDevice[], ms: number): string[] {
  return reporting(fleet).flatMap((d) =>
    METRICS.map((m) => line(d.device_id, m, BREAKS[m] === d.profile ? BREAKING[m] : NORMAL[m], ms)),
  );
}

function presenceRows(fleet: readonly BenchDevice[], anchorMs: number) {
  return fleet.map((d) => {
    const offline = d.profile === 'offline';
    const lastSeenAge = offline
      ? OFFLINE_SINCE_MS
      : d.profile === 'silent'
        ? NEWEST_SAMPLE_AGE_MS + (SAMPLES - SILENT_SAMPLES) * SAMPLE_SPACING_MS
        : NEWEST_SAMPLE_AGE_MS;
    return {
      device_id: d.device_id,
      connection_status: offline ? ('offline' as const) : ('online' as const),
      status_changed_at: new Date(anchorMs - (offline ? OFFLINE_SINCE_MS : 3_600_000)),
      last_seen: new Date(anchorMs - lastSeenAge),
    };
  });
}

// ---- Counting what the evaluator asks of InfluxDB and PostgreSQL. ----

type Tally = {
  influxQueries: number;
  influxRows: number;
  influxMs: number;
  pgStatements: number;
  pgTransactions: number;
};

/** The query API with every query counted, its rows and its time (the evaluator runs them one at a time). */
function countedQueryApi(query: QueryApi, tally: Tally): QueryApi {
  return new Proxy(query, {
    get(target, key) {
      const value: unknown = Reflect.get(target, key, target);
      if (typeof value !== 'function') return value;
      const method = value as (...args: unknown[]) => unknown;
      if (key === 'with')
        return (...args: unknown[]) => countedQueryApi(method.apply(target, args) as QueryApi, tally);
      return (...args: unknown[]) => {
        tally.influxQueries += 1;
        const started = performance.now();
        const result = method.apply(target, args);
        if (!(result instanceof Promise)) return result;
        return result.then((rows: unknown) => {
          tally.influxMs += performance.now() - started;
          if (Array.isArray(rows)) tally.influxRows += rows.length;
          return rows;
        });
      };
    },
  });
}

function statementCounter(tally: Tally): KyselyPlugin {
  return {
    transformQuery(args) {
      tally.pgStatements += 1;
      return args.node;
    },
    async transformResult(args) {
      return args.result;
    },
  };
}

/** The leadership with its transactions counted and their statements too (its own lock check aside). */
function countedLeadership(leadership: Leadership<Database>, tally: Tally): Leadership<Database> {
  const counter = statementCounter(tally);
  return {
    tryLead: () => leadership.tryLead(),
    whileLeading(work) {
      tally.pgTransactions += 1;
      return leadership.whileLeading((tx) => work(tx.withPlugin(counter)));
    },
    close: () => leadership.close(),
  };
}

// ---- Measuring a pass. ----

export type PassFigures = PassResult &
  Tally & {
    ms: number;
    cpuMs: number;
    /** Every process's CPU on the machine during the pass (InfluxDB's and PostgreSQL's too). */
    machineCpuMs: number | null;
    rssMb: number;
    rssPeakMb: number;
    rssDeltaMb: number;
    heapDeltaMb: number;
  };

const mb = (bytes: number) => round(bytes / 2 ** 20, 1);
const round = (n: number, digits = 0) => Math.round(n * 10 ** digits) / 10 ** digits;

/** Busy CPU time of the whole machine so far, from /proc/stat (Linux; null elsewhere). */
function machineBusyMs(): number | null {
  try {
    const fields = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '')
      .trim()
      .split(/\s+/)
      .slice(1)
      .map(Number);
    const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = fields;
    // USER_HZ is 100 on every Linux the stack runs on.
    return (user + nice + system + irq + softirq + steal) * 10;
  } catch {
    return null;
  }
}

async function measurePass(pass: () => Promise<PassResult>, tally: Tally): Promise<PassFigures> {
  const counts = { ...tally };
  const memory = process.memoryUsage();
  const machine = machineBusyMs();
  let peak = memory.rss;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 20);
  const cpu = process.cpuUsage();
  const started = performance.now();
  const result = await pass();
  const ms = performance.now() - started;
  const used = process.cpuUsage(cpu);
  clearInterval(sampler);
  const after = process.memoryUsage();
  const machineAfter = machineBusyMs();
  peak = Math.max(peak, after.rss);
  return {
    ...result,
    ms: round(ms),
    influxQueries: tally.influxQueries - counts.influxQueries,
    influxRows: tally.influxRows - counts.influxRows,
    influxMs: round(tally.influxMs - counts.influxMs),
    pgStatements: tally.pgStatements - counts.pgStatements,
    pgTransactions: tally.pgTransactions - counts.pgTransactions,
    cpuMs: round((used.user + used.system) / 1000),
    machineCpuMs: machine === null || machineAfter === null ? null : machineAfter - machine,
    rssMb: mb(after.rss),
    rssPeakMb: mb(peak),
    rssDeltaMb: mb(after.rss - memory.rss),
    heapDeltaMb: mb(after.heapUsed - memory.heapUsed),
  };
}

const median = (values: readonly number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  if (sorted.length === 0) return Number.NaN;
  return sorted.length % 2 ? (sorted[middle] ?? 0) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
};
const spread = (values: readonly number[]) => ({
  p50: round(median(values)),
  max: values.length > 0 ? round(Math.max(...values)) : Number.NaN,
});

/** Seconds each rule took so far, from the evaluator's own histogram. */
async function ruleSeconds(registry: Registry): Promise<Map<string, number>> {
  const histogram = registry.getSingleMetric('iot_alert_rule_evaluation_seconds') as Histogram | undefined;
  const values = (await histogram?.get())?.values ?? [];
  return new Map(
    values
      .filter((v) => v.metricName === 'iot_alert_rule_evaluation_seconds_sum')
      .map((v) => [String(v.labels.rule), v.value]),
  );
}

// ---- The Alertmanager watcher: a child process, so its stamps wait for no busy event loop. ----

type WatchJob = { alertmanagerUrl: string; receiverPort: number | null };
type WatchRequest = { alertname: string; deviceId: string };
type WatchReport =
  | { event: 'ready' }
  | { event: 'failed'; message: string }
  | { event: 'seen'; deviceId: string; visibleAt: number; notifiedAt: number | null }
  | { event: 'counts'; notifications: number; firing: number; resolved: number };
type Notification = { alerts?: { status: string; labels: Record<string, string> }[] };

function watchAlertmanager(job: WatchJob): void {
  const send = (report: WatchReport) => process.send?.(report);
  const notified = new Map<string, number>();
  const waiting = new Map<string, () => void>();
  const counts = { notifications: 0, firing: 0, resolved: 0 };
  const keyOf = (alertname: string, deviceId: string) => `${alertname}\n${deviceId}`;
  process.on('message', async (message: WatchRequest | 'counts') => {
    if (message === 'counts') {
      send({ event: 'counts', ...counts });
      return;
    }
    const { alertname, deviceId } = message;
    const key = keyOf(alertname, deviceId);
    const heard =
      job.receiverPort === null || notified.has(key)
        ? undefined
        : new Promise<void>((resolve) => waiting.set(key, resolve));
    const filter = [`alertname="${alertname}"`, `device_id="${deviceId}"`]
      .map((f) => `filter=${encodeURIComponent(f)}`)
      .join('&');
    const url = `${job.alertmanagerUrl}/api/v2/alerts?${filter}`;
    let visibleAt = 0;
    while (visibleAt === 0) {
      const alerts = (await fetch(url).then(
        (r) => r.json(),
        () => [],
      )) as unknown[];
      if (alerts.length > 0) visibleAt = Date.now();
      else await sleep(25);
    }
    await heard;
    send({ event: 'seen', deviceId, visibleAt, notifiedAt: notified.get(key) ?? null });
  });
  process.on('disconnect', () => process.exit(0));
  if (job.receiverPort === null) {
    send({ event: 'ready' });
    return;
  }
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => {
      body += chunk;
    });
    req.on('end', () => {
      const at = Date.now();
      res.end();
      counts.notifications += 1;
      for (const alert of (JSON.parse(body) as Notification).alerts ?? []) {
        if (alert.status !== 'firing') {
          counts.resolved += 1;
          continue;
        }
        counts.firing += 1;
        const key = keyOf(alert.labels.alertname ?? '', alert.labels.device_id ?? '');
        if (!notified.has(key)) notified.set(key, at);
        waiting.get(key)?.();
      }
    });
  });
  server.on('error', (err) => send({ event: 'failed', message: err.message }));
  server.listen(job.receiverPort, '127.0.0.1', () => send({ event: 'ready' }));
}

function nextReport<E extends WatchReport['event']>(
  child: ChildProcess,
  event: E,
  timeoutMs: number,
  match: (report: Extract<WatchReport, { event: E }>) => boolean = () => true,
): Promise<Extract<WatchReport, { event: E }>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.off('message', listen);
      reject(new Error(`the Alertmanager watcher sent no ${event} within ${timeoutMs} ms`));
    }, timeoutMs);
    const listen = (report: WatchReport) => {
      if (report.event === 'failed') {
        clearTimeout(timer);
        child.off('message', listen);
        reject(new Error(`the Alertmanager watcher failed: ${report.message}`));
      } else if (report.event === event && match(report as Extract<WatchReport, { event: E }>)) {
        clearTimeout(timer);
        child.off('message', listen);
        resolve(report as Extract<WatchReport, { event: E }>);
      }
    };
    child.on('message', listen);
  });
}

// ---- The run. ----

type Args = {
  devices: number;
  rules: number;
  passes: number;
  probes: number;
  intervalMs: number;
  receiver: 'webhook' | 'api';
  json: boolean;
};

const phase = (name: string) => process.stderr.write(`bench: ${name}\n`);

async function main() {
  const { values } = parseArgs({
    options: {
      devices: { type: 'string', default: '10000' },
      rules: { type: 'string', default: '20' },
      // The first pass and the steady ones after it (their median is reported).
      passes: { type: 'string', default: '6' },
      // Notification latency samples, each at a random moment of the evaluator's interval.
      probes: { type: 'string', default: '5' },
      interval: { type: 'string', default: `${DEFAULTS.intervalMs / 1000}s` },
      // webhook: also wait for Alertmanager's notification on the stack's receiver port (which
      // test/alertmanager.test.ts listens on while it runs); api: only for the alert in its API.
      receiver: { type: 'string', default: 'webhook' },
      json: { type: 'boolean', default: false },
      // Child mode: the Alertmanager watcher.
      watch: { type: 'boolean', default: false },
    },
  });
  if (values.watch) {
    process.once('message', (job: WatchJob) => watchAlertmanager(job));
    return;
  }
  const intervalS = parseDurationSeconds(values.interval);
  if (!intervalS || (values.receiver !== 'webhook' && values.receiver !== 'api')) {
    throw new Error('--interval takes a duration like 15s or 1m, --receiver webhook or api');
  }
  const args: Args = {
    devices: Number(values.devices),
    rules: Number(values.rules),
    passes: Math.max(1, Number(values.passes)),
    probes: Number(values.probes),
    intervalMs: intervalS * 1000,
    receiver: values.receiver,
    json: values.json,
  };
  const stackEnv = readStackEnv();
  const run: Run = { stackEnv, api: new ApiHarness(stackEnv), children: [], problems: [], stops: [] };
  try {
    await run.api.start();
    run.started = true;
    const report = await measure(run, args);
    if (args.json) console.log(JSON.stringify(report));
    else printReport(report);
  } finally {
    for (const stop of run.stops.reverse()) await stop().catch(() => {});
    for (const child of run.children) child.kill('SIGTERM');
    await Promise.all(run.children.map((c) => (c.exitCode ?? c.signalCode) === null && once(c, 'exit')));
    await run.leadership?.close();
    if (run.started) await run.api.dispose();
  }
  for (const problem of run.problems) process.stderr.write(`bench: wrong: ${problem}\n`);
  if (run.problems.length > 0) process.exitCode = 1;
}

/** What a run holds, for `main` to take down, and what it found wrong. */
type Run = {
  stackEnv: Record<string, string>;
  api: ApiHarness;
  started?: boolean;
  leadership?: Leadership<Database>;
  children: ChildProcess[];
  /** Loops to stop before the rest is taken down, in reverse order. */
  stops: (() => Promise<unknown>)[];
  problems: string[];
};

type Report = Awaited<ReturnType<typeof measure>>;

async function measure(run: Run, args: Args) {
  const { api, problems, stackEnv } = run;
  const tag = `ab${randomBytes(3).toString('hex')}`;
  const fleet = createFleet(args.devices);
  // Rule names carry the run's tag: Alertmanager keeps alerts for minutes, and a later run's alert
  // with the same labels would be one it has notified already.
  const rules = benchRules(args.rules, fleet).map((r) => ({ ...r, name: `${tag}-${r.name}` }));
  const expected = expectedOpenings(fleet, rules);
  // Offline rules read presence from PostgreSQL; the others one InfluxDB query each.
  const telemetryRules = rules.filter((r) => r.kind === 'threshold' || r.kind === 'no_data').length;

  phase(`registering ${args.devices.toLocaleString('en-US')} devices`);
  let started = performance.now();
  await upsertDevices(
    api.apiDb,
    fleet.map(({ profile: _, ...device }) => device),
  );
  const registerMs = round(performance.now() - started);

  phase(`creating ${rules.length} rules through the API`);
  for (const rule of rules) {
    const created = await api.call('POST', '/api/alert-rules', { json: rule });
    if (created.status !== 201) throw new Error(`rule ${rule.name}: ${created.status} ${created.text}`);
  }

  const influx = loadConfig(influxEnv, stackEnv);
  // The client sends each full batch without awaiting it, and close() awaits only the last one: a
  // pass right after could read part of the data. Each batch here is flushed, and awaited, by hand.
  const writeLines = async (lines: string[]) => {
    const write = createInflux(influx).getWriteApi(influx.INFLUX_ORG, api.influx.name, 'ms', {
      batchSize: WRITE_BATCH + 1,
      flushInterval: 0,
      maxRetries: 0,
    });
    try {
      for (const batch of statementSlices(lines, WRITE_BATCH)) {
        write.writeRecords(batch);
        await write.flush();
      }
    } finally {
      await write.close();
    }
  };
  const sending = reporting(fleet).map((d) => d.device_id);
  const reportIn = async (ms: number) => {
    await writeLines(steadyLines(fleet, ms));
    for (const ids of statementSlices(sending, 10_000)) {
      await api.database.db
        .updateTable('device_presence')
        .set({ last_seen: new Date(ms) })
        .where('device_id', 'in', ids)
        .execute();
    }
  };

  const anchorMs = Date.now();
  const seeded = seededLines(fleet, anchorMs);
  phase(`writing ${seeded.length.toLocaleString('en-US')} points (the last 10 minutes) and presence`);
  started = performance.now();
  for (const rows of statementSlices(presenceRows(fleet, anchorMs))) {
    await api.database.db.insertInto('device_presence').values(rows).execute();
  }
  await writeLines(seeded);
  const seedMs = round(performance.now() - started);

  const tally: Tally = { influxQueries: 0, influxRows: 0, influxMs: 0, pgStatements: 0, pgTransactions: 0 };
  const registry = new Registry();
  run.leadership = createLeadership<Database>(api.apiDatabaseUrl, [0x496f54, 16]);
  const evaluator = createRuleEvaluator({
    db: api.apiDb.withPlugin(statementCounter(tally)),
    leadership: countedLeadership(run.leadership, tally),
    influx: { query: countedQueryApi(api.influxQuery, tally), bucket: api.influx.name },
    intervalMs: args.intervalMs,
    lookbackMs: DEFAULTS.lookbackMs,
    lateWindowMs: DEFAULTS.lateWindowMs,
    maxLatenessMs: DEFAULTS.maxLatenessMs,
    logger: createLogger('alert-bench', 'warn', { to: 'stderr' }),
    registry,
    notificationTargets: [ALERTMANAGER_TARGET],
  });

  phase('first pass');
  const first = await measurePass(() => evaluator.pass(), tally);
  const seconds = await ruleSeconds(registry);
  const openedRows = await api.database.db
    .selectFrom('device_alerts as a')
    .innerJoin('alert_rules as r', 'r.id', 'a.rule_id')
    .select(['r.name', (eb) => eb.fn.countAll<string>().as('count')])
    .groupBy('r.name')
    .execute();
  const opened = new Map(openedRows.map((row) => [row.name, Number(row.count)]));
  const byRule = rules.map((r) => ({
    name: r.name.slice(tag.length + 1),
    kind: r.kind,
    scope: Object.keys(r.scope)[0] ?? '',
    ms: round((seconds.get(r.name) ?? 0) * 1000),
    opened: opened.get(r.name) ?? 0,
    expected: expected.byRule[r.name] ?? 0,
  }));

  const steady: PassFigures[] = [];
  for (let i = 1; i < args.passes; i++) {
    phase(`steady pass ${i} of ${args.passes - 1}`);
    await reportIn(Date.now());
    steady.push(await measurePass(() => evaluator.pass(), tally));
  }

  if (!first.leading) problems.push('the evaluator did not lead');
  const judged: [string, PassFigures][] = [
    ['first', first],
    ...steady.map((p, i): [string, PassFigures] => [`steady ${i + 1}`, p]),
  ];
  for (const [name, figures] of judged) {
    if (figures.failed > 0) problems.push(`${name} pass: ${figures.failed} rules failed`);
    if (figures.rules !== rules.length)
      problems.push(`${name} pass evaluated ${figures.rules} of ${rules.length} rules`);
    if (figures.influxQueries !== telemetryRules) {
      problems.push(
        `${name} pass: ${figures.influxQueries} InfluxDB queries for ${telemetryRules} rules reading telemetry`,
      );
    }
  }
  if (first.opened !== expected.total) {
    problems.push(`first pass opened ${first.opened} alerts; the data implies ${expected.total}`);
  }
  for (const rule of byRule) {
    if (rule.opened !== rule.expected)
      problems.push(`rule ${rule.name}: ${rule.opened} alerts, ${rule.expected} expected`);
  }
  for (const [i, pass] of steady.entries()) {
    if (pass.opened !== 0 || pass.closed !== 0) {
      problems.push(`steady pass ${i + 1} opened ${pass.opened} and closed ${pass.closed}; nothing changed`);
    }
  }

  const notification = await measureNotification(run, args, {
    evaluator,
    tally,
    reportIn,
    writeLines,
    alertname: rules.find((r) => r.name === `${tag}-power-surge`)?.name,
    probeDevices: fleet
      .filter((d) => d.profile === 'normal' && d.device_type === 'meter')
      .map((d) => d.device_id),
    alertmanagerUrl: stackEnv.ALERTMANAGER_URL ?? '',
    receiverPort: args.receiver === 'webhook' ? Number(stackEnv.ALERT_RECEIVER_PORT) : null,
  });

  const steadyMs = median(steady.map((p) => p.ms));
  return {
    devices: args.devices,
    rules: rules.length,
    telemetryRules,
    points: seeded.length,
    pointsPerSteadyPass: sending.length * METRICS.length,
    profiles: Object.fromEntries(
      (['normal', ...PROFILE_PERCENT.map(([p]) => p)] as Profile[]).map((p) => [
        p,
        fleet.filter((d) => d.profile === p).length,
      ]),
    ),
    registerMs,
    seedMs,
    defaultIntervalMs: DEFAULTS.intervalMs,
    expected,
    first,
    byRule,
    steady,
    steadyMedian: {
      ms: round(steadyMs),
      cpuMs: round(median(steady.map((p) => p.cpuMs))),
      machineCpuMs: steady.some((p) => p.machineCpuMs === null)
        ? null
        : round(median(steady.map((p) => p.machineCpuMs ?? 0))),
      influxMs: round(median(steady.map((p) => p.influxMs))),
      influxRows: round(median(steady.map((p) => p.influxRows))),
      pgStatements: round(median(steady.map((p) => p.pgStatements))),
      rssDeltaMb: round(median(steady.map((p) => p.rssDeltaMb)), 1),
      heapDeltaMb: round(median(steady.map((p) => p.heapDeltaMb)), 1),
    },
    intervalShare: {
      first: round(first.ms / DEFAULTS.intervalMs, 3),
      steady: round(steadyMs / DEFAULTS.intervalMs, 3),
      goal: PASS_GOAL_SHARE,
    },
    notification,
    problems,
  };
}

type Spread = { p50: number; max: number };
type NotificationFigures = {
  intervalMs: number;
  goalMs: number;
  receiver: Args['receiver'];
  alertmanager: string;
  groupWait: string;
  groupInterval: string;
  /** Each pass's and notifier round's time while the evaluator runs on its interval. */
  passes: number[];
  delivers: { ms: number; sent: number }[];
  /** What Alertmanager's webhook brought the receiver (null: not listened for). */
  webhooks: { notifications: number; firing: number; resolved: number } | null;
  /** Per probe: from the sample's write to the alert in Alertmanager's API, and to its webhook. */
  probes: { visibleMs: number; notifiedMs: number | null }[];
  visible: Spread | null;
  notified: Spread | null;
};

async function measureNotification(
  run: Run,
  args: Args,
  options: {
    evaluator: ReturnType<typeof createRuleEvaluator>;
    tally: Tally;
    reportIn: (ms: number) => Promise<void>;
    writeLines: (lines: string[]) => Promise<void>;
    alertname: string | undefined;
    probeDevices: string[];
    alertmanagerUrl: string;
    receiverPort: number | null;
  },
): Promise<NotificationFigures> {
  const { api, problems } = run;
  const { evaluator, alertname } = options;
  const status = (await (await fetch(`${options.alertmanagerUrl}/api/v2/status`)).json()) as {
    config: { original: string };
    versionInfo: { version: string };
  };
  const route = (parseYaml(status.config.original) as { route?: Record<string, unknown> }).route ?? {};
  const base = {
    intervalMs: args.intervalMs,
    goalMs: args.intervalMs + LATENCY_MARGIN_MS,
    receiver: args.receiver,
    alertmanager: status.versionInfo.version,
    groupWait: String(route.group_wait ?? '30s'),
    groupInterval: String(route.group_interval ?? '5m'),
  };
  const probes = Math.min(args.probes, options.probeDevices.length);
  if (probes === 0 || !alertname) {
    return { ...base, passes: [], delivers: [], webhooks: null, probes: [], visible: null, notified: null };
  }

  const watcher = fork(fileURLToPath(import.meta.url), ['--watch'], {
    execArgv: process.execArgv,
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  run.children.push(watcher);
  const ready = nextReport(watcher, 'ready', 10_000);
  watcher.send({
    alertmanagerUrl: options.alertmanagerUrl,
    receiverPort: options.receiverPort,
  } satisfies WatchJob);
  await ready;

  const notifier = createAlertmanagerNotifier({
    db: api.apiDb,
    url: options.alertmanagerUrl,
    intervalMs: args.intervalMs,
    logger: createLogger('alert-bench', 'warn', { to: 'stderr' }),
  });
  phase(`the evaluator on its ${args.intervalMs / 1000} s interval with the Alertmanager notifier`);
  const passes: number[] = [];
  const delivers: { ms: number; sent: number }[] = [];
  // As src/service.ts runs them: the leader notifies after its pass.
  const stopEvaluator = runEvery(
    args.intervalMs,
    async () => {
      let started = performance.now();
      const { leading } = await evaluator.pass();
      passes.push(round(performance.now() - started));
      if (!leading) return;
      started = performance.now();
      const { sent, failed } = await notifier.deliver();
      delivers.push({ ms: round(performance.now() - started), sent });
      if (failed) problems.push('Alertmanager did not take the alerts');
    },
    createLogger('alert-bench', 'warn', { to: 'stderr' }),
  );
  run.stops.push(stopEvaluator);
  // The devices keep reporting every interval.
  const reporting = new AbortController();
  const reporter = (async () => {
    while (!reporting.signal.aborted) {
      await options.reportIn(Date.now());
      await sleep(args.intervalMs, undefined, { signal: reporting.signal }).catch(() => {});
    }
  })();
  run.stops.push(() => {
    reporting.abort();
    return reporter;
  });

  // The first round posts every alert the first pass opened: wait it out, and Alertmanager's
  // notifications of them, so probes time a steady round.
  await waitFor(async () => delivers.length >= 1, 'the first notifier round', {
    timeoutMs: 10 * args.intervalMs + 60_000,
  });
  await sleep(3000);

  const measured: { visibleMs: number; notifiedMs: number | null }[] = [];
  for (const deviceId of options.probeDevices.slice(0, probes)) {
    phase(`latency probe ${measured.length + 1} of ${probes}`);
    await sleep(Math.random() * args.intervalMs);
    const seen = nextReport(watcher, 'seen', 4 * args.intervalMs + 30_000, (r) => r.deviceId === deviceId);
    watcher.send({ alertname, deviceId } satisfies WatchRequest);
    const writtenAt = Date.now();
    await options.writeLines([line(deviceId, 'power', BREAKING.power, writtenAt)]);
    const report = await seen.catch((err: Error) => {
      problems.push(`probe ${deviceId}: ${err.message}`);
      return undefined;
    });
    if (report) {
      measured.push({
        visibleMs: report.visibleAt - writtenAt,
        notifiedMs: report.notifiedAt === null ? null : report.notifiedAt - writtenAt,
      });
    }
  }
  await stopEvaluator();
  reporting.abort();
  await reporter;
  const countsReply = nextReport(watcher, 'counts', 5000);
  watcher.send('counts');
  const { event: _, ...counts } = await countsReply;

  // Ends what this run left in Alertmanager (which would otherwise hold it for four intervals),
  // and waits for its resolved notifications while the receiver still listens.
  const rows = await alertsWithRules(api.database.db).execute();
  const ended: AlertmanagerAlert[] = rows.map((row) =>
    toAlertmanagerAlert(row, row.resolved_at ?? new Date()),
  );
  for (const chunk of statementSlices(ended, 500)) {
    await fetch(`${options.alertmanagerUrl}/api/v2/alerts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(chunk),
    });
  }
  if (options.receiverPort !== null) await sleep(3000);

  const visible = measured.map((m) => m.visibleMs);
  const notified = measured.flatMap((m) => (m.notifiedMs === null ? [] : [m.notifiedMs]));
  return {
    ...base,
    passes,
    delivers,
    webhooks: options.receiverPort === null ? null : counts,
    probes: measured,
    visible: spread(visible),
    notified: options.receiverPort === null ? null : spread(notified),
  };
}

function printReport(report: Report) {
  const n = (v: number) => Math.round(v).toLocaleString('en-US');
  const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  const pct = (share: number) => `${(share * 100).toFixed(1)} %`;
  const { first, steadyMedian: steady, notification: note } = report;
  console.log(
    `Alert rule evaluation: ${n(report.devices)} devices, ${report.rules} rules (${report.telemetryRules} read InfluxDB, the offline ones presence), ${n(report.points)} points over the last 10 minutes`,
  );
  console.log(
    `profiles: ${Object.entries(report.profiles)
      .map(([p, c]) => `${p} ${n(c)}`)
      .join(', ')}; registered in ${s(report.registerMs)}, data written in ${s(report.seedMs)}\n`,
  );
  const goal = `goal ≤ ${pct(report.intervalShare.goal)} of the ${report.defaultIntervalMs / 1000} s default interval`;
  console.log(
    `first pass                ${s(first.ms).padStart(8)}  ${pct(report.intervalShare.first)} of the interval; ${goal}`,
  );
  console.log(
    `steady pass (median of ${report.steady.length}) ${s(steady.ms).padStart(8)}  ${pct(report.intervalShare.steady)} of the interval; each after ${n(report.pointsPerSteadyPass)} new points`,
  );
  console.log(
    `InfluxDB queries per pass ${first.influxQueries} (first), ${report.steady.map((p) => p.influxQueries).join(', ') || '-'} (steady); goal one per rule reading telemetry (${report.telemetryRules})`,
  );
  console.log(
    `InfluxDB rows / wait      first ${n(first.influxRows)} rows, ${s(first.influxMs)}; steady ${n(steady.influxRows)} rows, ${s(steady.influxMs)}`,
  );
  console.log(
    `PostgreSQL statements     first ${n(first.pgStatements)} in ${first.pgTransactions} transactions; steady ${n(steady.pgStatements)}`,
  );
  console.log(
    `evaluator CPU             first ${s(first.cpuMs)}, steady ${s(steady.cpuMs)} (this process); machine, every process: first ${first.machineCpuMs === null ? '-' : s(first.machineCpuMs)}, steady ${steady.machineCpuMs === null ? '-' : s(steady.machineCpuMs)}`,
  );
  console.log(
    `evaluator memory          first RSS ${first.rssMb} MB (peak ${first.rssPeakMb}, Δ ${first.rssDeltaMb} MB), heap Δ ${first.heapDeltaMb} MB; steady RSS Δ ${steady.rssDeltaMb} MB, heap Δ ${steady.heapDeltaMb} MB`,
  );
  console.log(
    `alerts                    first pass opened ${n(first.opened)} (the data implies ${n(report.expected.total)}); steady passes opened ${report.steady.reduce((a, p) => a + p.opened, 0)}, closed ${report.steady.reduce((a, p) => a + p.closed, 0)}\n`,
  );
  console.log('first pass by rule:');
  for (const rule of report.byRule) {
    console.log(
      `  ${rule.name.padEnd(28)} ${rule.kind.padEnd(9)} ${rule.scope.padEnd(11)} ${s(rule.ms).padStart(8)}  ${String(rule.opened).padStart(5)} alerts`,
    );
  }
  const { visible, notified, webhooks } = note;
  if (!visible) return;
  const deliver = note.delivers.slice(1).map((d) => d.ms);
  console.log(
    `\non the ${note.intervalMs / 1000} s interval with the notifier: pass p50 ${s(median(note.passes.slice(1)))} (${note.passes.length} passes), notifier round p50 ${s(median(deliver))} re-sending ${n(note.delivers.at(-1)?.sent ?? 0)} open alerts (first round ${s(note.delivers[0]?.ms ?? 0)})`,
  );
  const heard = webhooks
    ? `; its webhook brought ${n(webhooks.notifications)} notifications (${n(webhooks.firing)} firing, ${n(webhooks.resolved)} resolved alerts)`
    : '';
  console.log(
    `Alertmanager ${note.alertmanager}: group_wait ${note.groupWait}, group_interval ${note.groupInterval}${heard}`,
  );
  const webhook = notified ? `; Alertmanager's webhook p50 ${s(notified.p50)} max ${s(notified.max)}` : '';
  console.log(
    `notification latency, ${note.probes.length} probes, from the sample's write: in Alertmanager's API p50 ${s(visible.p50)} max ${s(visible.max)}${webhook}; goal ≤ ${s(note.goalMs)}`,
  );
  const each = note.probes.map(
    (p) => `${s(p.visibleMs)}${p.notifiedMs === null ? '' : ` / ${s(p.notifiedMs)}`}`,
  );
  console.log(`  each: ${each.join(', ')}`);
}

// Run as a script (not when the smoke test imports the generator above).
if (process.argv[1] && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) await main();
