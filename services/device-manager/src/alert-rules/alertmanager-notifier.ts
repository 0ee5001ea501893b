import { type Database, type Logger, retryDelayMs } from '@iot-meter/common';
import { type Kysely, sql } from 'kysely';
import type { Registry } from 'prom-client';
import { notificationDeliveries } from './notification-metrics.js';

export const ALERTMANAGER_TARGET = 'alertmanager';
const CHUNK = 500;

/** An alert as Alertmanager's `POST /api/v2/alerts` takes it. */
export type AlertmanagerAlert = {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
};

type AlertRow = {
  id: number;
  device_id: string;
  severity: string;
  message: string | null;
  value: number | null;
  started_at: Date | null;
  created_at: Date;
  resolved_at: Date | null;
  rule_id: number;
  rule_name: string;
  device_type: string | null;
  location: string | null;
};

/** Rule alerts with what Alertmanager's labels need (the bench reads them the same way). */
export function alertsWithRules(db: Kysely<Database>) {
  return db
    .selectFrom('device_alerts as a')
    .innerJoin('alert_rules as r', 'r.id', 'a.rule_id')
    .leftJoin('devices as d', 'd.device_id', 'a.device_id')
    .select([
      'a.id',
      'a.device_id',
      'a.severity',
      'a.message',
      'a.value',
      'a.started_at',
      'a.created_at',
      'a.resolved_at',
      'r.id as rule_id',
      'r.name as rule_name',
      'd.device_type',
      'd.location',
    ]);
}

/** Labels identify the alert (Alertmanager's fingerprint): rule and device, with what routes it. */
export function toAlertmanagerAlert(row: AlertRow, endsAt: Date): AlertmanagerAlert {
  const labels: Record<string, string> = {
    alertname: row.rule_name,
    rule: String(row.rule_id),
    device_id: row.device_id,
    severity: row.severity,
  };
  if (row.device_type) labels.device_type = row.device_type;
  if (row.location) labels.location = row.location;
  const annotations: Record<string, string> = { summary: row.message ?? '' };
  if (row.value !== null) annotations.value = String(row.value);
  return {
    labels,
    annotations,
    startsAt: (row.started_at ?? row.created_at).toISOString(),
    endsAt: endsAt.toISOString(),
  };
}

/**
 * Delivers rule alerts to Alertmanager as it expects them: every open alert again on each call,
 * ending a few intervals ahead (so Alertmanager resolves it by itself should we stop sending), and
 * each resolved one from the outbox with its end. An outbox row is marked delivered once Alertmanager
 * took its alert; while it is unreachable, rows wait with backoff and nothing is dropped.
 */
export function createAlertmanagerNotifier(options: {
  db: Kysely<Database>;
  url: string;
  intervalMs: number;
  logger: Logger;
  now?: () => number;
  timeoutMs?: number;
  registry?: Registry;
}) {
  const { db, logger } = options;
  const deliveries = options.registry && notificationDeliveries(options.registry);
  const now = options.now ?? Date.now;
  const endpoint = new URL('/api/v2/alerts', options.url).toString();

  async function post(alerts: AlertmanagerAlert[]) {
    const response = await fetch(endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(alerts),
      signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
    });
    if (!response.ok)
      throw new Error(`Alertmanager answered ${response.status}: ${(await response.text()).slice(0, 200)}`);
  }

  return {
    async deliver(): Promise<{ sent: number; failed: boolean }> {
      const nowMs = now();
      const due = await db
        .selectFrom('alert_notifications')
        .select(['id', 'alert_id', 'event', 'attempts'])
        .where('target', '=', ALERTMANAGER_TARGET)
        .where('delivered_at', 'is', null)
        .where('next_attempt_at', '<=', new Date(nowMs))
        .orderBy('id')
        .limit(5000)
        .execute();
      const open = await alertsWithRules(db).where('a.resolved_at', 'is', null).execute();
      const resolvedIds = [...new Set(due.filter((n) => n.event === 'resolved').map((n) => n.alert_id))];
      const resolved =
        resolvedIds.length > 0 ? await alertsWithRules(db).where('a.id', 'in', resolvedIds).execute() : [];
      // Alertmanager notifies only what it saw firing: an alert that resolved before it took the
      // firing one (it was down, or the alert opened and closed in one pass) goes out firing now,
      // and resolved in a later round.
      const unseen = new Set(
        (
          await db
            .selectFrom('alert_notifications')
            .select('alert_id')
            .where('target', '=', ALERTMANAGER_TARGET)
            .where('event', '=', 'firing')
            .where('delivered_at', 'is', null)
            .execute()
        ).map((n) => n.alert_id),
      );
      const until = new Date(nowMs + 4 * options.intervalMs);
      const firingFirst = resolved.filter((row) => unseen.has(row.id));
      const ending = resolved.filter((row) => !unseen.has(row.id));
      // Ended ones first: an alert that fired again with the same labels, sent after, is the one kept.
      const alerts = [
        ...ending.map((row) => toAlertmanagerAlert(row as AlertRow, row.resolved_at ?? new Date(nowMs))),
        ...[...open, ...firingFirst].map((row) => toAlertmanagerAlert(row as AlertRow, until)),
      ];
      try {
        for (let i = 0; i < alerts.length; i += CHUNK) await post(alerts.slice(i, i + CHUNK));
      } catch (err) {
        logger.warn(
          { err, alerts: alerts.length },
          'Alertmanager did not take the alerts; trying again later',
        );
        if (due.length > 0) {
          const attempts = Math.max(...due.map((n) => n.attempts)) + 1;
          await db
            .updateTable('alert_notifications')
            .set({
              attempts: sql`attempts + 1`,
              last_error: String((err as Error).message ?? err).slice(0, 500),
              next_attempt_at: new Date(nowMs + retryDelayMs(attempts, 1000, 300_000)),
            })
            .where(
              'id',
              'in',
              due.map((n) => n.id),
            )
            .execute();
        }
        deliveries?.inc({ target: ALERTMANAGER_TARGET, outcome: 'failed' });
        return { sent: 0, failed: true };
      }
      // Delivered: what was due (but the ends held back), and the firing notifications of every
      // alert just sent firing (also those still waiting out a backoff).
      const sentFiring = [...open, ...firingFirst].map((row) => row.id);
      const delivered = due
        .filter((n) => !(n.event === 'resolved' && unseen.has(n.alert_id)))
        .map((n) => n.id);
      if (delivered.length > 0 || sentFiring.length > 0) {
        await db
          .updateTable('alert_notifications')
          .set({ delivered_at: new Date(nowMs), attempts: sql`attempts + 1`, last_error: null })
          .where('target', '=', ALERTMANAGER_TARGET)
          .where('delivered_at', 'is', null)
          .where((eb) =>
            eb.or([
              eb('id', 'in', delivered.length > 0 ? delivered : ['0']),
              eb.and([
                eb('event', '=', 'firing'),
                eb('alert_id', 'in', sentFiring.length > 0 ? sentFiring : [0]),
              ]),
            ]),
          )
          .execute();
      }
      if (alerts.length > 0) deliveries?.inc({ target: ALERTMANAGER_TARGET, outcome: 'delivered' });
      return { sent: alerts.length, failed: false };
    },
  };
}
