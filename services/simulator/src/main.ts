import { createLogger, loadConfig } from '@iot-meter/common';
import { startTracing } from '@iot-meter/common/tracing';
import { simulatorConfig } from './config.js';

const SERVICE = 'simulator';

const config = loadConfig(simulatorConfig, process.env);
const logger = createLogger(SERVICE, config.LOG_LEVEL);
const stopTracing = await startTracing(SERVICE, process.env);
// Fleet simulation lands with issue 5; until then the entry point validates its configuration.
logger.info({ mqttUrl: config.MQTT_URL }, 'simulator configuration valid');
await stopTracing?.();
