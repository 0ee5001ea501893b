import type { Database } from '@iot-meter/common';
import { type Kysely, sql } from 'kysely';

export const CONNECTION_STATES = ['online', 'offline', 'unknown'] as const;

/** Registered devices by their `status`, in status order. */
export async function findDeviceCountsByStatus(db: Kysely<Database>) {
  return db
    .selectFrom('devices')
    .select(['status', sql<number>`count(*)::int`.as('count')])
    .groupBy('status')
    .orderBy('status')
    .execute();
}

/** Registered devices by connection status (presence from the collectors; `unknown`: never heard). */
export async function findDeviceCountsByConnection(db: Kysely<Database>): Promise<Record<string, number>> {
  const rows = await db
    .selectFrom('devices as d')
    .leftJoin('device_presence as p', 'p.device_id', 'd.device_id')
    .select([
      sql<string>`coalesce(p.connection_status, 'unknown')`.as('state'),
      sql<number>`count(*)::int`.as('count'),
    ])
    .groupBy(sql`coalesce(p.connection_status, 'unknown')`)
    .execute();
  const counts: Record<string, number> = Object.fromEntries(CONNECTION_STATES.map((s) => [s, 0]));
  for (const row of rows) counts[row.state] = row.count;
  return counts;
}

export async function findUnacknowledgedAlertCount(db: Kysely<Database>): Promise<number> {
  const row = await db
    .selectFrom('device_alerts')
    .select(sql<number>`count(*)::int`.as('count'))
    .where('acknowledged', '=', false)
    .executeTakeFirstOrThrow();
  return row.count;
}

/**
 * Messages archived in the last hour, raw and quarantined. The archive index counts every stored
 * message; a segment counts in the hour it ended.
 */
export async function findArchivedMessageCountsLastHour(db: Kysely<Database>) {
  return db
    .selectFrom('archive_segments')
    .select([
      sql<number>`coalesce(sum(message_count) filter (where kind = 'raw'), 0)::int`.as('raw'),
      sql<number>`coalesce(sum(message_count) filter (where kind = 'quarantine'), 0)::int`.as('quarantine'),
    ])
    .where('last_received_at', '>', sql<Date>`now() - interval '1 hour'`)
    .executeTakeFirstOrThrow();
}
