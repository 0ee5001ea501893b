import { isDeepStrictEqual } from 'node:util';
import type { Database } from '@iot-meter/common';
import { type Kysely, type Selectable, sql } from 'kysely';
import { queueNotifications } from './alert-notifications.repository.js';
import type { RuleKind, RuleValues, Scope } from './alert-rules.schema.js';
import type { Condition } from './rule-condition.js';

type AlertRulesTable = Database['alert_rules'];

/** A rule as stored, with its JSON columns typed. */
export type RuleRow = Omit<Selectable<AlertRulesTable>, 'condition' | 'scope' | 'kind'> & {
  kind: RuleKind;
  condition: Condition | null;
  scope: Scope;
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
  return db.transaction().execute((tx) => replaceIn(tx, id, values, targets));
}

/** Deletes a rule; the alerts it raised stay, those still open resolved (notified to `targets`). */
export async function deleteRule(
  db: Kysely<Database>,
  id: number,
  targets: readonly string[],
): Promise<boolean> {
  return db.transaction().execute((tx) => deleteIn(tx, id, targets));
}

async function replaceIn(tx: Kysely<Database>, id: number, values: RuleValues, targets: readonly string[]) {
  const row = await tx
    .updateTable('alert_rules')
    .set({ ...columns(values), updated_at: sql`now()` })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirst();
  if (row) await resolveOpenAlerts(tx, id, targets);
  return row as RuleRow | undefined;
}

async function deleteIn(tx: Kysely<Database>, id: number, targets: readonly string[]) {
  await resolveOpenAlerts(tx, id, targets);
  const result = await tx.deleteFrom('alert_rules').where('id', '=', id).executeTakeFirst();
  return result.numDeletedRows > 0n;
}

/** What applying a declared set changed, by rule name. */
export type DeclaredRulesOutcome = {
  created: string[];
  updated: string[];
  deleted: string[];
  unchanged: string[];
};

/** A declared rule whose name a rule made through the API (or another owner) already has. */
export class DeclaredRuleConflict extends Error {}

/**
 * Makes the rules `owner` manages exactly `declared`: creates the new, updates the changed (their
 * state starting over, as through the API), deletes those no longer declared, and touches no rule of
 * anyone else. One transaction, serialised with other owners' runs, so a failed run changes nothing.
 */
export async function applyDeclaredRules(
  db: Kysely<Database>,
  owner: string,
  declared: readonly RuleValues[],
  targets: readonly string[],
): Promise<DeclaredRulesOutcome> {
  return db.transaction().execute(async (tx) => {
    // "IoT", rules as code: two Jobs (an upgrade while the last one retries) apply one at a time.
    await sql`select pg_advisory_xact_lock(${0x496f54}, 2)`.execute(tx);
    const names = declared.map((rule) => rule.name);
    const existing = (await tx
      .selectFrom('alert_rules')
      .selectAll()
      .where((eb) =>
        names.length > 0
          ? eb.or([eb('managed_by', '=', owner), eb('name', 'in', names)])
          : eb('managed_by', '=', owner),
      )
      .forUpdate()
      .execute()) as RuleRow[];
    const taken = existing.filter((row) => row.managed_by !== owner);
    if (taken.length > 0) {
      const list = taken.map((row) => `${row.name} (${row.managed_by ?? 'made through the API'})`);
      throw new DeclaredRuleConflict(`rules already exist under these names: ${list.join(', ')}`);
    }
    const byName = new Map(existing.map((row) => [row.name, row]));
    const outcome: DeclaredRulesOutcome = { created: [], updated: [], deleted: [], unchanged: [] };
    for (const values of declared) {
      const row = byName.get(values.name);
      byName.delete(values.name);
      if (!row) {
        await tx
          .insertInto('alert_rules')
          .values({ ...columns(values), managed_by: owner })
          .execute();
        outcome.created.push(values.name);
      } else if (sameDefinition(row, values)) {
        outcome.unchanged.push(values.name);
      } else {
        await replaceIn(tx, row.id, values, targets);
        outcome.updated.push(values.name);
      }
    }
    for (const row of byName.values()) {
      await deleteIn(tx, row.id, targets);
      outcome.deleted.push(row.name);
    }
    return outcome;
  });
}

/** Whether a stored rule already is `values`: an unchanged rule keeps its state and open alerts. */
function sameDefinition(row: RuleRow, values: RuleValues): boolean {
  const { name: _, ...definition } = values;
  return isDeepStrictEqual(
    {
      kind: row.kind,
      metric: row.metric,
      condition: row.condition,
      for_seconds: row.for_seconds,
      scope: row.scope,
      severity: row.severity,
      message_template: row.message_template,
      enabled: row.enabled,
    },
    definition,
  );
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
