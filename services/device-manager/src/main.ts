import {
  createDatabase,
  createInflux,
  createLogger,
  createObjectStore,
  loadConfig,
  onShutdown,
  serve,
  startTracing,
} from '@iot-meter/common';
import { sql } from 'kysely';
import { createApp, SERVICE } from './app.js';
import { deviceManagerConfig } from './config.js';

const config = loadConfig(deviceManagerConfig, process.env);
const logger = createLogger(SERVICE, config.LOG_LEVEL);
const stopTracing = await startTracing(SERVICE, process.env);
const db = createDatabase(config);
const objectStore = createObjectStore(config);
if (!config.API_ADMIN_KEY) logger.warn('API_ADMIN_KEY is not set: only keys already in the database work');

const app = createApp({
  db,
  influx: { query: createInflux(config).getQueryApi(config.INFLUX_ORG), bucket: config.INFLUX_BUCKET },
  archive: { store: objectStore, bucket: config.S3_BUCKET },
  logger,
  config,
  readiness: [
    { name: 'postgres', check: async () => void (await sql`select 1`.execute(db)) },
    {
      name: 'influxdb',
      check: async () => {
        const response = await fetch(new URL('/health', config.INFLUX_URL));
        if (!response.ok) throw new Error(`health ${response.status}`);
      },
    },
    {
      name: 'object_store',
      // Reachable is enough: the collectors create the bucket, and until then there is nothing to read.
      check: async () => void (await objectStore.bucketExists(config.S3_BUCKET)),
    },
  ],
});
const server = await serve(app, config.PORT);
logger.info({ port: server.port }, 'device-manager listening');

onShutdown(logger, async () => {
  await server.close();
  await db.destroy();
  await stopTracing?.();
});
