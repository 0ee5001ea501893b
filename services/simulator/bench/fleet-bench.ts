// npm run bench:simulator [-- --devices 10000 --rate 5000 --duration 60 --json]: one simulator
// process with a connection per device at an aggregate telemetry rate, against a baseline measured
// in the same run: the same number of the same messages at the same rate from one MQTT.js
// connection. Prints rates, CPU and memory; the local stack's Mosquitto is the broker (MQTT_URL,
// MQTT_USERNAME and MQTT_PASSWORD name another), every connection authenticated as its test client.
// Devices' own credentials and what they cost the broker: npm run bench:broker-accounts.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { stackFleetEnv } from '@iot-meter/common/testing';
import mqtt from 'mqtt';
import { readStackEnv } from '../../../scripts/stack/stack-env.js';
import type { Summary } from '../src/report.js';

const { values: args } = parseArgs({
  options: {
    devices: { type: 'string', default: '10000' },
    rate: { type: 'string', default: '5000' },
    duration: { type: 'string', default: '60' },
    json: { type: 'boolean', default: false },
    baseline: { type: 'boolean', default: false },
  },
});
const devices = Number(args.devices);
const rate = Number(args.rate);
const duration = Number(args.duration);
// The local stack's broker unless told (the smoke run uses a broker of its own).
const broker =
  process.env.MQTT_URL !== undefined
    ? {
        MQTT_URL: process.env.MQTT_URL,
        MQTT_USERNAME: process.env.MQTT_USERNAME ?? '',
        MQTT_PASSWORD: process.env.MQTT_PASSWORD ?? '',
      }
    : stackFleetEnv(readStackEnv());
// A DC meter's message: two samples of two measurements (send interval twice the cadence).
const sample = (s: number) => [
  { ts: `2026-11-29T08:00:0${s}.000Z`, type: 'voltage_dc', val: 752.4, unit: 'V' },
  { ts: `2026-11-29T08:00:0${s}.000Z`, type: 'current_dc', val: 312.7, unit: 'A' },
];
const message = JSON.stringify({
  v: 2,
  device_id: 'bench-00001',
  ts: '2026-11-29T08:00:02.000Z',
  seq: 1,
  msg_type: 'telemetry',
  measurements: [...sample(0), ...sample(1)],
});

if (args.baseline) {
  await baseline();
} else {
  await main();
}

/** Child mode: publishes `rate` messages a second for `duration` seconds on one connection. */
async function baseline() {
  const client = await mqtt.connectAsync(broker.MQTT_URL, {
    protocolVersion: 5,
    clientId: 'bench-baseline',
    username: broker.MQTT_USERNAME,
    password: broker.MQTT_PASSWORD,
  });
  const started = Date.now();
  const cpu = process.cpuUsage();
  let acked = 0;
  let sent = 0;
  while (Date.now() - started < duration * 1000) {
    const due = Math.floor(((Date.now() - started) / 1000) * rate);
    for (; sent < due; sent += 1) {
      client.publish(`iot/bench-${sent % devices}/telemetry`, message, { qos: 1 }, (err) => {
        if (!err) acked += 1;
      });
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  await client.endAsync();
  const used = process.cpuUsage(cpu);
  const seconds = (Date.now() - started) / 1000;
  console.log(
    JSON.stringify({
      acked,
      perSecond: Math.round(acked / seconds),
      cpuCores: (used.user + used.system) / 1e6 / seconds,
    }),
  );
}

async function main() {
  const run = (argv: string[]) =>
    promisify(execFile)(process.execPath, argv, {
      env: { ...process.env, ...broker },
      maxBuffer: 1 << 24,
    }).then(({ stdout }) => JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}'));
  process.stderr.write('bench: baseline, one connection\n');
  const base = (await run([
    ...process.execArgv,
    fileURLToPath(import.meta.url),
    '--baseline',
    ...flags(),
  ])) as {
    acked: number;
    perSecond: number;
    cpuCores: number;
  };
  process.stderr.write(`bench: fleet of ${devices} devices, a connection each\n`);
  const sendInterval = Math.max(1, Math.round(devices / rate));
  const fleet = (await run([
    fileURLToPath(new URL('../dist/main.js', import.meta.url)),
    '--json',
    '--devices',
    String(devices),
    '--prefix',
    'bench-',
    '--types',
    'dc',
    '--send-interval',
    String(sendInterval),
    '--rate',
    String(rate),
    '--duration',
    String(duration),
  ])) as Summary;
  const perMessage = (cores: number, perSecond: number) => (cores / Math.max(perSecond, 1)) * 1e6;
  const baseCost = perMessage(base.cpuCores, base.perSecond);
  const fleetCost = perMessage(fleet.cpuCores, fleet.steadyTelemetryPerSecond ?? fleet.telemetryPerSecond);
  const results = {
    devices,
    rate,
    duration,
    sendInterval,
    baseline: base,
    fleet,
    cpuPerMessageRatio: fleetCost / baseCost,
  };
  if (args.json) {
    console.log(JSON.stringify(results));
    return;
  }
  const n = (v: number) => Math.round(v).toLocaleString('en-US');
  console.log(
    `Simulator benchmark: ${n(devices)} devices, target ${n(rate)} telemetry msg/s, ${duration} s\n`,
  );
  console.log(
    `one MQTT.js connection, same messages (baseline)  ${n(base.perSecond)} msg/s  ${base.cpuCores.toFixed(2)} cores  ${baseCost.toFixed(0)} µs CPU/msg`,
  );
  console.log(
    `simulator, ${n(devices)} connections              ${n(fleet.steadyTelemetryPerSecond ?? 0)} msg/s once connected (all up after ${fleet.rampSeconds} s)  ${fleet.cpuCores.toFixed(2)} cores  ${fleetCost.toFixed(0)} µs CPU/msg (${(fleetCost / baseCost).toFixed(1)}× baseline)  max RSS ${n(fleet.maxRssMiB)} MiB  errors ${n(fleet.errors)}`,
  );
}

function flags() {
  return ['--devices', String(devices), '--rate', String(rate), '--duration', String(duration)];
}
