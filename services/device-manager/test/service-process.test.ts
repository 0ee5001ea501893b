import { type ChildProcess, spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { createTestDatabase, type TestDatabase } from '@iot-meter/common/testing';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { stackEnvFor } from '../../../scripts/stack/service-env.js';

const stackEnv = inject('stackEnv');
const KEY = 'tracing-admin-key-0123456789abcdef0123456';
type Span = { traceId: string; parentSpanId?: string; spanId: string; name: string; kind: number };
const spans: Span[] = [];
let collector: Server;
let service: ChildProcess;
let database: TestDatabase;
let base: string;

// The service runs as it does in production (compiled, its own process) and exports over OTLP/HTTP
// (JSON) to a receiver here.
beforeAll(async () => {
  collector = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => {
      body += chunk;
    });
    req.on('end', () => {
      if (req.url !== '/v1/traces') return void res.writeHead(200).end('{}');
      const data = JSON.parse(body) as {
        resourceSpans: { scopeSpans: { spans: Span[] }[] }[];
      };
      for (const r of data.resourceSpans) for (const s of r.scopeSpans) spans.push(...s.spans);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
  database = await createTestDatabase(stackEnv.DATABASE_URL ?? '');
  const port = 18_720;
  base = `http://127.0.0.1:${port}`;
  service = spawn(process.execPath, [fileURLToPath(new URL('../dist/main.js', import.meta.url))], {
    env: {
      ...process.env,
      ...stackEnvFor(stackEnv, 'DEVICE_MANAGER'),
      DATABASE_URL: database.urlAs(stackEnv.DEVICE_MANAGER_DATABASE_URL ?? ''),
      PORT: String(port),
      API_ADMIN_KEY: KEY,
      LOG_LEVEL: 'warn',
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${(collector.address() as AddressInfo).port}`,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_BSP_SCHEDULE_DELAY: '100',
    },
    stdio: 'inherit',
  });
  await vi.waitFor(
    async () => expect((await fetch(`${base}/healthz`)).ok, 'device-manager’s /healthz').toBe(true),
    { timeout: 10_000, interval: 100 },
  );
});
afterAll(async () => {
  service?.kill('SIGTERM');
  await new Promise((r) => service?.once('exit', r));
  await database?.drop();
  collector?.close();
});

describe('the service process', () => {
  it('exports a span per request, named by route, with its database and InfluxDB calls inside', async () => {
    const headers = { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' };
    await fetch(`${base}/api/devices`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ device_id: 'traced-1', device_name: 'T' }),
    });
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const metrics = await fetch(`${base}/api/devices/traced-1/metrics`, {
      headers: { ...headers, traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
    });
    expect(metrics.status).toBe(200);
    await expect
      .poll(() => spans.some((s) => s.name === 'influxdb query'), {
        timeout: 5000,
        interval: 100,
        message: 'the influxdb query span',
      })
      .toBe(true);
    const inTrace = spans.filter((s) => s.traceId === traceId);
    const request = inTrace.find((s) => s.name === 'GET /api/devices/:device_id/metrics');
    // The caller's traceparent is honoured: the request span continues its trace.
    expect(request?.parentSpanId).toBe('00f067aa0ba902b7');
    const names = inTrace.map((s) => s.name);
    expect(names).toContain('influxdb query');
    expect(names.filter((n) => n.startsWith('pg.query:SELECT')).length).toBeGreaterThanOrEqual(1);
    expect(inTrace.find((s) => s.name === 'influxdb query')?.parentSpanId).toBe(request?.spanId);
    expect(spans.some((s) => s.name === 'POST /api/devices')).toBe(true);
  });

  it('exports its database pool in /metrics', async () => {
    await fetch(`${base}/api/devices`, { headers: { authorization: `Bearer ${KEY}` } });
    const text = await (await fetch(`${base}/metrics`)).text();
    const value = (state: string) =>
      Number(
        new RegExp(`^db_pool_connections\\{state="${state}",service="device-manager"\\} (\\d+)$`, 'm').exec(
          text,
        )?.[1],
      );
    expect(value('total')).toBeGreaterThanOrEqual(1);
    expect(value('total')).toBeLessThanOrEqual(10);
    expect(value('idle')).toBeLessThanOrEqual(value('total'));
    expect(value('waiting')).toBe(0);
  });
});
