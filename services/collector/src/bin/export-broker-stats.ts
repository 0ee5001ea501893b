// The Mosquitto pod's metrics sidecar (the chart's mosquitto.metrics): the broker's $SYS figures,
// dropped messages above all, on /metrics. It ships in the collector's image.
import {
  createLogger,
  createMetricsRegistry,
  createOpsRoutes,
  loadConfig,
  onShutdown,
  serve,
} from '@iot-meter/common';
import { startBrokerExporter } from '../broker-stats/broker-exporter.js';
import { brokerExporterConfig } from '../config.js';

const SERVICE = 'broker-exporter';
const config = loadConfig(brokerExporterConfig, process.env);
const logger = createLogger(SERVICE, config.LOG_LEVEL);
const registry = createMetricsRegistry(SERVICE);
const exporter = startBrokerExporter(config, logger, registry);
const server = await serve(
  createOpsRoutes({ service: SERVICE, registry, readiness: [exporter.readiness] }),
  config.PORT,
);
logger.info({ port: server.port }, 'broker exporter listening');
onShutdown(logger, async () => {
  await exporter.stop();
  await server.close();
});
