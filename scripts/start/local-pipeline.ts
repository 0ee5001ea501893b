// npm start: the whole pipeline on this machine. The stack of real servers, the collector, the
// device-manager and a small simulated fleet registered in the API; prints where to look, and on
// Ctrl-C (or SIGTERM) stops it all: the fleet says offline, the collector stores the rest and ends
// its broker session, the stack stops if this started it.
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { stackEnvFor } from '../stack/service-env.js';
import { readStackEnv } from '../stack/stack-env.js';

const { values: args } = parseArgs({
  options: {
    devices: { type: 'string', default: '20' },
    'send-interval': { type: 'string', default: '5' },
    'api-port': { type: 'string', default: '8080' },
    'collector-port': { type: 'string', default: '8081' },
    'accounts-port': { type: 'string', default: '8082' },
    // Rules as code: the set this file declares is made true at each start.
    'alert-rules': { type: 'string', default: 'scripts/start/alert-rules.yaml' },
  },
});

const root = fileURLToPath(new URL('../..', import.meta.url));
const stackScript = join(root, 'scripts/stack/stack.sh');
const logDir = join(tmpdir(), `iot-meter-local-${args['api-port']}`);
const apiUrl = `http://127.0.0.1:${args['api-port']}`;
const collectorUrl = `http://127.0.0.1:${args['collector-port']}`;
// Its own broker session: ended on the way out, so no queue is left behind for it.
const COLLECTOR_CLIENT_ID = `collector-local-${args['collector-port']}`;
const say = (line: string) => process.stdout.write(`iot-meter: ${line}\n`);
// Output may be a pipe that dies first (`npm start | tee log` and Ctrl-C): losing it must not stop
// the shutdown half-way, so writes to it may fail quietly.
for (const stream of [process.stdout, process.stderr]) stream.on('error', () => {});

const stackWasUp = spawnSync('bash', [stackScript, 'status'], { stdio: 'ignore' }).status === 0;
execFileSync('bash', [stackScript, 'up'], { stdio: ['ignore', 'inherit', 'inherit'] });
const stackEnv = readStackEnv();
mkdirSync(logDir, { recursive: true });
const adminKey = randomBytes(24).toString('hex');
const serviceEnv = { ...process.env, ...stackEnv, LOG_LEVEL: 'info' };
// Each service with its own accounts at the broker and in the stores (docs/security.md §1, §2);
// migrations run as the owner.
const collectorEnv = {
  ...serviceEnv,
  ...stackEnvFor(stackEnv, 'COLLECTOR'),
  PORT: args['collector-port'],
  MQTT_CLIENT_ID: COLLECTOR_CLIENT_ID,
};
const deviceManagerEnv = { ...serviceEnv, ...stackEnvFor(stackEnv, 'DEVICE_MANAGER') };
const targetFile = join(
  stackEnv.PROMETHEUS_TARGETS_DIR ?? logDir,
  `iot-meter-local-${args['api-port']}.json`,
);

// Children run in process groups of their own, so Ctrl-C reaches only this process, which stops
// them in order; and each gets SIGTERM from the kernel when this process dies however it dies
// (setpriv's parent-death signal survives the exec into node), so none outlives `npm start`.
const children = new Map<string, ChildProcess>();
let stopping = false;

/** Rules as code: makes the rules file's set true (as the API's database account), or stops here. */
function applyAlertRules() {
  const run = spawnSync(process.execPath, node(['services/device-manager/dist/bin/apply-alert-rules.js']), {
    env: {
      ...deviceManagerEnv,
      ALERT_RULES_FILE: resolve(root, args['alert-rules']),
      ALERT_RULES_OWNER: `file/${args['alert-rules']}`,
    },
    encoding: 'utf8',
  });
  const outcome = JSON.parse(run.stdout.trim().split('\n').at(-1) || '{}');
  if (run.status !== 0)
    throw new Error(`alert rules in ${args['alert-rules']}: ${outcome.err ?? run.stderr}`);
  const counts = ['created', 'updated', 'deleted', 'unchanged'].map((k) => `${outcome[k].length} ${k}`);
  say(`alert rules from ${args['alert-rules']}: ${counts.join(', ')}`);
}

function node(argv: string[]): string[] {
  return argv.map((a) => (a.startsWith('services/') ? join(root, a) : a));
}

function spawnService(
  argv: string[],
  env: NodeJS.ProcessEnv,
  stderr: 'pipe' | 'inherit' = 'pipe',
): ChildProcess {
  return spawn('setpriv', ['--pdeathsig', 'TERM', '--', process.execPath, ...node(argv)], {
    env,
    stdio: ['ignore', 'pipe', stderr],
    detached: true,
  });
}

/** A service with its output in `logDir/<name>.log`; an early exit stops everything. */
function startService(name: string, argv: string[], env: NodeJS.ProcessEnv): ChildProcess {
  const log = createWriteStream(join(logDir, `${name}.log`), { flags: 'a' });
  const child = spawnService(argv, env);
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  children.set(name, child);
  child.once('exit', (code, signal) => {
    children.delete(name);
    if (stopping) return;
    say(`${name} exited (${signal ?? code}); its log ends:\n${tail(join(logDir, `${name}.log`))}`);
    void shutdown(1);
  });
  return child;
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-15).join('\n');
  } catch {
    return '(no log)';
  }
}

async function ready(name: string, url: string): Promise<void> {
  for (let i = 0; i < 600 && !stopping; i += 1) {
    if (
      await fetch(url).then(
        (r) => r.ok,
        () => false,
      )
    )
      return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${name} did not become ready at ${url}`);
}

function exited(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

// Longer than any service's own shutdown (the collector's is 25 s): past it, one is stuck.
const STOP_TIMEOUT_MS = 40_000;

async function stop(name: string): Promise<void> {
  const child = children.get(name);
  child?.kill('SIGTERM');
  const timer = setTimeout(() => {
    say(`${name} did not stop within ${STOP_TIMEOUT_MS / 1000} s of SIGTERM; killing it`);
    child?.kill('SIGKILL');
  }, STOP_TIMEOUT_MS);
  await exited(child);
  clearTimeout(timer);
}

let finished: Promise<never> | undefined;
function shutdown(code: number): Promise<never> {
  finished ??= (async () => {
    stopping = true;
    say('stopping: the fleet, then the API and the collector…');
    await stop('simulator');
    await stop('device-manager');
    await stop('collector');
    await stop('broker-accounts');
    // Store what the session still holds and end it (the collector's scale-down path).
    spawnSync(process.execPath, node(['services/collector/dist/bundle/main.js', '--drain']), {
      env: collectorEnv,
      stdio: 'ignore',
      timeout: 60_000,
    });
    rmSync(targetFile, { force: true });
    if (!stackWasUp) {
      const down = spawnSync('bash', [stackScript, 'down'], { encoding: 'utf8' });
      process.stdout.write(down.stdout);
      process.stderr.write(down.stderr);
    }
    say(`stopped${stackWasUp ? ' (the stack was already running and still is)' : ''}`);
    process.exit(code);
  })();
  return finished;
}

process.on('SIGINT', () => void shutdown(0));
process.on('SIGTERM', () => void shutdown(0));

// `npm start` runs this under an `sh -c` that outlives npm killed outright, so start.sh names npm
// itself, and its death stops the pipeline as Ctrl-C would.
const launcher = Number(process.env.IOT_METER_LAUNCHER_PID);
if (Number.isInteger(launcher) && launcher > 1) {
  setInterval(() => {
    try {
      process.kill(launcher, 0);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ESRCH') void shutdown(0);
    }
  }, 500).unref();
}

try {
  execFileSync(process.execPath, node(['services/device-manager/dist/bin/migrate-database.js']), {
    env: serviceEnv,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  applyAlertRules();
  // The broker's password file, derived from PostgreSQL: the devices the API registers get in.
  startService('broker-accounts', ['services/device-manager/dist/bin/sync-broker-accounts.js'], {
    ...deviceManagerEnv,
    PORT: args['accounts-port'],
  });
  startService(
    'collector',
    ['--max-old-space-size=192', 'services/collector/dist/bundle/main.js'],
    collectorEnv,
  );
  startService('device-manager', ['services/device-manager/dist/main.js'], {
    ...deviceManagerEnv,
    PORT: args['api-port'],
    API_ADMIN_KEY: adminKey,
  });
  await Promise.all([
    ready('broker-accounts', `http://127.0.0.1:${args['accounts-port']}/readyz`),
    ready('collector', `${collectorUrl}/readyz`),
    ready('device-manager', `${apiUrl}/readyz`),
  ]);
  writeFileSync(
    targetFile,
    JSON.stringify([
      { targets: [`127.0.0.1:${args['collector-port']}`], labels: { service: 'collector' } },
      { targets: [`127.0.0.1:${args['api-port']}`], labels: { service: 'device-manager' } },
      { targets: [`127.0.0.1:${args['accounts-port']}`], labels: { service: 'broker-accounts' } },
    ]),
  );
  const simulator = spawnService(
    [
      'services/simulator/dist/main.js',
      '--devices',
      args.devices,
      '--send-interval',
      args['send-interval'],
      '--register',
    ],
    // On the devices' listener, each device with the credentials registering issued it. Its logs
    // only when something is wrong: the banner says what runs.
    {
      ...serviceEnv,
      MQTT_URL: stackEnv.MQTT_DEVICE_URL,
      API_URL: apiUrl,
      API_KEY: adminKey,
      LOG_LEVEL: 'warn',
    },
    // On a terminal it draws its live status line there; a pipe goes through this process instead.
    process.stderr.isTTY ? 'inherit' : 'pipe',
  );
  // Through this process, so a broken output never reaches the fleet before it has said offline.
  simulator.stdout?.on('data', (chunk) => process.stdout.write(chunk));
  simulator.stderr?.on('data', (chunk) => process.stderr.write(chunk));
  children.set('simulator', simulator);
  simulator.once('exit', (code) => {
    children.delete('simulator');
    if (!stopping) {
      say(`the simulator exited (${code})`);
      void shutdown(1);
    }
  });
  const curl = `curl -H "Authorization: Bearer ${adminKey}"`;
  say(`running — Ctrl-C stops everything
  API docs        ${apiUrl}/docs
  admin key       ${adminKey}
  devices         ${curl} ${apiUrl}/api/devices
  metrics         ${curl} "${apiUrl}/api/devices/sim-001/metrics?start=-5m&aggregate=mean&every=30s"
  command         ${curl} -H "Content-Type: application/json" -d '{"cmd":"request_status"}' ${apiUrl}/api/devices/sim-001/commands
  Prometheus      ${stackEnv.PROMETHEUS_URL} (scrapes the collector, the API and the broker account sync)
  MinIO console   ${stackEnv.S3_CONSOLE_URL}
  logs            ${logDir}/
  fleet           ${args.devices} simulated devices, one message every ${args['send-interval']} s each,
                  each with its own MQTT credentials on ${stackEnv.MQTT_DEVICE_URL}`);
} catch (err) {
  say(`could not start: ${(err as Error).message}`);
  await shutdown(1);
}
