import { createLogger, loadConfig, onShutdown, serve, startTracing } from '@iot-meter/common';
import { createApp, SERVICE } from './app.js';
import { deviceManagerConfig } from './config.js';

const config = loadConfig(deviceManagerConfig, process.env);
const logger = createLogger(SERVICE, config.LOG_LEVEL);
const stopTracing = await startTracing(SERVICE, process.env);
const server = await serve(createApp(), config.PORT);
logger.info({ port: server.port }, 'device-manager listening');

onShutdown(logger, async () => {
  await server.close();
  await stopTracing?.();
});
