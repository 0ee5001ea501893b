import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import { type Database, type Logger, retryDelayMs } from '@iot-meter/common';
import { type Kysely, sql } from 'kysely';
import type { Registry } from 'prom-client';
import { notificationDeliveries } from '../alert-rules/notification-metrics.js';
import { allowedNetworks, guardedLookup, refusedAddress } from './webhook-address.js';
import { EVENT_ID_HEADER, SIGNATURE_HEADER, signDelivery, TIMESTAMP_HEADER } from './webhook-signature.js';

/** Deliveries are retried for this long after the event, then marked failed. */
export const GIVE_UP_AFTER_MS = 24 * 3_600_000;
const RETRY_MIN_MS = 5000;
const RETRY_MAX_MS = 3_600_000;

/** The JSON a webhook receives for an alert that fired or resolved. */
export type WebhookEvent = {
  id: string;
  event: 'firing' | 'resolved';
  alert: {
    id: number;
    device_id: string;
    severity: string;
    message: string;
    value: number | null;
    started_at: string | null;
    resolved_at: string | null;
  };
  rule: { id: number | null; name: string };
};

// Each webhook's oldest `perWebhook` undelivered notifications, oldest first (they are sent in that
// order), so one webhook's backlog never crowds out another's.
async function undelivered(db: Kysely<Database>, perWebhook: number) {
  return db
    .selectFrom('alert_notifications as n')
    .innerJoin('device_alerts as a', 'a.id', 'n.alert_id')
    .innerJoin('webhooks as w', (join) => join.on(sql<boolean>`n.target = 'webhook:' || w.id`))
    .select([
      'n.id',
      'n.event',
      'n.idempotency_key',
      'n.attempts',
      'n.next_attempt_at',
      'n.created_at',
      'n.target',
      'w.url',
      'w.secret',
      'a.id as alert_id',
      'a.device_id',
      'a.severity',
      'a.message',
      'a.value',
      'a.started_at',
      'a.resolved_at',
      'a.rule_id',
      'a.alert_type',
    ])
    .where(
      'n.id',
      'in',
      sql<string>`(select id from (select id, row_number() over (partition by target order by id) as rank
        from alert_notifications where delivered_at is null and failed_at is null and target like 'webhook:%') oldest
        where rank <= ${perWebhook})`,
    )
    .where('w.enabled', '=', true)
    .orderBy('n.id')
    .execute();
}

/**
 * Posts due webhook notifications from the outbox, each signed with its webhook's secret and
 * carrying its idempotency key, in the order they were written; a webhook whose delivery fails gets
 * nothing more in that round (its events stay in order), and the failed one is tried again after a
 * jittered, doubling delay (5 s to 1 h) until a day has passed, then marked failed. A secret is never
 * logged.
 */
export function createWebhookNotifier(options: {
  db: Kysely<Database>;
  logger: Logger;
  now?: () => number;
  timeoutMs?: number;
  /** A round stops starting deliveries after this long, so a slow receiver never holds up evaluation. */
  budgetMs?: number;
  registry?: Registry;
  /** Internal addresses (WEBHOOK_ALLOWED_NETWORKS) webhooks may reach; none by default. */
  allowedNetworks?: readonly string[];
}) {
  const { db, logger } = options;
  const now = options.now ?? Date.now;
  const deliveries = options.registry && notificationDeliveries(options.registry);

  const allowed = allowedNetworks(options.allowedNetworks ?? []);
  const lookup = guardedLookup(allowed);

  /** One signed POST; redirects are not followed, and internal addresses are refused (webhook-address.ts). */
  function post(url: string, secret: string, key: string, body: string): Promise<void> {
    const timestamp = String(Math.floor(now() / 1000));
    const target = new URL(url);
    const host = target.hostname.replace(/^\[|\]$/g, '');
    // A literal address is connected to without a lookup, so it is checked here.
    const refused = isIP(host) ? refusedAddress(host, allowed) : undefined;
    if (refused) return Promise.reject(new Error(`refused: ${refused}`));
    const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const request = send(
        target,
        {
          method: 'POST',
          lookup,
          headers: {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
            [EVENT_ID_HEADER]: key,
            [TIMESTAMP_HEADER]: timestamp,
            [SIGNATURE_HEADER]: signDelivery(secret, timestamp, body),
          },
          timeout: options.timeoutMs ?? 10_000,
        },
        (response) => {
          response.resume();
          const status = response.statusCode ?? 0;
          if (status >= 200 && status <= 299) resolve();
          else reject(new Error(`answered ${status}`));
        },
      );
      request.on('timeout', () => request.destroy(new Error('timed out')));
      request.on('error', reject);
      request.end(body);
    });
  }

  return {
    async deliver(): Promise<{ delivered: number; retrying: number; failed: number }> {
      const result = { delivered: 0, retrying: 0, failed: 0 };
      const blocked = new Set<string>();
      const started = performance.now();
      for (const row of await undelivered(db, 100)) {
        if (performance.now() - started > (options.budgetMs ?? 10_000)) break;
        if (blocked.has(row.target)) continue;
        // The oldest of a webhook's waits out its backoff, and the newer ones with it.
        if (row.next_attempt_at.getTime() > now()) {
          blocked.add(row.target);
          continue;
        }
        const event: WebhookEvent = {
          id: row.idempotency_key,
          event: row.event,
          alert: {
            id: row.alert_id,
            device_id: row.device_id,
            severity: row.severity,
            message: row.message ?? '',
            value: row.value,
            started_at: row.started_at?.toISOString() ?? null,
            // A firing event says so however late it is delivered; the resolved one that follows has the end.
            resolved_at: row.event === 'resolved' ? (row.resolved_at?.toISOString() ?? null) : null,
          },
          rule: { id: row.rule_id, name: row.alert_type },
        };
        try {
          await post(row.url, row.secret, row.idempotency_key, JSON.stringify(event));
          await db
            .updateTable('alert_notifications')
            .set({ delivered_at: new Date(now()), attempts: row.attempts + 1, last_error: null })
            .where('id', '=', row.id)
            .execute();
          result.delivered += 1;
          deliveries?.inc({ target: 'webhook', outcome: 'delivered' });
        } catch (err) {
          blocked.add(row.target);
          const nowMs = now();
          const error = (err as Error).message.slice(0, 500);
          const giveUp = nowMs - row.created_at.getTime() >= GIVE_UP_AFTER_MS;
          await db
            .updateTable('alert_notifications')
            .set({
              attempts: row.attempts + 1,
              last_error: error,
              ...(giveUp
                ? { failed_at: new Date(nowMs) }
                : {
                    next_attempt_at: new Date(
                      nowMs +
                        Math.max(RETRY_MIN_MS / 2, retryDelayMs(row.attempts, RETRY_MIN_MS, RETRY_MAX_MS)),
                    ),
                  }),
            })
            .where('id', '=', row.id)
            .execute();
          result[giveUp ? 'failed' : 'retrying'] += 1;
          deliveries?.inc({ target: 'webhook', outcome: giveUp ? 'given_up' : 'failed' });
          logger.warn({ target: row.target, notification: row.id, error, giveUp }, 'webhook delivery failed');
        }
      }
      return result;
    },
  };
}
