import { randomBytes } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Counter } from 'prom-client';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { createMetricsRegistry } from '../src/metrics/create-metrics-registry.js';
import { createOpsRoutes } from '../src/ops/ops-routes.js';
import { serve } from '../src/ops/serve.js';

const env = inject('stackEnv');
const run = randomBytes(4).toString('hex');
const targetFile = join(env.PROMETHEUS_TARGETS_DIR ?? '', `vitest-${run}.json`);
const registry = createMetricsRegistry('vitest');
const server = await serve(createOpsRoutes({ service: 'vitest', registry }), 0, { hostname: '127.0.0.1' });

afterAll(async () => {
  await rm(targetFile, { force: true });
  await server.close();
});

async function query(promql: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
  const response = await fetch(`${env.PROMETHEUS_URL}/api/v1/query?query=${encodeURIComponent(promql)}`);
  const body = (await response.json()) as { status: string; data: { result: [] } };
  expect(body.status).toBe('success');
  return body.data.result;
}

describe('Prometheus', () => {
  it('scrapes a prom-client target and answers queries over its HTTP API', async () => {
    const counter = new Counter({ name: 'iot_meter_probe_total', help: 'probe', registers: [registry] });
    counter.inc(7);
    // Registering a target is writing a file_sd file; Prometheus picks it up within a second.
    await writeFile(targetFile, JSON.stringify([{ targets: [`127.0.0.1:${server.port}`], labels: { run } }]));

    const instance = `127.0.0.1:${server.port}`;
    await expect
      .poll(
        async () => (await query(`iot_meter_probe_total{run="${run}"}`)).map((r) => [r.metric, r.value[1]]),
        {
          timeout: 20_000,
          interval: 500,
        },
      )
      .toEqual([
        [{ __name__: 'iot_meter_probe_total', job: 'local', instance, run, service: 'vitest' }, '7'],
      ]);
    const up = await query(`up{run="${run}"}`);
    expect(up.map((r) => [r.metric, r.value[1]])).toEqual([
      [{ __name__: 'up', job: 'local', instance, run }, '1'],
    ]);
  });
});
