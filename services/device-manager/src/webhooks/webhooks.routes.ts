import { randomBytes } from 'node:crypto';
import { createRoute, z } from '@hono/zod-openapi';
import type { Database } from '@iot-meter/common';
import type { Kysely } from 'kysely';
import { requireRole } from '../auth/authenticate.js';
import { ApiError, unlessNameTaken } from '../http/api-errors.js';
import { errors, json, jsonBody, security } from '../http/openapi-helpers.js';
import { createRouter } from '../http/router.js';
import {
  deleteWebhook,
  findDeliveries,
  findWebhooks,
  insertWebhook,
  webhookExists,
} from './webhooks.repository.js';
import {
  createdWebhookSchema,
  createWebhookBody,
  deliverySchema,
  webhookIdParam,
  webhookSchema,
} from './webhooks.schema.js';

const tags = ['webhooks'];

type WebhookRow = Awaited<ReturnType<typeof insertWebhook>>;
const toWebhook = (row: WebhookRow) => ({ ...row, created_at: row.created_at.toISOString() });

function webhookNotFound(): never {
  throw new ApiError('webhook_not_found', 'Webhook not found');
}

/** `/api/webhooks`, for admins: a webhook's secret signs its deliveries, and is shown once. */
export function createWebhooksRoutes(db: Kysely<Database>) {
  const app = createRouter();
  const admin = [requireRole('admin')];

  app.openapi(
    createRoute({
      method: 'post',
      path: '/api/webhooks',
      tags,
      security,
      middleware: admin,
      summary:
        'Add a webhook: alert rule events are posted to it, signed (the secret is in this answer only)',
      request: { body: jsonBody(createWebhookBody) },
      responses: {
        201: json(createdWebhookSchema, 'the webhook, with its secret'),
        ...errors(400, 409, 413, 415),
      },
    }),
    async (c) => {
      const body = c.req.valid('json');
      const secret = body.secret ?? randomBytes(32).toString('base64url');
      const row = await unlessNameTaken('webhook_exists', 'webhook', body.name, () =>
        insertWebhook(db, { name: body.name, url: body.url, secret, enabled: body.enabled }),
      );
      return c.json({ ...toWebhook(row), secret }, 201);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/webhooks',
      tags,
      security,
      middleware: admin,
      summary: 'Webhooks (never their secrets)',
      responses: { 200: json(z.array(webhookSchema), 'the webhooks'), ...errors() },
    }),
    async (c) => c.json((await findWebhooks(db)).map(toWebhook), 200),
  );

  app.openapi(
    createRoute({
      method: 'delete',
      path: '/api/webhooks/{webhook_id}',
      tags,
      security,
      middleware: admin,
      summary: 'Delete a webhook and what was still to be delivered to it',
      request: { params: webhookIdParam },
      responses: { 200: json(webhookSchema, 'the deleted webhook'), ...errors(400, 404) },
    }),
    async (c) => {
      const row = await deleteWebhook(db, c.req.valid('param').webhook_id);
      if (!row) webhookNotFound();
      return c.json(toWebhook(row), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/webhooks/{webhook_id}/deliveries',
      tags,
      security,
      middleware: admin,
      summary: 'The webhook’s last 100 deliveries, newest first: attempts, last error, delivered or failed',
      request: { params: webhookIdParam },
      responses: { 200: json(z.array(deliverySchema), 'its deliveries'), ...errors(400, 404) },
    }),
    async (c) => {
      const id = c.req.valid('param').webhook_id;
      if (!(await webhookExists(db, id))) webhookNotFound();
      const rows = await findDeliveries(db, id, 100);
      const time = (d: Date | null) => d?.toISOString() ?? null;
      return c.json(
        rows.map((row) => ({
          id: row.id,
          event: row.event,
          alert_id: row.alert_id,
          idempotency_key: row.idempotency_key,
          status: row.delivered_at
            ? ('delivered' as const)
            : row.failed_at
              ? ('failed' as const)
              : ('pending' as const),
          attempts: row.attempts,
          last_error: row.last_error,
          next_attempt_at: row.delivered_at || row.failed_at ? null : time(row.next_attempt_at),
          delivered_at: time(row.delivered_at),
          failed_at: time(row.failed_at),
          created_at: row.created_at.toISOString(),
        })),
        200,
      );
    },
  );

  return app;
}
