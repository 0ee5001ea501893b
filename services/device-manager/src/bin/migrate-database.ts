// `npm run -w services/device-manager migrate`: brings the schema to the newest migration (the
// chart runs the same before a release starts).
import { createDatabase, createLogger, databaseEnv, loadConfig, migrateToLatest } from '@iot-meter/common';
import type { Kysely } from 'kysely';

const config = loadConfig(databaseEnv, process.env);
const logger = createLogger('device-manager-migrate', 'info');
const db = createDatabase(config) as Kysely<unknown>;
try {
  const { results = [] } = await migrateToLatest(db);
  for (const r of results) logger.info({ migration: r.migrationName, status: r.status }, 'migration');
  logger.info({ applied: results.length }, 'schema is up to date');
} finally {
  await db.destroy();
}
