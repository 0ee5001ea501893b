// npm run bench:broker-accounts [-- --devices 10000 --revoke 100 --json]: device identity at the
// broker at fleet scale (docs/security.md). Provisions the devices through the API's bulk import
// (the API in-process over a database of its own on the local stack's PostgreSQL), lets the real
// broker account sync apply them to a Mosquitto of its own with the chart's authenticated
// listeners, connects every device with its own credentials, then times the broker's stall (a
// probe device's PUBACK latency) around a reload with nothing changed, a burst of revocations
// through the API, and a second import; and, as the baseline, the same reload with the devices'
// hashes at Mosquitto's default 101 PBKDF2 iterations instead of the product's one.
// Goals are printed beside the figures; it exits 1 only when something is wrong: a device refused,
// a device not revoked disconnected, a revoked one still connected 30 s after the burst.
import { type ChildProcess, fork, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createLogger } from '@iot-meter/common';
import { waitFor } from '@iot-meter/common/testing';
import mqtt from 'mqtt';
import { Registry } from 'prom-client';
import { readStackEnv } from '../../../scripts/stack/stack-env.js';
import {
  type BrokerAccountsSync,
  canaryConnects,
  deviceAccountsIn,
  startBrokerAccountsSync,
} from '../src/broker-accounts/broker-accounts-sync.js';
import { hashBrokerPassword, SERVICE_HASH_ITERATIONS } from '../src/broker-accounts/broker-password.js';
import { readServiceAccounts } from '../src/broker-accounts/password-file.js';
import { reloadBrokerBySignal } from '../src/broker-accounts/reload-broker.js';
import { ApiHarness } from '../test/api-harness.js';
import { AuthBroker } from '../test/auth-broker.js';
import type { DeviceLogin, FleetJob, FleetReport, ProbeQuery } from './device-fleet.js';

const { values: args } = parseArgs({
  options: {
    devices: { type: 'string', default: '10000' },
    revoke: { type: 'string', default: '100' },
    // New devices imported with the fleet connected: a reload that changes the file, revoking none.
    'second-import': { type: 'string', default: '1000' },
    // The quiet window the probe's latency is measured over before anything happens.
    seconds: { type: 'string', default: '5' },
    // Reloads with 1- and with 101-iteration hashes, alternated.
    rounds: { type: 'string', default: '3' },
    'import-batch': { type: 'string', default: '10000' },
    'per-process': { type: 'string', default: '10000' },
    json: { type: 'boolean', default: false },
  },
});
const DEVICES = Number(args.devices);
const REVOKE = Math.min(Number(args.revoke), DEVICES);
const SECOND_IMPORT = Number(args['second-import']);
const QUIET_S = Number(args.seconds);
const ROUNDS = Number(args.rounds);
const IMPORT_BATCH = Number(args['import-batch']);
const PER_PROCESS = Number(args['per-process']);

// The broker-accounts test uses 17640/17641; no stack or soak port is in 17xxx.
const PORTS = { devices: 17_650, services: 17_651 };
// As the chart's broker logs, and `information` for its "Reloading config." (each reload it does);
// `log_type all` would have it log every one of the probe's publishes.
const LOG_TYPES = ['error', 'warning', 'notice', 'information'];
const CONNECTS_IN_FLIGHT = 50;
// The broker answers within a fraction of a millisecond when idle, but with set_tcp_nodelay off (as
// in the chart) it holds a PUBACK until the last one is acknowledged, so the quiet p50 at this
// interval is about the interval itself: a floor far below any stall worth measuring.
const PROBE_INTERVAL_MS = 2;
const REVOKED_DEADLINE_MS = 30_000;
const FLEET_SCRIPT = fileURLToPath(new URL('./device-fleet.ts', import.meta.url));

// Wall-clock milliseconds, sub-millisecond, as the fleet processes report them.
const clock = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const phase = (name: string) => process.stderr.write(`bench: ${name}\n`);

type Latency = { p50: number; p99: number; max: number };
/** The broker's CPU time, and its time runnable but waiting for a core (the machine is shared). */
type Stall = Latency & { cpuMs: number; waitMs: number; settled: boolean };

await main();

async function main() {
  const stackEnv = readStackEnv();
  const run: Run = {
    broker: new AuthBroker(PORTS, { logTypes: LOG_TYPES }),
    api: new ApiHarness(stackEnv),
    children: [],
    problems: [],
    stopping: false,
  };
  try {
    const report = await measure(run);
    if (args.json) console.log(JSON.stringify(report));
    else printReport(report);
  } finally {
    run.stopping = true;
    for (const child of run.children) child.kill('SIGTERM');
    await Promise.all(run.children.map((c) => (c.exitCode ?? c.signalCode) === null && once(c, 'exit')));
    // Each step whatever the one before did, so no broker or database outlives a failed run.
    await Promise.allSettled([run.sync?.close(), run.apiStarted && run.api.dispose()]);
    await run.broker.stop();
  }
  for (const problem of run.problems) process.stderr.write(`bench: wrong: ${problem}\n`);
  if (run.problems.length > 0) process.exitCode = 1;
}

/** What a run holds, for `main` to take down, and what it found wrong. */
type Run = {
  broker: AuthBroker;
  api: ApiHarness;
  sync?: BrokerAccountsSync;
  apiStarted?: boolean;
  children: ChildProcess[];
  problems: string[];
  stopping: boolean;
};

type Report = Awaited<ReturnType<typeof measure>>;

async function measure(run: Run) {
  const { broker, api, problems } = run;
  const logger = createLogger('broker-accounts-bench', 'warn', { to: 'stderr' });
  const registry = new Registry();
  const servicePassword = randomBytes(16).toString('hex');
  const loadAtStart = loadavg();
  broker.setServicePassword('device-manager', servicePassword);
  await broker.start();
  await api.start(
    // One import of 10,000 devices is about 0.6 MB of NDJSON.
    { API_IMPORT_LIMIT_BYTES: 64 * 1024 * 1024 },
    { mqttUrl: broker.serviceUrl, mqttUsername: '@device-manager', mqttPassword: servicePassword },
  );
  run.apiStarted = true;
  const signalBroker = reloadBrokerBySignal({ pidFile: broker.pidFile });
  // When the broker was told to reload, by the sync or by this benchmark.
  const signals: number[] = [];
  const sighup = () => {
    signals.push(clock());
    process.kill(broker.pid, 'SIGHUP');
  };
  const sync = startBrokerAccountsSync({
    ...deviceAccountsIn(api.database.db, api.database.url, logger),
    passwordFile: broker.passwordFile,
    serviceAccounts: readServiceAccounts(broker.serviceAccountsDir),
    reloadBroker: async () => {
      signals.push(clock());
      await signalBroker();
    },
    confirmReload: canaryConnects(broker.serviceUrl),
    logger,
    registry,
  });
  run.sync = sync;
  // Reloads the sync applied (its metric) and those the broker did (its log): so far, and since `before`.
  const reloadCounts = async () => {
    const metric = await registry.getSingleMetric('iot_broker_account_syncs_total')?.get();
    return {
      sync: metric?.values.find((v) => v.labels.result === 'applied')?.value ?? 0,
      broker: broker.log.split('Reloading config.').length - 1,
    };
  };
  const reloadsSince = async (before: { sync: number; broker: number }) => {
    const now = await reloadCounts();
    return { sync: now.sync - before.sync, broker: now.broker - before.broker };
  };
  const secrets = new Map<string, string>();
  const probeDevice = await registerProbe(api);
  secrets.set(probeDevice.username, probeDevice.password);
  await sync.applied();

  phase(`provisioning ${DEVICES} devices`);
  const provisionCounts = await reloadCounts();
  const provisionStart = clock();
  const ids = Array.from({ length: DEVICES }, (_, i) => `bench-${String(i).padStart(6, '0')}`);
  const fleet: DeviceLogin[] = [];
  for (const batch of slices(ids, IMPORT_BATCH)) fleet.push(...(await importDevices(api, batch)));
  const importMs = clock() - provisionStart;
  const last = fleet.at(-1);
  if (last) {
    await waitFor(() => admits(broker.deviceUrl, last), 'the broker to admit the last device imported', {
      timeoutMs: 60_000,
      intervalMs: 50,
    });
  }
  const admittedMs = clock() - provisionStart;
  await sync.applied();
  const provisionReloads = await reloadsSince(provisionCounts);
  for (const device of fleet) secrets.set(device.username, device.password);

  phase(`connecting ${DEVICES} devices`);
  const closed = new Map<string, number>();
  const onClosed = (report: FleetReport) => {
    if (report.event === 'closed') closed.set(report.username, report.at);
  };
  const connectStart = clock();
  const ready = await Promise.all(
    slices(fleet, PER_PROCESS).map((devices) =>
      startChild(
        run,
        { role: 'fleet', port: PORTS.devices, devices, concurrency: CONNECTS_IN_FLIGHT },
        onClosed,
      ),
    ),
  );
  const connectMs = clock() - connectStart;
  const connected = ready.reduce((sum, r) => sum + r.connected, 0);
  const refused = ready.flatMap((r) => r.refused);
  if (refused.length > 0) {
    problems.push(
      `${refused.length} devices refused, e.g. ${refused[0]?.username} (CONNACK ${refused[0]?.code})`,
    );
  }

  phase('starting the probe');
  const probe = await startProbe(run, probeDevice, onClosed);
  await sleep(1000);
  const meter = createStallMeter(probe, broker.pid, signals);

  phase(`quiet baseline, ${QUIET_S} s`);
  const quiet = await meter.quiet(QUIET_S * 1000);

  phase('reload with nothing changed');
  const unchanged = await meter.around(sighup);

  phase(`revoking ${REVOKE} devices through the API`);
  // Spread over the fleet, from the first connected to the last: the broker re-checks its clients in turn.
  const revoked = Array.from(
    { length: REVOKE },
    (_, i) => fleet[Math.floor((i * DEVICES) / REVOKE)]?.username ?? '',
  );
  const revokeCounts = await reloadCounts();
  const signalsBefore = signals.length;
  let burstStart = 0;
  let callsMs = 0;
  const revocation = await meter.around(
    async () => {
      burstStart = clock();
      await revokeDevices(api, revoked);
      callsMs = clock() - burstStart;
    },
    () => revoked.every((id) => closed.has(id)),
    REVOKED_DEADLINE_MS,
  );
  await sync.applied();
  const revocationReloads = await reloadsSince(revokeCounts);
  const revokedClosed = revoked.flatMap((id) => closed.get(id) ?? []).map((t) => t - burstStart);
  if (revokedClosed.length < REVOKE) {
    // Whether the sync left them in the file, or the broker did not reload the file it wrote.
    const inFile = new Set(
      readFileSync(broker.passwordFile, 'utf8')
        .split('\n')
        .map((l) => l.split(':')[0]),
    );
    const left = revoked.filter((id) => !closed.has(id));
    problems.push(
      `${left.length} revoked devices still connected ${REVOKED_DEADLINE_MS / 1000} s after the burst, ` +
        `${left.filter((id) => inFile.has(id)).length} of them in the password file, ` +
        `after ${signals.length - signalsBefore} SIGHUPs by the sync (the first of them ${left[0]})`,
    );
  }
  const firstSignal = signals[signalsBefore];
  for (const id of revoked) secrets.delete(id);

  phase(`importing ${SECOND_IMPORT} more devices`);
  const secondCounts = await reloadCounts();
  const secondSignals = signals.length;
  let secondImportMs = 0;
  const secondImport = await meter.around(
    async () => {
      const started = clock();
      const more = Array.from(
        { length: SECOND_IMPORT },
        (_, i) => `bench-more-${String(i).padStart(6, '0')}`,
      );
      for (const device of await importDevices(api, more)) secrets.set(device.username, device.password);
      secondImportMs = clock() - started;
    },
    () => signals.length > secondSignals,
  );
  await sync.applied();
  const secondImportReloads = await reloadsSince(secondCounts);

  phase(`reloads with 1- and 101-iteration device hashes, ${ROUNDS} rounds`);
  // The sync stopped, so nothing but this rewrites the password file meanwhile.
  await sync.close();
  run.sync = undefined;
  const current = readFileSync(broker.passwordFile, 'utf8');
  const files = { one: current, hundredOne: rehash(current, secrets) };
  const byIterations: { one: Stall[]; hundredOne: Stall[] } = { one: [], hundredOne: [] };
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? (['one', 'hundredOne'] as const) : (['hundredOne', 'one'] as const);
    for (const kind of order) {
      replaceFile(broker.passwordFile, files[kind]);
      byIterations[kind].push(await meter.around(sighup));
    }
  }

  const revokedSet = new Set(revoked);
  const otherClosed = [...closed.keys()].filter((id) => !revokedSet.has(id));
  if (otherClosed.length > 0) {
    problems.push(`${otherClosed.length} devices not revoked were disconnected, e.g. ${otherClosed[0]}`);
  }
  const one = summarize(byIterations.one);
  const hundredOne = summarize(byIterations.hundredOne);
  return {
    devices: DEVICES,
    revoke: REVOKE,
    machine: { cores: availableParallelism(), loadAtStart, loadAtEnd: loadavg() },
    // Its usage text (and exit code 3) names its version.
    broker:
      /version (\S+)/.exec(spawnSync('mosquitto', ['-h'], { encoding: 'utf8' }).stdout)?.[1] ?? 'unknown',
    provision: {
      provisioned: fleet.length,
      imports: slices(ids, IMPORT_BATCH).length,
      importMs,
      admittedMs,
      reloads: provisionReloads,
    },
    connect: { connected, refused: refused.length, ms: connectMs },
    quiet,
    unchanged,
    revocation: {
      ...revocation,
      callsMs,
      reloads: revocationReloads,
      // From the burst's first call.
      signalMs: firstSignal === undefined ? null : firstSignal - burstStart,
      disconnected: revokedClosed.length,
      firstDisconnectMs: revokedClosed.length > 0 ? Math.min(...revokedClosed) : null,
      lastDisconnectMs: revokedClosed.length > 0 ? Math.max(...revokedClosed) : null,
    },
    otherDisconnected: otherClosed.length,
    secondImport: {
      ...secondImport,
      created: SECOND_IMPORT,
      importMs: secondImportMs,
      reloads: secondImportReloads,
    },
    iterations: {
      accounts: current.split('\n').length - 1,
      connected: DEVICES - REVOKE + 1,
      one,
      hundredOne,
      stallRatio: hundredOne.stallMs / one.stallMs,
      cpuRatio: hundredOne.cpuMs / one.cpuMs,
    },
    problems,
  };
}

async function registerProbe(api: ApiHarness): Promise<DeviceLogin> {
  const r = await api.call('POST', '/api/devices', {
    json: { device_id: 'bench-probe', device_name: 'probe' },
  });
  if (r.status !== 201) throw new Error(`registering the probe: ${r.status} ${r.text}`);
  return (r.json as { mqtt_credentials: DeviceLogin }).mqtt_credentials;
}

/** Registers `ids` with one NDJSON import; returns each device's credentials. */
async function importDevices(api: ApiHarness, ids: string[]): Promise<DeviceLogin[]> {
  const r = await api.call('POST', '/api/devices/import', {
    body: ids.map((id) => JSON.stringify({ device_id: id, device_name: id })).join('\n'),
    headers: { 'content-type': 'application/x-ndjson' },
  });
  const result = r.json as { created: number; credentials: DeviceLogin[] } | undefined;
  if (r.status !== 200 || result?.created !== ids.length) {
    throw new Error(`import of ${ids.length} devices: ${r.status} ${r.text.slice(0, 500)}`);
  }
  return result.credentials;
}

/** Revokes the devices one API call after another: every other one deleted, the rest disabled. */
async function revokeDevices(api: ApiHarness, ids: string[]): Promise<void> {
  for (const [i, id] of ids.entries()) {
    const r =
      i % 2 === 0
        ? await api.call('DELETE', `/api/devices/${id}`)
        : await api.call('PUT', `/api/devices/${id}`, { json: { status: 'disabled' } });
    if (r.status !== 200) throw new Error(`revoking ${id}: ${r.status} ${r.text}`);
  }
}

/** Whether the devices' listener accepts `device` now. */
async function admits(url: string, device: DeviceLogin): Promise<boolean> {
  try {
    const client = await mqtt.connectAsync(url, {
      ...device,
      protocolVersion: 5,
      reconnectPeriod: 0,
      connectTimeout: 5000,
    });
    await client.endAsync(true);
    return true;
  } catch {
    return false;
  }
}

function slices<T>(items: T[], size: number): T[][] {
  return Array.from({ length: Math.ceil(items.length / size) }, (_, i) =>
    items.slice(i * size, (i + 1) * size),
  );
}

/** Forks a fleet process for `job`; resolves once all its connections are answered. */
function startChild(
  run: Run,
  job: FleetJob,
  onReport: (report: FleetReport) => void,
): Promise<Extract<FleetReport, { event: 'ready' }>> {
  const child = fork(FLEET_SCRIPT, [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  run.children.push(child);
  return new Promise((resolve, reject) => {
    child.on('message', (report: FleetReport) => {
      if (report.event === 'ready') resolve(report);
      else onReport(report);
    });
    child.once('exit', (code, signal) => {
      const what = `a ${job.role} process exited (${code ?? signal})`;
      reject(new Error(what));
      // Its connections gone with it, and nobody to tell which closed.
      if (!run.stopping) run.problems.push(what);
    });
    child.send(job);
  });
}

type ProbeSamples = Extract<FleetReport, { event: 'samples' }>;

/** Starts the probe; returns how to ask it for its samples, one question at a time. */
async function startProbe(run: Run, device: DeviceLogin, onReport: (r: FleetReport) => void) {
  await startChild(
    run,
    { role: 'probe', port: PORTS.devices, device, intervalMs: PROBE_INTERVAL_MS },
    onReport,
  );
  const child = run.children.at(-1) as ChildProcess;
  return (query: ProbeQuery) =>
    new Promise<ProbeSamples>((resolve) => {
      const answer = (report: FleetReport) => {
        if (report.event !== 'samples') return;
        child.off('message', answer);
        resolve(report);
      };
      child.on('message', answer);
      child.send(query);
    });
}

/**
 * The broker's stall as the probe sees it, and its CPU time and its wait for a core (from
 * /proc/<pid>/schedstat: its own, not the machine's) beyond their rates in the quiet window.
 */
function createStallMeter(
  ask: (query: ProbeQuery) => Promise<ProbeSamples>,
  brokerPid: number,
  /** When the broker was told to reload. */
  signals: readonly number[],
) {
  // Nanoseconds on a core, and runnable waiting for one.
  const schedstat = () => {
    const [cpu, wait] = readFileSync(`/proc/${brokerPid}/schedstat`, 'utf8').split(' ').map(Number);
    return { cpu: cpu ?? 0, wait: wait ?? 0 };
  };
  let quietPerMs = { cpu: 0, wait: 0 };
  let settledLatencyMs = 20;

  const latencies = async (from: number, to: number) => {
    const asked = clock();
    const samples = await ask({ from, to });
    // A publish still unanswered has waited at least this long.
    return [...samples.latencies, ...samples.unanswered.map((sent) => asked - sent)];
  };
  // The probe back to its quiet latency: the last half second's publishes all answered promptly.
  const recovered = async () => {
    const now = clock();
    const recent = await latencies(now - 500, now - settledLatencyMs);
    return recent.length >= 25 && recent.every((l) => l < settledLatencyMs);
  };

  return {
    async quiet(ms: number): Promise<Latency> {
      const before = schedstat();
      const start = clock();
      await sleep(ms);
      const end = clock();
      const after = schedstat();
      quietPerMs = {
        cpu: (after.cpu - before.cpu) / 1e6 / (end - start),
        wait: (after.wait - before.wait) / 1e6 / (end - start),
      };
      const quiet = percentiles(await latencies(start, end));
      settledLatencyMs = Math.max(20, 3 * quiet.p99);
      return quiet;
    },
    /**
     * From `trigger` until `settled` (or `timeoutMs`), a second has passed since it and since the
     * broker was last told to reload (the sync's next pass of a burst comes sooner), and the probe
     * has recovered: its latency over that window, and the broker's CPU beyond the quiet rate.
     */
    async around(
      trigger: () => unknown,
      settled: () => boolean = () => true,
      timeoutMs = 60_000,
    ): Promise<Stall> {
      const before = schedstat();
      const start = clock();
      await trigger();
      let done = true;
      try {
        await waitFor(
          async () =>
            clock() - Math.max(start, signals.at(-1) ?? 0) >= 1000 && settled() && (await recovered()),
          'the broker to settle',
          { timeoutMs, intervalMs: 100 },
        );
      } catch {
        done = false;
      }
      const end = clock();
      const after = schedstat();
      return {
        ...percentiles(await latencies(start - 50, end)),
        cpuMs: (after.cpu - before.cpu) / 1e6 - quietPerMs.cpu * (end - start),
        waitMs: (after.wait - before.wait) / 1e6 - quietPerMs.wait * (end - start),
        settled: done,
      };
    },
  };
}

function percentiles(values: number[]): Latency {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  return { p50: at(0.5), p99: at(0.99), max: sorted.at(-1) ?? 0 };
}

/** The median stall (the longest PUBACK wait), broker CPU and wait for a core of repeated reloads, and each. */
function summarize(stalls: Stall[]) {
  const median = (values: number[]) => {
    const sorted = [...values].sort((a, b) => a - b);
    const middle = sorted.length >> 1;
    return sorted.length % 2
      ? (sorted[middle] ?? 0)
      : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
  };
  return {
    stallMs: median(stalls.map((s) => s.max)),
    cpuMs: median(stalls.map((s) => s.cpuMs)),
    waitMs: median(stalls.map((s) => s.waitMs)),
    stalls: stalls.map((s) => s.max),
    cpu: stalls.map((s) => s.cpuMs),
  };
}

/** The devices' password file with each hash at Mosquitto's default iterations, of the same secrets. */
function rehash(file: string, secrets: Map<string, string>): string {
  return file
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      const username = line.slice(0, line.indexOf(':'));
      if (username.startsWith('@')) return `${line}\n`; // a service account keeps its own
      const secret = secrets.get(username);
      if (secret === undefined) throw new Error(`no secret known for ${username}`);
      // Mosquitto's default, which the service accounts keep.
      return `${username}:${hashBrokerPassword(secret, SERVICE_HASH_ITERATIONS)}\n`;
    })
    .join('');
}

// As the sync writes it: beside the file, then renamed over it, so the broker never reads half.
function replaceFile(path: string, content: string): void {
  const next = `${path}.bench.new`;
  writeFileSync(next, content, { mode: 0o600 });
  renameSync(next, path);
}

function printReport(r: Report) {
  const n = (x: number) => Math.round(x).toLocaleString('en-US');
  const ms = (x: number) => `${x < 10 ? x.toFixed(1) : n(x)} ms`;
  const s = (x: number) => `${(x / 1000).toFixed(2)} s`;
  const opt = (x: number | null) => (x === null ? '–' : s(x));
  const reloads = (k: { sync: number; broker: number }) =>
    `${k.sync} reload${k.sync === 1 ? '' : 's'} by the sync, ${k.broker} done by the broker`;
  const load = (l: number[]) => l.map((x) => x.toFixed(2)).join(' ');
  const latency = (l: Latency) => `p50 ${ms(l.p50)}, p99 ${ms(l.p99)}, max ${ms(l.max)}`;
  const stall = (l: Stall) =>
    `${latency(l)}; broker CPU ${ms(l.cpuMs)}, waited ${ms(l.waitMs)}${l.settled ? '' : ' (not settled)'}`;
  const each = (values: number[]) => values.map((x) => n(x)).join(', ');
  const repeated = (m: ReturnType<typeof summarize>) =>
    `stall ${ms(m.stallMs)} (${each(m.stalls)}); broker CPU ${ms(m.cpuMs)} (${each(m.cpu)}), waited ${ms(m.waitMs)}`;
  const { revocation: rev, iterations: it } = r;
  const rows: [string, string, string][] = [
    [
      `provision ${n(r.devices)} devices (${r.provision.imports} NDJSON import${r.provision.imports > 1 ? 's' : ''})`,
      `${s(r.provision.importMs)} (${n(r.provision.provisioned)} created)`,
      '≤ 60 s',
    ],
    [
      '  … until the broker admits them',
      `${s(r.provision.admittedMs)} (${reloads(r.provision.reloads)})`,
      '',
    ],
    [
      `connect all ${n(r.devices)}, each its own credentials`,
      `${s(r.connect.ms)} (${n(r.connect.connected)} connected, ${r.connect.refused} refused)`,
      '',
    ],
    [`probe PUBACK latency, quiet ${QUIET_S} s`, latency(r.quiet), ''],
    ['reload, nothing changed', stall(r.unchanged), 'max ≤ 1 s'],
    [`revoke ${r.revoke} through the API (½ DELETE, ½ disable)`, stall(rev), 'max ≤ 1 s'],
    ['  API calls', s(rev.callsMs), ''],
    [
      '  reloads',
      `${reloads(rev.reloads)}; the first signal ${opt(rev.signalMs)} after the first call`,
      '1, 1',
    ],
    [
      '  revoked devices disconnected',
      `${rev.disconnected} of ${r.revoke}, first ${opt(rev.firstDisconnectMs)}, last ${opt(rev.lastDisconnectMs)} after the first call`,
      'last ≤ 5 s',
    ],
    ['  other devices disconnected', String(r.otherDisconnected), '0'],
    [`import ${n(r.secondImport.created)} more devices`, stall(r.secondImport), 'max ≤ 1 s'],
    ['  import; reloads', `${s(r.secondImport.importMs)}; ${reloads(r.secondImport.reloads)}`, '1, 1'],
    [`reload, 1-iteration hashes (the product), median of ${it.one.stalls.length}`, repeated(it.one), ''],
    [
      `reload, 101-iteration hashes (baseline), median of ${it.hundredOne.stalls.length}`,
      repeated(it.hundredOne),
      '',
    ],
    [
      '  ratio 101 / 1 iterations',
      `stall ${it.stallRatio.toFixed(1)}×, broker CPU ${it.cpuRatio.toFixed(1)}×`,
      '',
    ],
  ];
  console.log(
    `Broker account benchmark: ${n(r.devices)} devices and a probe device on Mosquitto ${r.broker}, ` +
      `${n(it.accounts)} accounts in the file for the last two reloads (${n(it.connected)} connected)\n` +
      `machine: ${r.machine.cores} cores, load ${load(r.machine.loadAtStart)} at the start, ${load(r.machine.loadAtEnd)} at the end; ` +
      'the broker, the fleet and the API share it: compare ratios from one run, not absolute figures\n' +
      'stall = the probe’s longest PUBACK wait (QoS 1 every 2 ms) from the trigger until it is back to its quiet latency\n',
  );
  const width = Math.max(...rows.map(([label]) => label.length));
  const valueWidth = Math.max(...rows.map(([, value]) => value.length));
  console.log(`${'figure'.padEnd(width)}  ${'value'.padEnd(valueWidth)}  goal`);
  for (const [label, value, goal] of rows)
    console.log(`${label.padEnd(width)}  ${value.padEnd(valueWidth)}  ${goal}`);
}
