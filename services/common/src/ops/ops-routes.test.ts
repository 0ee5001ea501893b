import { Counter, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createOpsRoutes } from './ops-routes.js';

describe('ops routes', () => {
  const registry = new Registry();
  const app = createOpsRoutes({
    service: 'probe',
    registry,
    readiness: [
      { name: 'postgres', check: async () => {} },
      {
        name: 'influxdb',
        check: async () => {
          throw new Error('connect ECONNREFUSED 127.0.0.1:8086');
        },
      },
    ],
  });

  it('answers /healthz while alive', async () => {
    const response = await app.request('/healthz');
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'alive', service: 'probe' });
  });

  it('answers /readyz with 503 naming the unavailable dependency, without its error text', async () => {
    const response = await app.request('/readyz');
    expect(response.status).toBe(503);
    expect(await response.json()).toEqual({
      status: 'not ready',
      service: 'probe',
      checks: { postgres: 'ok', influxdb: 'unavailable' },
    });
  });

  it('serves the registry in the Prometheus text format', async () => {
    new Counter({ name: 'probe_events_total', help: 'events seen', registers: [registry] }).inc(3);
    const response = await app.request('/metrics');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe(registry.contentType);
    expect(await response.text()).toBe(
      '# HELP probe_events_total events seen\n# TYPE probe_events_total counter\nprobe_events_total 3\n',
    );
  });
});
