// npm run bench:api [-- --duration S --json]: the API's throughput and latency on the local stack,
// against a bare hono hello-world measured in the same run, with the read cache as configured by
// default and with it off (every request queries PostgreSQL or InfluxDB). Each server runs in its
// own process and autocannon drives it with 50 connections from this one.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { serve as serveNode } from '@hono/node-server';
import { createInflux, influxEnv, loadConfig } from '@iot-meter/common';
import { createTestDatabase, waitFor } from '@iot-meter/common/testing';
import autocannon from 'autocannon';
import { Hono } from 'hono';
import { readStackEnv } from '../../../scripts/stack/stack-env.js';
import { deviceManagerConfig } from '../src/config.js';

const READ_CACHE = `${deviceManagerConfig.shape.API_READ_CACHE_MS.parse(undefined)} ms`;

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '50' },
    json: { type: 'boolean', default: false },
    'serve-hello': { type: 'string' },
  },
});

// Child mode: the baseline server.
if (args['serve-hello']) {
  const app = new Hono();
  app.get('/', (c) => c.json({ hello: 'world' }));
  serveNode({ fetch: app.fetch, port: Number(args['serve-hello']), hostname: '127.0.0.1' });
} else {
  await main();
}

async function main() {
  const duration = Number(args.duration);
  const connections = Number(args.connections);
  const stackEnv = readStackEnv();
  const key = randomBytes(24).toString('hex');
  const database = await createTestDatabase(stackEnv.DATABASE_URL ?? '');
  const children: ChildProcess[] = [];
  const phase = (name: string) => process.stderr.write(`bench: ${name}\n`);
  try {
    const hello = await start(
      children,
      [...process.execArgv, fileURLToPath(import.meta.url), '--serve-hello', '18700'],
      {},
      18_700,
      '/',
    );
    const startApi = (port: number, env: Record<string, string>) =>
      start(
        children,
        [fileURLToPath(new URL('../dist/main.js', import.meta.url))],
        {
          ...stackEnv,
          DATABASE_URL: database.url,
          PORT: String(port),
          API_ADMIN_KEY: key,
          LOG_LEVEL: 'warn',
          API_RATE_LIMIT_PER_SECOND: '1000000',
          API_RATE_LIMIT_BURST: '1000000',
          API_CLIENT_RATE_LIMIT_PER_SECOND: '1000000',
          API_CLIENT_RATE_LIMIT_BURST: '1000000',
          ...env,
        },
        port,
        '/readyz',
      );
    const api = await startApi(18_701, {});
    const uncached = await startApi(18_702, { API_READ_CACHE_MS: '0' });
    const headers = { authorization: `Bearer ${key}` };

    phase('seeding 1,000 devices and an hour of 1 Hz data');
    const devices = Array.from({ length: 1000 }, (_, i) => ({
      device_id: `bench-${String(i).padStart(4, '0')}`,
      device_name: `Bench ${i}`,
      device_type: 'meter',
      location: `Hall ${i % 10}`,
      metadata: { rack: `r${i % 20}` },
    }));
    const imported = await fetch(`${api}/api/devices/import`, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/x-ndjson' },
      body: devices.map((d) => JSON.stringify(d)).join('\n'),
    });
    if (!imported.ok) throw new Error(`import failed: ${imported.status} ${await imported.text()}`);
    const metricsDevice = `bench-${randomBytes(3).toString('hex')}`;
    await fetch(`${api}/api/devices`, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify({ device_id: metricsDevice, device_name: 'Metrics' }),
    });
    const influx = loadConfig(influxEnv, stackEnv);
    const write = createInflux(influx).getWriteApi(influx.INFLUX_ORG, influx.INFLUX_BUCKET, 's');
    const now = Math.floor(Date.now() / 1000);
    write.writeRecords(
      Array.from(
        { length: 3600 },
        (_, i) =>
          `iot_telemetry,device_id=${metricsDevice},metric=power,unit=W value=${1000 + (i % 60)} ${now - 3600 + i}`,
      ),
    );
    await write.close();

    const run = async (name: string, url: string, withKey = true) => {
      phase(name);
      const result = await autocannon({ url, connections, duration, headers: withKey ? headers : {} });
      if (result.non2xx > 0 || result.errors > 0) {
        throw new Error(`${name}: ${result.non2xx} non-2xx answers, ${result.errors} errors`);
      }
      return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99 };
    };
    const paths = {
      list: '/api/devices?limit=50',
      get: '/api/devices/bench-0500',
      metricsRaw: `/api/devices/${metricsDevice}/metrics?start=-1h&metric=power`,
      metricsMean: `/api/devices/${metricsDevice}/metrics?start=-1h&metric=power&aggregate=mean&every=1m`,
    };
    const results = {
      hello: await run('hono hello-world (baseline)', `${hello}/`, false),
      list: await run('device list, page of 50', `${api}${paths.list}`),
      get: await run('device get', `${api}${paths.get}`),
      metricsRaw: await run('metrics, 1 hour of 1 Hz, raw', `${api}${paths.metricsRaw}`),
      metricsMean: await run('metrics, 1 hour of 1 Hz, 1-minute means', `${api}${paths.metricsMean}`),
      listUncached: await run('device list, cache off', `${uncached}${paths.list}`),
      getUncached: await run('device get, cache off', `${uncached}${paths.get}`),
      metricsRawUncached: await run('metrics raw, cache off', `${uncached}${paths.metricsRaw}`),
      metricsMeanUncached: await run('metrics means, cache off', `${uncached}${paths.metricsMean}`),
    };
    if (args.json) {
      console.log(JSON.stringify({ duration, connections, results }));
      return;
    }
    const rows: [string, keyof typeof results, string][] = [
      ['hono hello-world (baseline)', 'hello', ''],
      ['device list (1,000 devices, page of 50)', 'list', 'registry read'],
      ['device get', 'get', 'registry read'],
      ['metrics, 1 h of 1 Hz, raw (3,600 points)', 'metricsRaw', ''],
      ['metrics, 1 h of 1 Hz, 1-minute means', 'metricsMean', 'goal p99 ≤ 150 ms'],
      ['device list, cache off', 'listUncached', ''],
      ['device get, cache off', 'getUncached', ''],
      ['metrics raw, cache off', 'metricsRawUncached', ''],
      ['metrics 1-minute means, cache off', 'metricsMeanUncached', ''],
    ];
    console.log(
      `API benchmark: ${connections} connections, ${duration} s per run; read cache ${READ_CACHE} (the default) unless off\n`,
    );
    for (const [label, k, note] of rows) {
      const r = results[k];
      const ratio = k === 'hello' ? '' : `${(r.rps / results.hello.rps).toFixed(2)}× hello-world`;
      const goal = note === 'registry read' ? 'goals ≥ 0.5× hello-world, p99 ≤ 20 ms' : note;
      console.log(
        `${label.padEnd(44)} ${Math.round(r.rps).toLocaleString('en-US').padStart(7)} req/s  p50 ${String(r.p50).padStart(4)} ms  p99 ${String(r.p99).padStart(4)} ms  ${ratio}${goal ? `; ${goal}` : ''}`,
      );
    }
  } finally {
    for (const child of children) child.kill('SIGTERM');
    await Promise.all(children.map((c) => new Promise((r) => c.once('exit', r))));
    await database.drop();
  }
}

/** Starts a Node process (`argv` after `node`) and waits until `path` answers 200; returns its base URL. */
async function start(
  children: ChildProcess[],
  argv: string[],
  env: Record<string, string>,
  port: number,
  path: string,
): Promise<string> {
  const child = spawn(process.execPath, argv, {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  children.push(child);
  const base = `http://127.0.0.1:${port}`;
  await waitFor(
    () =>
      fetch(`${base}${path}`).then(
        (r) => r.ok,
        () => false,
      ),
    `${argv.join(' ')} to answer on ${base}${path}`,
    { timeoutMs: 30_000 },
  );
  return base;
}
