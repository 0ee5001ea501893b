import { type Kysely, sql } from 'kysely';

// Alert rules (docs/architecture.md §9): a rule, its evaluation state per device, and the alert a
// firing (rule, device) holds open. At most one open alert per (rule, device) is the database's
// promise, not only the evaluator's: two evaluators racing could not both open one.
const DEVICE_MANAGER_ROLE = 'iot_meter_device_manager';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('alert_rules')
    .addColumn('id', 'serial', (col) => col.primaryKey())
    .addColumn('name', 'text', (col) => col.notNull().unique())
    .addColumn('kind', 'text', (col) =>
      col.notNull().check(sql`kind in ('threshold', 'no_data', 'offline', 'sequence_gap')`),
    )
    .addColumn('metric', 'text')
    // The comparison and its clear threshold (threshold rules), as the API shows it.
    .addColumn('condition', 'jsonb')
    .addColumn('for_seconds', 'integer', (col) => col.notNull().defaultTo(0).check(sql`for_seconds >= 0`))
    .addColumn('scope', 'jsonb', (col) => col.notNull())
    .addColumn('severity', 'text', (col) => col.notNull().defaultTo('warning'))
    .addColumn('message_template', 'text', (col) => col.notNull())
    .addColumn('enabled', 'boolean', (col) => col.notNull().defaultTo(true))
    // Who keeps the rule: null for the API, a source name (the chart's values) for rules as code.
    .addColumn('managed_by', 'text')
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema
    .createTable('alert_rule_states')
    .addColumn('rule_id', 'integer', (col) => col.notNull().references('alert_rules.id').onDelete('cascade'))
    .addColumn('device_id', 'text', (col) => col.notNull())
    .addColumn('state', 'text', (col) => col.notNull().check(sql`state in ('pending', 'firing', 'resolved')`))
    // When the condition began to hold (pending, firing) or cleared (resolved), in the data's own time.
    .addColumn('since', 'timestamptz', (col) => col.notNull())
    .addColumn('value', 'double precision')
    // The newest sample judged: later passes judge only what is newer, backfilled samples included.
    .addColumn('evaluated_through', 'timestamptz', (col) => col.notNull())
    .addColumn('alert_id', 'integer', (col) => col.references('device_alerts.id').onDelete('set null'))
    .addColumn('updated_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('alert_rule_states_pkey', ['rule_id', 'device_id'])
    .execute();

  await db.schema
    .alterTable('device_alerts')
    .addColumn('rule_id', 'integer', (col) => col.references('alert_rules.id').onDelete('set null'))
    .addColumn('value', 'double precision')
    .addColumn('started_at', 'timestamptz')
    .execute();
  await sql`create unique index device_alerts_open_per_rule on device_alerts (rule_id, device_id)
    where rule_id is not null and resolved_at is null`.execute(db);

  // Webhooks: where alert events are posted, signed with the webhook's secret (kept to sign with,
  // shown once when made).
  await db.schema
    .createTable('webhooks')
    .addColumn('id', 'serial', (col) => col.primaryKey())
    .addColumn('name', 'text', (col) => col.notNull().unique())
    .addColumn('url', 'text', (col) => col.notNull())
    .addColumn('secret', 'text', (col) => col.notNull())
    .addColumn('enabled', 'boolean', (col) => col.notNull().defaultTo(true))
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .execute();

  // The outbox: a notification is written in the transaction that opens or resolves its alert, then
  // delivered to its target (Alertmanager), so a target that is down delays it and never loses it.
  await db.schema
    .createTable('alert_notifications')
    .addColumn('id', 'bigserial', (col) => col.primaryKey())
    .addColumn('alert_id', 'integer', (col) =>
      col.notNull().references('device_alerts.id').onDelete('cascade'),
    )
    .addColumn('event', 'text', (col) => col.notNull().check(sql`event in ('firing', 'resolved')`))
    // `alertmanager`, or `webhook:<id>`.
    .addColumn('target', 'text', (col) => col.notNull())
    // The receiver's key for telling a delivery repeated after a lost answer from a new event.
    .addColumn('idempotency_key', 'uuid', (col) => col.notNull().defaultTo(sql`gen_random_uuid()`))
    .addColumn('attempts', 'integer', (col) => col.notNull().defaultTo(0))
    .addColumn('next_attempt_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .addColumn('last_error', 'text')
    .addColumn('delivered_at', 'timestamptz')
    // Given up on (a webhook that failed for a day): kept, with its last error, for the API to show.
    .addColumn('failed_at', 'timestamptz')
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .execute();
  await sql`create index alert_notifications_due on alert_notifications (target, next_attempt_at)
    where delivered_at is null and failed_at is null`.execute(db);

  const api = sql.id(DEVICE_MANAGER_ROLE);
  await sql`grant select, insert, update, delete on alert_rules, alert_rule_states, alert_notifications,
    webhooks to ${api}`.execute(db);
  await sql`grant usage on sequence alert_rules_id_seq, alert_notifications_id_seq, webhooks_id_seq
    to ${api}`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop index if exists device_alerts_open_per_rule`.execute(db);
  await db.schema
    .alterTable('device_alerts')
    .dropColumn('rule_id')
    .dropColumn('value')
    .dropColumn('started_at')
    .execute();
  await db.schema.dropTable('alert_notifications').execute();
  await db.schema.dropTable('webhooks').execute();
  await db.schema.dropTable('alert_rule_states').execute();
  await db.schema.dropTable('alert_rules').execute();
}
