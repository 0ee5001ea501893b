import type { Database } from '@iot-meter/common';
import { type Kysely, sql } from 'kysely';
import { queueNotifications } from './alert-notifications.repository.js';
import type { RuleRow } from './alert-rules.repository.js';
import type { Scope } from './alert-rules.schema.js';
import type { RuleState, Transition } from './judge.js';

export type StoredState = RuleState & { alertId: number | null };

/** A rule's state per device, as the last pass left it. */
export async function findRuleStates(
  db: Kysely<Database>,
  ruleId: number,
): Promise<Map<string, StoredState>> {
  const rows = await db.selectFrom('alert_rule_states').selectAll().where('rule_id', '=', ruleId).execute();
  return new Map(
    rows.map((row) => [
      row.device_id,
      {
        state: row.state,
        since: row.since.getTime(),
        value: row.value,
        evaluatedThrough: row.evaluated_through.getTime(),
        alertId: row.alert_id,
      },
    ]),
  );
}

export type ScopedDevice = { device_id: string; created_at: Date };

/** The registered devices a scope covers. */
export async function findScopeDevices(db: Kysely<Database>, scope: Scope): Promise<ScopedDevice[]> {
  let query = db.selectFrom('devices').select(['device_id', 'created_at']);
  if ('device_type' in scope) query = query.where('device_type', '=', scope.device_type);
  if ('labels' in scope)
    query = query.where(sql<boolean>`metadata @> ${JSON.stringify(scope.labels)}::jsonb`);
  if ('device_ids' in scope) query = query.where('device_id', 'in', scope.device_ids);
  return query.execute();
}

/** Devices seen since `sinceMs` (presence, which the collectors keep), with when they were last seen. */
export async function findDevicesSeenSince(
  db: Kysely<Database>,
  sinceMs: number,
): Promise<Map<string, number>> {
  const rows = await db
    .selectFrom('device_presence')
    .select(['device_id', 'last_seen'])
    .where('last_seen', '>=', new Date(sinceMs))
    .execute();
  return new Map(rows.map((row) => [row.device_id, row.last_seen.getTime()]));
}

// One array parameter, so a scope of any size (an IN list stops at 65,535 parameters).
const amongDevices = (ids: readonly string[]) => sql<boolean>`device_id = any(${[...ids]}::text[])`;

export type Presence = { status: 'online' | 'offline'; changedAt: number };

export async function findPresence(
  db: Kysely<Database>,
  deviceIds: readonly string[],
): Promise<Map<string, Presence>> {
  if (deviceIds.length === 0) return new Map();
  const rows = await db
    .selectFrom('device_presence')
    .select(['device_id', 'connection_status', 'status_changed_at'])
    .where(amongDevices(deviceIds))
    .execute();
  return new Map(
    rows.map((row) => [
      row.device_id,
      { status: row.connection_status, changedAt: row.status_changed_at.getTime() },
    ]),
  );
}

/**
 * How many messages each device has missing from its sequence now, by the collectors' tracking:
 * sent (later seqs arrived) but not received, while they may still come (within the reorder window).
 */
export async function findMissingMessages(
  db: Kysely<Database>,
  deviceIds: readonly string[],
): Promise<Map<string, number>> {
  if (deviceIds.length === 0) return new Map();
  const rows = await db
    .selectFrom('device_sequences')
    .select(['device_id', sql<number>`cardinality(missing)`.as('missing')])
    .where(amongDevices(deviceIds))
    .execute();
  return new Map(rows.map((row) => [row.device_id, Number(row.missing)]));
}

/** A device's judgement to store: its new state and the transitions that led there, oldest first. */
export type DeviceChange = {
  deviceId: string;
  state: RuleState;
  previous: StoredState | undefined;
  transitions: Transition[];
  message: (transition: Transition) => string;
};

/**
 * Stores one pass's changes of a rule in `tx`: a fired transition opens the (rule, device)'s alert
 * (the unique index keeps it to one: an alert already open is kept), a resolved one closes it at
 * the data's time; each also queues a notification per target; then the state. Returns the alerts
 * opened and closed.
 */
export async function storeChanges(
  tx: Kysely<Database>,
  rule: RuleRow,
  changes: readonly DeviceChange[],
  targets: readonly string[],
): Promise<{ opened: number; closed: number }> {
  let opened = 0;
  let closed = 0;
  for (const change of changes) {
    let alertId = change.previous?.alertId ?? null;
    for (const transition of change.transitions) {
      if (transition.kind === 'fired') {
        const inserted = await tx
          .insertInto('device_alerts')
          .values({
            device_id: change.deviceId,
            alert_type: rule.name,
            severity: rule.severity,
            message: change.message(transition),
            rule_id: rule.id,
            value: transition.value,
            started_at: new Date(transition.startedAt),
          })
          .onConflict((oc) =>
            oc
              .columns(['rule_id', 'device_id'])
              .where('rule_id', 'is not', null)
              .where('resolved_at', 'is', null)
              .doNothing(),
          )
          .returning('id')
          .executeTakeFirst();
        if (inserted) opened += 1;
        if (inserted) await queueNotifications(tx, [inserted.id], 'firing', targets);
        alertId = inserted?.id ?? (await findOpenAlertId(tx, rule.id, change.deviceId)) ?? null;
      } else {
        const resolved = await tx
          .updateTable('device_alerts')
          .set({ resolved_at: new Date(transition.at) })
          .where('rule_id', '=', rule.id)
          .where('device_id', '=', change.deviceId)
          .where('resolved_at', 'is', null)
          .returning('id')
          .execute();
        closed += resolved.length;
        await queueNotifications(
          tx,
          resolved.map((r) => r.id),
          'resolved',
          targets,
        );
      }
    }
    const state = {
      state: change.state.state,
      since: new Date(change.state.since),
      value: change.state.value,
      evaluated_through: new Date(change.state.evaluatedThrough),
      alert_id: alertId,
    };
    await tx
      .insertInto('alert_rule_states')
      .values({ rule_id: rule.id, device_id: change.deviceId, ...state })
      .onConflict((oc) =>
        oc.columns(['rule_id', 'device_id']).doUpdateSet({ ...state, updated_at: sql`now()` }),
      )
      .execute();
  }
  return { opened, closed };
}

async function findOpenAlertId(tx: Kysely<Database>, ruleId: number, deviceId: string) {
  const row = await tx
    .selectFrom('device_alerts')
    .select('id')
    .where('rule_id', '=', ruleId)
    .where('device_id', '=', deviceId)
    .where('resolved_at', 'is', null)
    .executeTakeFirst();
  return row?.id;
}

export async function countFiringBySeverity(db: Kysely<Database>) {
  const rows = await db
    .selectFrom('device_alerts')
    .select(['severity', (eb) => eb.fn.countAll<string>().as('count')])
    .where('rule_id', 'is not', null)
    .where('resolved_at', 'is', null)
    .groupBy('severity')
    .execute();
  return rows.map((row) => ({ severity: row.severity, count: Number(row.count) }));
}

// `webhook:<id>` counts as `webhook`: metric labels stay few however many webhooks there are.
const notificationTarget = sql<string>`case when target like 'webhook:%' then 'webhook' else target end`;

export async function countPendingNotifications(db: Kysely<Database>) {
  const rows = await db
    .selectFrom('alert_notifications')
    .select([notificationTarget.as('target'), (eb) => eb.fn.countAll<string>().as('count')])
    .where('delivered_at', 'is', null)
    .where('failed_at', 'is', null)
    .groupBy(notificationTarget)
    .execute();
  return rows.map((row) => ({ target: row.target, count: Number(row.count) }));
}
