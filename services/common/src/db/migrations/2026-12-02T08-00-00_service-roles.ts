import { type Kysely, sql } from 'kysely';

// Least privilege (docs/security.md, "Least privilege in the stores"): each service logs in as a
// role that is a member of one of these group roles and gets only what its queries need. Grants are
// explicit per table, never default privileges, so a table added later is out of every service's
// reach until its own migration grants it. The group roles are created here only when missing
// (that needs CREATEROLE); the stack and the chart create them beforehand, as a superuser.
const COLLECTOR_ROLE = 'iot_meter_collector';
const DEVICE_MANAGER_ROLE = 'iot_meter_device_manager';

export async function up(db: Kysely<unknown>): Promise<void> {
  for (const role of [COLLECTOR_ROLE, DEVICE_MANAGER_ROLE]) {
    await sql`do $$ begin
      if not exists (select 1 from pg_roles where rolname = ${sql.lit(role)}) then
        create role ${sql.id(role)} nologin;
      end if;
    end $$`.execute(db);
  }
  const collector = sql.id(COLLECTOR_ROLE);
  const api = sql.id(DEVICE_MANAGER_ROLE);

  // The collector: its session filters, the archive index (insert only; ON CONFLICT reads the key's
  // columns), presence, sequence tracking, sequence-gap alerts (insert, for registered devices: of
  // the registry it sees device ids only) and command acks (the ack columns, found by the ids).
  // Upserts and UPDATE … WHERE read the rows they change, hence SELECT beside UPDATE.
  await sql`grant select, insert, update, delete on collector_sessions to ${collector}`.execute(db);
  await sql`grant insert, select (object_key, device_id) on archive_segments to ${collector}`.execute(db);
  await sql`grant usage on sequence archive_segments_id_seq to ${collector}`.execute(db);
  await sql`grant select, insert, update on device_presence, device_sequences to ${collector}`.execute(db);
  await sql`grant insert on device_alerts to ${collector}`.execute(db);
  await sql`grant usage on sequence device_alerts_id_seq to ${collector}`.execute(db);
  await sql`grant select (device_id) on devices to ${collector}`.execute(db);
  await sql`grant select (cmd_id, device_id, acked_at), update (status, ack_detail, acked_at)
    on device_commands to ${collector}`.execute(db);

  // The API (and the broker account sync, which reads devices and their credentials): the registry,
  // alerts, commands, presence, API keys and credentials; the archive index read-only. Not the
  // collector's session filters or sequence tracking.
  await sql`grant select, insert, update, delete
    on devices, device_configs, device_alerts, device_commands, device_presence, api_keys, device_credentials
    to ${api}`.execute(db);
  await sql`grant select on archive_segments to ${api}`.execute(db);
  await sql`grant usage on sequence devices_id_seq, device_configs_id_seq, device_alerts_id_seq,
    device_commands_id_seq, api_keys_id_seq to ${api}`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const role of [COLLECTOR_ROLE, DEVICE_MANAGER_ROLE]) {
    // The roles stay (they are cluster-wide and may serve other databases); their rights here go.
    await sql`revoke all on all tables in schema public from ${sql.id(role)}`.execute(db);
    await sql`revoke all on all sequences in schema public from ${sql.id(role)}`.execute(db);
  }
}
