import { type Kysely, sql } from 'kysely';

// Sequence gaps move onto alert rules (docs/architecture.md §9): the API's evaluator reads how many
// messages each device has missing from the collectors' tracking, and the collectors no longer
// write alerts, so they lose that right.
const COLLECTOR_ROLE = 'iot_meter_collector';
const DEVICE_MANAGER_ROLE = 'iot_meter_device_manager';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`grant select (device_id, missing) on device_sequences to ${sql.id(DEVICE_MANAGER_ROLE)}`.execute(
    db,
  );
  await sql`revoke insert on device_alerts from ${sql.id(COLLECTOR_ROLE)}`.execute(db);
  await sql`revoke usage on sequence device_alerts_id_seq from ${sql.id(COLLECTOR_ROLE)}`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`grant insert on device_alerts to ${sql.id(COLLECTOR_ROLE)}`.execute(db);
  await sql`grant usage on sequence device_alerts_id_seq to ${sql.id(COLLECTOR_ROLE)}`.execute(db);
  await sql`revoke select (device_id, missing) on device_sequences from ${sql.id(DEVICE_MANAGER_ROLE)}`.execute(
    db,
  );
}
