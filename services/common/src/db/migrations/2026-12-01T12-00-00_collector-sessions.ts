import { type Kysely, sql } from 'kysely';

// The filters each collector's persistent broker session holds, by MQTT client id: MQTT has no way
// to list a session's subscriptions, and a collector whose share group or topic set changed must
// unsubscribe the old ones or receive every message once per group for as long as the session lives.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('collector_sessions')
    .addColumn('client_id', 'text', (c) => c.primaryKey())
    .addColumn('filters', sql`text[]`, (c) => c.notNull())
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('collector_sessions').execute();
}
