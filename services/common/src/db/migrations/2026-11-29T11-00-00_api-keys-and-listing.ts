import { type Kysely, sql } from 'kysely';

// The device-manager's API keys (only a hash of each key is kept), and indexes for its lists:
// keyset pagination by creation time and filtering on metadata labels.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('api_keys')
    .addColumn('id', 'serial', (c) => c.primaryKey())
    .addColumn('name', 'varchar(100)', (c) => c.notNull())
    .addColumn('role', 'varchar(20)', (c) => c.notNull().check(sql`role in ('admin', 'operator', 'viewer')`))
    // The key's public part, shown in lists and used to find the row; the hash checks the secret.
    .addColumn('key_prefix', 'varchar(32)', (c) => c.notNull().unique())
    .addColumn('key_hash', 'varchar(64)', (c) => c.notNull())
    .addColumn('created_by', 'varchar(100)', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('last_used_at', 'timestamptz')
    .addColumn('revoked_at', 'timestamptz')
    .execute();

  await db.schema.createIndex('devices_created').on('devices').columns(['created_at', 'id']).execute();
  await db.schema.createIndex('devices_metadata').on('devices').using('gin').column('metadata').execute();
  await db.schema
    .createIndex('device_alerts_created')
    .on('device_alerts')
    .columns(['created_at', 'id'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('device_alerts_created').execute();
  await db.schema.dropIndex('devices_metadata').execute();
  await db.schema.dropIndex('devices_created').execute();
  await db.schema.dropTable('api_keys').execute();
}
