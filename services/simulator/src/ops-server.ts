import {
  createMetricsRegistry,
  createMqttReadiness,
  createOpsRoutes,
  type Logger,
  serve,
} from '@iot-meter/common';
import { Gauge } from 'prom-client';
import type { Fleet } from './fleet.js';

/**
 * `/healthz`, `/readyz` (ready once a device is connected) and `/metrics` (the fleet's counts) on
 * `port`, for the simulator's Deployment.
 */
export async function serveOps(fleet: Fleet, port: number, logger: Logger) {
  const registry = createMetricsRegistry('simulator');
  const figures = {
    devices_connected: (s: ReturnType<Fleet['stats']>) => s.connected,
    messages_published: (s: ReturnType<Fleet['stats']>) => s.published,
    messages_acknowledged: (s: ReturnType<Fleet['stats']>) => s.acked,
    telemetry_acknowledged: (s: ReturnType<Fleet['stats']>) => s.telemetryAcked,
    samples_buffered: (s: ReturnType<Fleet['stats']>) => s.buffered,
    samples_dropped: (s: ReturnType<Fleet['stats']>) => s.samplesDropped,
    errors: (s: ReturnType<Fleet['stats']>) => s.errors,
  };
  for (const [name, read] of Object.entries(figures)) {
    new Gauge({
      name: `simulator_${name}`,
      help: `the fleet's ${name.replaceAll('_', ' ')} (counts since start)`,
      registers: [registry],
      collect() {
        this.set(read(fleet.stats()));
      },
    });
  }
  const server = await serve(
    createOpsRoutes({
      service: 'simulator',
      registry,
      readiness: [
        createMqttReadiness({
          name: 'broker',
          connected: () => fleet.stats().connected > 0,
          reason: 'no device connected',
        }),
      ],
    }),
    port,
  );
  logger.info({ port: server.port }, 'ops listening');
  return server;
}
