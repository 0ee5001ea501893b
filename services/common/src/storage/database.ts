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
  return new Kysely<Schema>({ dialect: new PostgresDialect({ pool }) });
}
