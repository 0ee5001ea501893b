import { createMetricsRegistry, createOpsRoutes } from '@iot-meter/common';
import type { Hono } from 'hono';

export const SERVICE = 'collector';

/** The collector's HTTP surface: health, readiness and metrics. */
export function createApp(): Hono {
  return createOpsRoutes({ service: SERVICE, registry: createMetricsRegistry(SERVICE) });
}
