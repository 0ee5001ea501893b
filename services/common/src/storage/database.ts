import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { DatabaseEnv } from '../config/env-schemas.js';

/** A kysely instance over a pg pool; `destroy()` closes the pool. */
export function createDatabase<Schema>(
  config: DatabaseEnv,
  options: { maxConnections?: number } = {},
): Kysely<Schema> {
  const pool = new pg.Pool({
    connectionString: config.DATABASE_URL,
    max: options.maxConnections ?? 10,
  });
  // An idle client whose server went away emits here; unhandled, that would end the process. The
  // pool drops the client, and the next query reconnects or fails to its caller, who retries.
  pool.on('error', () => {});
  return new Kysely<Schema>({ dialect: new PostgresDialect({ pool }) });
}
