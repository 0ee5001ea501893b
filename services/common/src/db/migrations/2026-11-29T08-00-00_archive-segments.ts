import { type Kysely, sql } from 'kysely';

// Where each device's raw (or quarantined) messages sit in the object store: one row per device per
// archive object, with the byte range of that device's records, so the API reads one device's
// messages for a time range without touching other objects or other devices' bytes.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('archive_segments')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('raw', 'quarantine')`))
    .addColumn('device_id', 'text', (c) => c.notNull())
    .addColumn('object_key', 'text', (c) => c.notNull())
    .addColumn('byte_offset', 'bigint', (c) => c.notNull())
    .addColumn('byte_length', 'bigint', (c) => c.notNull())
    .addColumn('message_count', 'integer', (c) => c.notNull())
    .addColumn('first_received_at', 'timestamptz', (c) => c.notNull())
    .addColumn('last_received_at', 'timestamptz', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint('archive_segments_object_device', ['object_key', 'device_id'])
    .execute();
  await db.schema
    .createIndex('archive_segments_device_time')
    .on('archive_segments')
    .columns(['kind', 'device_id', 'first_received_at'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('archive_segments').execute();
}
