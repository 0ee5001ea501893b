import { randomBytes } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import { migrateToLatest } from '../db/migrate.js';
import type { Database } from '../db/schema.js';
import { createDatabase } from '../storage/database.js';

export type TestDatabase = {
  /** The owner's URL (the stack's DATABASE_URL on this database): migrations and test setup. */
  url: string;
  /** This database under another login's credentials, e.g. the stack's COLLECTOR_DATABASE_URL. */
  urlAs: (loginUrl: string) => string;
  db: Kysely<Database>;
  drop: () => Promise<void>;
};

/** A fresh, migrated database on the stack's server, for one test file; `drop()` removes it. */
export async function createTestDatabase(databaseUrl: string): Promise<TestDatabase> {
  const name = `iot_test_${randomBytes(5).toString('hex')}`;
  const admin = createDatabase<unknown>({ DATABASE_URL: databaseUrl });
  await sql`create database ${sql.id(name)}`.execute(admin);
  const url = new URL(databaseUrl);
  url.pathname = `/${name}`;
  const db = createDatabase<Database>({ DATABASE_URL: url.toString() });
  await migrateToLatest(db as Kysely<unknown>);
  return {
    url: url.toString(),
    urlAs(loginUrl) {
      const login = new URL(loginUrl);
      const as = new URL(url);
      as.username = login.username;
      as.password = login.password;
      return as.toString();
    },
    db,
    async drop() {
      await db.destroy();
      await sql`drop database if exists ${sql.id(name)} with (force)`.execute(admin);
      await admin.destroy();
    },
  };
}
