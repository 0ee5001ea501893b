import type { Database } from '@iot-meter/common';
import { type Kysely, type Selectable, sql } from 'kysely';
import { queueNotifications } from './alert-notifications.repository.js';
import type { RuleKind, Scope } from './alert-rules.schema.js';
import type { Condition } from './rule-condition.js';

type AlertRulesTable = Database['alert_rules'];

/** A rule as stored, with its JSON columns typed. */
export type RuleRow = Omit<Selectable<AlertRulesTable>, 'condition' | 'scope' | 'kind'> & {
  kind: RuleKind;
  condition: Condition | null;
  scope: Scope;
};

/** What a rule is made of, as the routes (and rules as code) hand it over. */
export type RuleValues = {
  name: string;
  kind: RuleKind;
  metric: string | null;
  condition: Condition | null;
  for_seconds: number;
  scope: Scope;
  severity: string;
  message_template: string;
  enabled: boolean;
};

function columns(values: RuleValues) {
  return {
    ...values,
    condition: values.condition === null ? null : JSON.stringify(values.condition),
    scope: JSON.stringify(values.scope),
  };
}

export async function findRules(
  db: Kysely<Database>,
  filters: { kind?: RuleKind; enabled?: boolean } = {},
): Promise<RuleRow[]> {
  let query = db.selectFrom('alert_rules').selectAll().orderBy('id');
  if (filters.kind !== undefined) query = query.where('kind', '=', filters.kind);
  if (filters.enabled !== undefined) query = query.where('enabled', '=', filters.enabled);
  return (await query.execute()) as RuleRow[];
}

export async function findRule(db: Kysely<Database>, id: number): Promise<RuleRow | undefined> {
  return (await db.selectFrom('alert_rules').selectAll().where('id', '=', id).executeTakeFirst()) as
    | RuleRow
    | undefined;
}

export async function insertRule(
  db: Kysely<Database>,
  values: RuleValues,
  managedBy: string | null = null,
): Promise<RuleRow> {
  return (await db
    .insertInto('alert_rules')
    .values({ ...columns(values), managed_by: managedBy })
    .returningAll()
    .executeTakeFirstOrThrow()) as RuleRow;
}

/**
 * Replaces a rule's definition; its evaluation state starts over, since what it judged has changed,
 * and its open alerts resolve (notified to `targets`).
 */
export async function replaceRule(
  db: Kysely<Database>,
  id: number,
  values: RuleValues,
  targets: readonly string[],
) {
  return db.transaction().execute(async (tx) => {
    const row = await tx
      .updateTable('alert_rules')
      .set({ ...columns(values), updated_at: sql`now()` })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirst();
    if (row) await resolveOpenAlerts(tx, id, targets);
    return row as RuleRow | undefined;
  });
}

/** Deletes a rule; the alerts it raised stay, those still open resolved (notified to `targets`). */
export async function deleteRule(
  db: Kysely<Database>,
  id: number,
  targets: readonly string[],
): Promise<boolean> {
  return db.transaction().execute(async (tx) => {
    await resolveOpenAlerts(tx, id, targets);
    const result = await tx.deleteFrom('alert_rules').where('id', '=', id).executeTakeFirst();
    return result.numDeletedRows > 0n;
  });
}

async function resolveOpenAlerts(tx: Kysely<Database>, ruleId: number, targets: readonly string[]) {
  const resolved = await tx
    .updateTable('device_alerts')
    .set({ resolved_at: sql`now()` })
    .where('rule_id', '=', ruleId)
    .where('resolved_at', 'is', null)
    .returning('id')
    .execute();
  await queueNotifications(
    tx,
    resolved.map((r) => r.id),
    'resolved',
    targets,
  );
  await tx.deleteFrom('alert_rule_states').where('rule_id', '=', ruleId).execute();
}
