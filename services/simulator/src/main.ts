import { HELP, parseCli } from './cli-options.js';
import { simulatorEnv } from './config.js';
import { Fleet } from './fleet.js';
import { serveOps } from './ops-server.js';
import { registerFleet } from './register.js';
import { progressLine, summarize, summaryText } from './report.js';

// The simulator's command line: flags in, a fleet on the broker, a summary out.

let options: ReturnType<typeof parseCli>;
let env: ReturnType<typeof simulatorEnv.parse>;
try {
  const parsed = simulatorEnv.safeParse(process.env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`${String(issue?.path[0])}: ${issue?.message}`);
  }
  env = parsed.data;
  options = parseCli(process.argv.slice(2), env);
} catch (err) {
  console.error(`simulator: ${(err as Error).message}\n(see --help)`);
  process.exit(2);
}
if (options.help) {
  console.log(HELP);
  process.exit(0);
}

const fleet = new Fleet(options.fleet, {
  url: options.mqttUrl,
  username: env.MQTT_USERNAME || undefined,
  password: env.MQTT_PASSWORD || undefined,
});

if (options.register) {
  const url = env.API_URL;
  const key = env.API_KEY;
  if (!url || !key) {
    console.error('simulator: --register needs API_URL and API_KEY (an operator key)');
    process.exit(2);
  }
  try {
    const result = await registerFleet(fleet.devices, { url, key }, options.fleet.seed);
    if (!options.json) console.error(`simulator: registered: ${JSON.stringify(result)}`);
  } catch (err) {
    console.error(`simulator: ${(err as Error).message}`);
    process.exit(1);
  }
}

const startedMs = Date.now();
const cpuAtStart = process.cpuUsage();
const live = process.stderr.isTTY && !options.json;
fleet.start();
// In a cluster (PORT set): health, readiness and metrics for the probes and Prometheus.
const ops = env.PORT ? await serveOps(fleet, env.PORT) : undefined;

let lastAcked = 0;
let stopping: Promise<void> | undefined;
const progress = setInterval(() => {
  const stats = fleet.stats();
  const perSecond = stats.telemetryAcked - lastAcked;
  lastAcked = stats.telemetryAcked;
  if (live) process.stderr.write(`\r\x1b[K${progressLine(stats, perSecond)}`);
  if (options.messages !== undefined && stats.telemetryAcked >= options.messages) void stop();
}, 1000);
if (options.durationS !== undefined) setTimeout(() => void stop(), options.durationS * 1000);
process.once('SIGINT', () => void stop());
process.once('SIGTERM', () => void stop());

function stop(): Promise<void> {
  stopping ??= (async () => {
    clearInterval(progress);
    if (live) process.stderr.write('\r\x1b[Kstopping: last telemetry and offline status…');
    const running = { stats: fleet.stats(), atMs: Date.now() };
    await fleet.stop();
    await ops?.close();
    const summary = summarize(fleet.stats(), running, options.fleet.seed, startedMs, cpuAtStart);
    if (live) process.stderr.write('\r\x1b[K');
    console.log(options.json ? JSON.stringify(summary) : summaryText(summary));
    process.exit(0);
  })();
  return stopping;
}
