import { type Kysely, sql } from 'kysely';

// The original API's registry tables (devices, device_configs, device_alerts, device_commands; times as
// timestamptz), plus what the collector keeps for every device it hears from, registered or not:
// presence (device_presence) and sequence tracking (device_sequences).
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('devices')
    .addColumn('id', 'serial', (c) => c.primaryKey())
    .addColumn('device_id', 'varchar(128)', (c) => c.notNull().unique())
    .addColumn('device_name', 'varchar(255)', (c) => c.notNull())
    .addColumn('device_type', 'varchar(100)')
    .addColumn('location', 'varchar(255)')
    .addColumn('status', 'varchar(50)', (c) => c.notNull().defaultTo('active'))
    .addColumn('metadata', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('last_heartbeat', 'timestamptz')
    .execute();

  await db.schema
    .createTable('device_configs')
    .addColumn('id', 'serial', (c) => c.primaryKey())
    .addColumn('device_id', 'varchar(128)', (c) =>
      c.notNull().references('devices.device_id').onDelete('cascade'),
    )
    .addColumn('config_key', 'varchar(255)', (c) => c.notNull())
    .addColumn('config_value', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint('device_configs_device_key', ['device_id', 'config_key'])
    .execute();

  await db.schema
    .createTable('device_alerts')
    .addColumn('id', 'serial', (c) => c.primaryKey())
    .addColumn('device_id', 'varchar(128)', (c) =>
      c.notNull().references('devices.device_id').onDelete('cascade'),
    )
    .addColumn('alert_type', 'varchar(100)', (c) => c.notNull())
    .addColumn('severity', 'varchar(50)', (c) => c.notNull().defaultTo('warning'))
    .addColumn('message', 'text')
    .addColumn('acknowledged', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('acknowledged_by', 'varchar(255)')
    .addColumn('acknowledged_at', 'timestamptz')
    .addColumn('resolved_at', 'timestamptz')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema
    .createIndex('device_alerts_device')
    .on('device_alerts')
    .columns(['device_id', 'created_at'])
    .execute();

  await db.schema
    .createTable('device_commands')
    .addColumn('id', 'serial', (c) => c.primaryKey())
    .addColumn('cmd_id', 'uuid', (c) => c.notNull().unique())
    .addColumn('device_id', 'varchar(128)', (c) =>
      c.notNull().references('devices.device_id').onDelete('cascade'),
    )
    .addColumn('cmd', 'varchar(100)', (c) => c.notNull())
    .addColumn('params', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('status', 'varchar(50)', (c) => c.notNull().defaultTo('pending'))
    .addColumn('ack_detail', 'text')
    .addColumn('created_by', 'varchar(255)')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('sent_at', 'timestamptz')
    .addColumn('acked_at', 'timestamptz')
    .execute();
  await db.schema
    .createIndex('device_commands_device')
    .on('device_commands')
    .columns(['device_id', 'created_at'])
    .execute();

  await db.schema
    .createTable('device_presence')
    .addColumn('device_id', 'varchar(128)', (c) => c.primaryKey())
    .addColumn('connection_status', 'varchar(20)', (c) =>
      c.notNull().check(sql`connection_status in ('online', 'offline')`),
    )
    .addColumn('status_changed_at', 'timestamptz', (c) => c.notNull())
    .addColumn('last_seen', 'timestamptz', (c) => c.notNull())
    .addColumn('fw_version', 'varchar(64)')
    .addColumn('uptime_s', 'bigint')
    .execute();
  await db.schema
    .createIndex('device_presence_status')
    .on('device_presence')
    .columns(['connection_status', 'last_seen'])
    .execute();

  // high_seq: highest seq of the current boot; missing: seqs below it not seen yet (each becomes a
  // gap once it falls out of the reordering window). Counters are totals since tracking began.
  await db.schema
    .createTable('device_sequences')
    .addColumn('device_id', 'varchar(128)', (c) => c.primaryKey())
    .addColumn('high_seq', 'bigint', (c) => c.notNull())
    .addColumn('missing', sql`bigint[]`, (c) => c.notNull().defaultTo(sql`'{}'`))
    .addColumn('received', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('duplicates', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('gaps', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('resets', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of [
    'device_sequences',
    'device_presence',
    'device_commands',
    'device_alerts',
    'device_configs',
    'devices',
  ]) {
    await db.schema.dropTable(table).execute();
  }
}
