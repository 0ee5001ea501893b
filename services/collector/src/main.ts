import { createLogger, loadConfig, onShutdown, serve, startTracing } from '@iot-meter/common';
import { createApp, SERVICE } from './app.js';
import { collectorConfig } from './config.js';

const config = loadConfig(collectorConfig, process.env);
const logger = createLogger(SERVICE, config.LOG_LEVEL);
const stopTracing = startTracing(SERVICE, process.env);
const server = await serve(createApp(), config.PORT);
logger.info({ port: server.port, clientId: config.MQTT_CLIENT_ID }, 'collector listening');

onShutdown(logger, async () => {
  await server.close();
  await stopTracing?.();
});
