import { createRoute, z } from '@hono/zod-openapi';
import type { Database } from '@iot-meter/common';
import { type Kysely, sql } from 'kysely';
import { errors, json, security } from '../http/openapi-helpers.js';
import { createRouter } from '../http/router.js';
import { countDevicesByConnection } from './fleet-gauge.js';

const statsSchema = z
  .object({
    total_devices: z.number().int(),
    device_by_status: z.array(z.object({ status: z.string(), count: z.number().int() })),
    unacknowledged_alerts: z.number().int(),
    connection: z.object({
      online: z.number().int(),
      offline: z.number().int(),
      unknown: z.number().int(),
    }),
    messages_last_hour: z.number().int().openapi({ description: 'messages archived in the last hour' }),
    quarantined_last_hour: z.number().int(),
  })
  .openapi('Stats');

/** The seed's counts, plus registered devices' connection status and recent message volume. */
export function createStatsRoutes(db: Kysely<Database>) {
  const app = createRouter();
  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/stats',
      tags: ['stats'],
      security,
      summary: 'Fleet statistics',
      responses: { 200: json(statsSchema, 'the statistics'), ...errors() },
    }),
    async (c) => {
      const [byStatus, connection, alerts, volume] = await Promise.all([
        db
          .selectFrom('devices')
          .select(['status', sql<number>`count(*)::int`.as('count')])
          .groupBy('status')
          .orderBy('status')
          .execute(),
        countDevicesByConnection(db),
        db
          .selectFrom('device_alerts')
          .select(sql<number>`count(*)::int`.as('count'))
          .where('acknowledged', '=', false)
          .executeTakeFirstOrThrow(),
        // The archive index counts every stored message; a segment counts in the hour it ended.
        db
          .selectFrom('archive_segments')
          .select([
            sql<number>`coalesce(sum(message_count) filter (where kind = 'raw'), 0)::int`.as('raw'),
            sql<number>`coalesce(sum(message_count) filter (where kind = 'quarantine'), 0)::int`.as(
              'quarantine',
            ),
          ])
          .where('last_received_at', '>', sql<Date>`now() - interval '1 hour'`)
          .executeTakeFirstOrThrow(),
      ]);
      return c.json(
        {
          total_devices: byStatus.reduce((sum, r) => sum + r.count, 0),
          device_by_status: byStatus,
          unacknowledged_alerts: alerts.count,
          connection: {
            online: connection.online ?? 0,
            offline: connection.offline ?? 0,
            unknown: connection.unknown ?? 0,
          },
          messages_last_hour: volume.raw,
          quarantined_last_hour: volume.quarantine,
        },
        200,
      );
    },
  );
  return app;
}
