import { creationOrder, type Database, findKeysetPage } from '@iot-meter/common';
import { type Kysely, sql } from 'kysely';
import { queueNotifications } from '../alert-rules/alert-notifications.repository.js';

/** A list request, as the routes validate it. */
export type AlertQuery = {
  device_id?: string;
  acknowledged?: boolean;
  resolved?: boolean;
  severity?: string;
  alert_type?: string;
  rule_id?: number;
  limit: number;
  cursor?: string;
};

const COLUMNS = [
  'id',
  'device_id',
  'alert_type',
  'severity',
  'message',
  'acknowledged',
  'acknowledged_by',
  'acknowledged_at',
  'resolved_at',
  'created_at',
  'rule_id',
  'value',
  'started_at',
] as const;

/** One page of alerts, newest first, and the next page's cursor. */
export async function findAlerts(db: Kysely<Database>, filters: AlertQuery) {
  let query = db
    .selectFrom('device_alerts')
    .select([...COLUMNS, sql<string>`created_at::text`.as('created_at_key')]);
  if (filters.device_id !== undefined) query = query.where('device_id', '=', filters.device_id);
  if (filters.acknowledged !== undefined) query = query.where('acknowledged', '=', filters.acknowledged);
  if (filters.resolved !== undefined) {
    query = query.where('resolved_at', filters.resolved ? 'is not' : 'is', null);
  }
  if (filters.severity !== undefined) query = query.where('severity', '=', filters.severity);
  if (filters.alert_type !== undefined) query = query.where('alert_type', '=', filters.alert_type);
  if (filters.rule_id !== undefined) query = query.where('rule_id', '=', filters.rule_id);
  return findKeysetPage(query, creationOrder(true), filters);
}

export async function insertAlert(
  db: Kysely<Database>,
  alert: { device_id: string; alert_type: string; severity: string; message: string },
) {
  return db.insertInto('device_alerts').values(alert).returning(COLUMNS).executeTakeFirstOrThrow();
}

/** Acknowledges an alert; acknowledging again keeps who and when of the first time. */
export async function acknowledgeAlert(db: Kysely<Database>, id: number, by: string) {
  return db
    .updateTable('device_alerts')
    .set((eb) => ({
      acknowledged: true,
      acknowledged_by: eb.fn.coalesce('acknowledged_by', eb.val(by)),
      acknowledged_at: eb.fn.coalesce('acknowledged_at', sql<Date>`now()`),
    }))
    .where('id', '=', id)
    .returning(COLUMNS)
    .executeTakeFirst();
}

/**
 * Resolves an alert (again: unchanged). One a rule raised is notified as resolved, and the rule's
 * state for the device starts over: should the condition still hold, the rule raises a new alert.
 */
export async function resolveAlert(db: Kysely<Database>, id: number, targets: readonly string[]) {
  return db.transaction().execute(async (tx) => {
    const open = await tx
      .updateTable('device_alerts')
      .set({ resolved_at: sql<Date>`now()` })
      .where('id', '=', id)
      .where('resolved_at', 'is', null)
      .returning(['id', 'rule_id'])
      .executeTakeFirst();
    if (open?.rule_id != null) {
      await queueNotifications(tx, [open.id], 'resolved', targets);
      await tx
        .updateTable('alert_rule_states')
        .set({ state: 'resolved', since: sql`now()`, alert_id: null, updated_at: sql`now()` })
        .where('alert_id', '=', open.id)
        .execute();
    }
    return tx.selectFrom('device_alerts').select(COLUMNS).where('id', '=', id).executeTakeFirst();
  });
}
