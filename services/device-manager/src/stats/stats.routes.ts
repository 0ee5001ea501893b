import { createRoute, z } from '@hono/zod-openapi';
import type { Database } from '@iot-meter/common';
import type { Kysely } from 'kysely';
import { errors, json, security } from '../http/openapi-helpers.js';
import { createRouter } from '../http/router.js';
import {
  findArchivedMessageCountsLastHour,
  findDeviceCountsByConnection,
  findDeviceCountsByStatus,
  findUnacknowledgedAlertCount,
} from './stats.repository.js';

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

/** The original API's counts, plus registered devices' connection status and recent message volume. */
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
      const [byStatus, connection, unacknowledged, volume] = await Promise.all([
        findDeviceCountsByStatus(db),
        findDeviceCountsByConnection(db),
        findUnacknowledgedAlertCount(db),
        findArchivedMessageCountsLastHour(db),
      ]);
      return c.json(
        {
          total_devices: byStatus.reduce((sum, r) => sum + r.count, 0),
          device_by_status: byStatus,
          unacknowledged_alerts: unacknowledged,
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
