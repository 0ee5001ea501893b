import { type Kysely, sql } from 'kysely';

// A device's MQTT password, as the hash Mosquitto's password file holds (docs/security.md). The
// broker's accounts are derived from this table and `devices.status`; every statement that can
// change them notifies `broker_accounts`, so the account sync rewrites the broker's file at once.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('device_credentials')
    .addColumn('device_id', 'text', (c) => c.primaryKey().references('devices.device_id').onDelete('cascade'))
    .addColumn('password_hash', 'text', (c) => c.notNull())
    .addColumn('issued_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await sql`create function notify_broker_accounts() returns trigger language plpgsql as $$
    begin
      perform pg_notify('broker_accounts', '');
      return null;
    end $$`.execute(db);
  await sql`create trigger device_credentials_changed
    after insert or update or delete or truncate on device_credentials
    for each statement execute function notify_broker_accounts()`.execute(db);
  await sql`create trigger device_status_changed after update of status on devices
    for each statement execute function notify_broker_accounts()`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop trigger device_status_changed on devices`.execute(db);
  await db.schema.dropTable('device_credentials').execute();
  await sql`drop function notify_broker_accounts()`.execute(db);
}
