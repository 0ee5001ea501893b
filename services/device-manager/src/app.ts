import { createMetricsRegistry, createOpsRoutes } from '@iot-meter/common';
import { Hono } from 'hono';

export const SERVICE = 'device-manager';

/** The REST API. `/health` keeps the seed's answer; the ops routes add liveness, readiness, metrics. */
export function createApp(): Hono {
  const app = new Hono();
  app.get('/health', (c) => c.json({ status: 'healthy', service: SERVICE }));
  app.route('/', createOpsRoutes({ service: SERVICE, registry: createMetricsRegistry(SERVICE) }));
  return app;
}
