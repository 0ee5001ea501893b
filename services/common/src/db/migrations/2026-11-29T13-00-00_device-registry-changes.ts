import { type Kysely, sql } from 'kysely';

// Every statement that changes `devices` notifies the `device_registry` channel when it commits, so
// each device-manager replica drops the registry answers it keeps in memory.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`create function notify_device_registry() returns trigger language plpgsql as $$
    begin
      perform pg_notify('device_registry', '');
      return null;
    end $$`.execute(db);
  await sql`create trigger devices_changed after insert or update or delete or truncate on devices
    for each statement execute function notify_device_registry()`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop trigger devices_changed on devices`.execute(db);
  await sql`drop function notify_device_registry()`.execute(db);
}
