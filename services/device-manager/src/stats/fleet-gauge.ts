import type { Database } from '@iot-meter/common';
import { type Kysely, sql } from 'kysely';
import { Gauge, type Registry } from 'prom-client';

export const CONNECTION_STATES = ['online', 'offline', 'unknown'] as const;

/** Registered devices by connection status (presence from the collectors; `unknown`: never heard). */
export async function countDevicesByConnection(db: Kysely<Database>): Promise<Record<string, number>> {
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

/**
 * `iot_devices{connection_status}`, counted in PostgreSQL at each scrape: the fleet dashboard's
 * devices online. Every replica exports the same figure (dashboards take the max).
 */
export function registerFleetGauge(registry: Registry, db: Kysely<Database>): void {
  new Gauge({
    name: 'iot_devices',
    help: 'Registered devices by connection status',
    labelNames: ['connection_status'],
    registers: [registry],
    async collect() {
      const counts = await countDevicesByConnection(db);
      for (const state of CONNECTION_STATES) this.set({ connection_status: state }, counts[state] ?? 0);
    },
  });
}
