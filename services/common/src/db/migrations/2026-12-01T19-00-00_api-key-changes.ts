import { type Kysely, sql } from 'kysely';

// Revoking a key (or changing its role) notifies `api_keys` when it commits, so every API replica
// drops the verified keys it keeps in memory at once, not after their cache time.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`create function notify_api_keys() returns trigger language plpgsql as $$
    begin
      perform pg_notify('api_keys', '');
      return null;
    end $$`.execute(db);
  await sql`create trigger api_keys_changed after update of revoked_at, role or delete or truncate on api_keys
    for each statement execute function notify_api_keys()`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop trigger api_keys_changed on api_keys`.execute(db);
  await sql`drop function notify_api_keys()`.execute(db);
}
