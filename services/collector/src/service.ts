import {
  createLogger,
  createMetricsRegistry,
  loadConfig,
  onShutdown,
  type ReadinessCheck,
  serve,
} from '@iot-meter/common';
import { createApp, SERVICE } from './app.js';
import { type Collector, startCollector } from './collector.js';
import { collectorConfig } from './config.js';

/**
 * Loads the config, serves health and metrics, and runs the collector until SIGTERM; with `drain`,
 * empties a removed replica's session and exits.
 */
export async function startService(
  stopTracing: (() => Promise<void>) | undefined,
  drain: boolean,
): Promise<void> {
  const config = loadConfig(collectorConfig, process.env);
  const logger = createLogger(SERVICE, config.LOG_LEVEL);
  const registry = createMetricsRegistry(SERVICE);
  // Health answers while the collector waits for its stores; readiness follows the collector's checks.
  let collector: Collector | undefined;
  const readiness: ReadinessCheck[] = [
    {
      name: 'collector',
      check: async () => {
        if (!collector) throw new Error('starting');
      },
    },
  ];
  const server = await serve(createApp(registry, readiness), config.PORT);
  logger.info({ port: server.port, clientId: config.MQTT_CLIENT_ID }, 'collector listening');
  onShutdown(logger, async () => {
    await collector?.stop();
    await server.close();
    await stopTracing?.();
  });

  collector = await startCollector(config, logger, registry, { drain });
  readiness.push(...collector.readiness);
  if (drain) {
    await collector.drained(config.DRAIN_QUIET_MS);
    await collector.stop({ endSession: true });
    logger.info({ clientId: config.MQTT_CLIENT_ID }, 'session drained and ended');
    await server.close();
    process.exit(0);
  }
}
