import { createOpsRoutes, type ReadinessCheck } from '@iot-meter/common';
import type { Hono } from 'hono';
import type { Registry } from 'prom-client';

export const SERVICE = 'collector';

/** The collector's HTTP surface: health, readiness and metrics. */
export function createApp(registry: Registry, readiness: readonly ReadinessCheck[]): Hono {
  return createOpsRoutes({ service: SERVICE, registry, readiness });
}
