import { ConfigError, createLogger, loadMqttClientOptions } from '@iot-meter/common';
import { HELP } from './cli-options.js';
import { loadSimulatorConfig, type SimulatorConfig } from './config.js';
import { Fleet } from './fleet.js';
import { serveOps } from './ops-server.js';
import { registerFleet } from './register.js';
import { progressLine, summarize, summaryText } from './report.js';

// The simulator's command line: flags in, a fleet on the broker, a summary out. Its stdout is the
// product (help, the summary) and so are a bad command line's problems and the live progress line
// on stderr; the logs go to stderr as JSON.

let config: SimulatorConfig;
try {
  config = loadSimulatorConfig(process.argv.slice(2), process.env);
} catch (err) {
  const problems = err instanceof ConfigError ? err.problems : [(err as Error).message];
  process.stderr.write(`${problems.map((problem) => `simulator: ${problem}\n`).join('')}(see --help)\n`);
  process.exit(2);
}
const { env, options } = config;
if (options.help) {
  process.stdout.write(`${HELP}\n`);
  process.exit(0);
}
const logger = createLogger('simulator', env.LOG_LEVEL, { to: 'stderr' });

// Registered, each device signs in as itself with the secret the API issued it (the broker admits
// it once the broker account sync applied it: until then its connects are refused and retried);
// otherwise every device uses the one account of MQTT_USERNAME, if any.
const passwords = new Map<string, string>();
const mqtt = loadMqttClientOptions(env);
const fleet = new Fleet(options.fleet, {
  url: options.mqttUrl,
  ca: mqtt.ca,
  login: (deviceId) => {
    const password = passwords.get(deviceId);
    return password === undefined
      ? { username: mqtt.username, password: mqtt.password }
      : { username: deviceId, password };
  },
});

if (options.register && env.API_URL && env.API_KEY) {
  const registerLog = logger.child({ module: 'register' });
  try {
    const { passwords: issued, ...result } = await registerFleet(
      fleet.devices,
      { url: env.API_URL, key: env.API_KEY },
      options.fleet.seed,
    );
    for (const [deviceId, password] of issued) passwords.set(deviceId, password);
    registerLog.info(result, 'fleet registered, each device with new credentials');
  } catch (err) {
    registerLog.error({ err }, 'registration failed');
    process.exit(1);
  }
}

const startedMs = Date.now();
const cpuAtStart = process.cpuUsage();
const live = process.stderr.isTTY && !options.json;
fleet.start();
// In a cluster (PORT set): health, readiness and metrics for the probes and Prometheus.
const ops = env.PORT ? await serveOps(fleet, env.PORT, logger.child({ module: 'ops' })) : undefined;

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
    process.stdout.write(`${options.json ? JSON.stringify(summary) : summaryText(summary)}\n`);
    process.exit(0);
  })();
  return stopping;
}
