import type { Database } from '@iot-meter/common';
import type { Kysely } from 'kysely';

const PUBLIC = ['id', 'name', 'url', 'enabled', 'created_at'] as const;

/** The notifications a webhook's events are delivered from. */
export const webhookTarget = (id: number) => `webhook:${id}`;

export async function insertWebhook(
  db: Kysely<Database>,
  values: { name: string; url: string; secret: string; enabled: boolean },
) {
  return db.insertInto('webhooks').values(values).returning(PUBLIC).executeTakeFirstOrThrow();
}

export async function findWebhooks(db: Kysely<Database>) {
  return db.selectFrom('webhooks').select(PUBLIC).orderBy('id').execute();
}

/** Deletes a webhook and what was still to be delivered to it. */
export async function deleteWebhook(db: Kysely<Database>, id: number) {
  return db.transaction().execute(async (tx) => {
    const row = await tx.deleteFrom('webhooks').where('id', '=', id).returning(PUBLIC).executeTakeFirst();
    if (row) await tx.deleteFrom('alert_notifications').where('target', '=', webhookTarget(id)).execute();
    return row;
  });
}

export async function webhookExists(db: Kysely<Database>, id: number): Promise<boolean> {
  return (await db.selectFrom('webhooks').select('id').where('id', '=', id).executeTakeFirst()) !== undefined;
}

/** A webhook's deliveries, newest first. */
export async function findDeliveries(db: Kysely<Database>, id: number, limit: number) {
  return db
    .selectFrom('alert_notifications')
    .select([
      'id',
      'event',
      'alert_id',
      'idempotency_key',
      'attempts',
      'last_error',
      'next_attempt_at',
      'delivered_at',
      'failed_at',
      'created_at',
    ])
    .where('target', '=', webhookTarget(id))
    .orderBy('id', 'desc')
    .limit(limit)
    .execute();
}
