import type { Database } from '@iot-meter/common';
import { type Kysely, sql } from 'kysely';

/**
 * Queues one notification per target for each alert that fired or resolved, in the caller's
 * transaction (the outbox): the fixed targets (Alertmanager, when configured) and every enabled
 * webhook.
 */
export async function queueNotifications(
  tx: Kysely<Database>,
  alertIds: readonly number[],
  event: 'firing' | 'resolved',
  targets: readonly string[],
): Promise<void> {
  for (const alertId of alertIds) {
    if (targets.length > 0) {
      await tx
        .insertInto('alert_notifications')
        .values(targets.map((target) => ({ alert_id: alertId, event, target })))
        .execute();
    }
    await tx
      .insertInto('alert_notifications')
      .columns(['alert_id', 'event', 'target'])
      .expression((eb) =>
        eb
          .selectFrom('webhooks')
          .select([
            eb.val(alertId).as('alert_id'),
            eb.val(event).as('event'),
            sql<string>`'webhook:' || id`.as('target'),
          ])
          .where('enabled', '=', true),
      )
      .execute();
  }
}
