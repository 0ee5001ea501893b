import { randomBytes } from 'node:crypto';
import { type Generated, type Kysely, type Migration, Migrator, sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { databaseEnv, loadConfig } from '../src/index.js';
import { createDatabase } from '../src/storage/database.js';

type Schema = {
  probes: { id: Generated<number>; name: string; reading: number; created_at: Generated<Date> };
};

// Each run migrates a database of its own, so runs never see each other's rows.
const admin = createDatabase<unknown>(loadConfig(databaseEnv, inject('stackEnv')));
const dbName = `iot_test_${randomBytes(4).toString('hex')}`;
const url = new URL(inject('stackEnv').DATABASE_URL ?? '');
url.pathname = `/${dbName}`;
const db: Kysely<Schema> = createDatabase<Schema>({ DATABASE_URL: url.toString() });

const migrations: Record<string, Migration> = {
  '2026-11-29T00-00-00_probes': {
    async up(m) {
      await m.schema
        .createTable('probes')
        .addColumn('id', 'serial', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull().unique())
        .addColumn('reading', 'double precision', (c) => c.notNull())
        .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .execute();
    },
  },
};

beforeAll(async () => {
  await sql`create database ${sql.id(dbName)}`.execute(admin);
});

afterAll(async () => {
  await db.destroy();
  await sql`drop database if exists ${sql.id(dbName)}`.execute(admin);
  await admin.destroy();
});

describe('PostgreSQL through pg and kysely', () => {
  it('migrates a table, inserts rows and selects them back', async () => {
    const migrator = new Migrator({ db, provider: { getMigrations: async () => migrations } });
    const first = await migrator.migrateToLatest();
    expect(first.error).toBeUndefined();
    expect(first.results?.map((r) => [r.migrationName, r.status])).toEqual([
      ['2026-11-29T00-00-00_probes', 'Success'],
    ]);
    expect((await migrator.migrateToLatest()).results).toEqual([]);

    await db
      .insertInto('probes')
      .values([
        { name: 'alpha', reading: 21.5 },
        { name: 'beta', reading: -3.25 },
      ])
      .execute();
    const rows = await db.selectFrom('probes').select(['id', 'name', 'reading']).orderBy('id').execute();
    expect(rows).toEqual([
      { id: 1, name: 'alpha', reading: 21.5 },
      { id: 2, name: 'beta', reading: -3.25 },
    ]);
  });

  it('enforces constraints on the server', async () => {
    await expect(
      db.insertInto('probes').values({ name: 'alpha', reading: 1 }).execute(),
    ).rejects.toMatchObject({
      code: '23505',
    });
  });
});

describe('a connection that the server ends', () => {
  it('fails the transaction that held it, not the process, and the pool goes on', async () => {
    const failed = db.transaction().execute(async (trx) => {
      const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(trx);
      await sql`select pg_terminate_backend(${rows[0]?.pid})`.execute(admin);
      // The reset reaches the client while it is checked out and idle: no query is listening.
      await new Promise((r) => setTimeout(r, 300));
      await sql`select 1`.execute(trx);
    });
    await expect(failed).rejects.toThrow();
    const { rows } = await sql<{ one: number }>`select 1 as one`.execute(db);
    expect(rows).toEqual([{ one: 1 }]);
  });
});
