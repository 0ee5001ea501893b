import type { Database } from '@iot-meter/common';
import type { Kysely } from 'kysely';

/** The filters the broker session of `clientId` may hold (none recorded: an empty list). */
export async function findSessionFilters(db: Kysely<Database>, clientId: string): Promise<string[]> {
  const row = await db
    .selectFrom('collector_sessions')
    .select('filters')
    .where('client_id', '=', clientId)
    .executeTakeFirst();
  return row?.filters ?? [];
}

/** Records the filters the session holds from now on. */
export async function saveSessionFilters(
  db: Kysely<Database>,
  clientId: string,
  filters: readonly string[],
): Promise<void> {
  await db
    .insertInto('collector_sessions')
    .values({ client_id: clientId, filters: [...filters] })
    .onConflict((oc) => oc.column('client_id').doUpdateSet({ filters: [...filters], updated_at: new Date() }))
    .execute();
}

/** Forgets a session the broker no longer keeps. */
export async function deleteSessionFilters(db: Kysely<Database>, clientId: string): Promise<void> {
  await db.deleteFrom('collector_sessions').where('client_id', '=', clientId).execute();
}
