import { z } from '@hono/zod-openapi';
import { idParam, resourceName } from '../http/openapi-helpers.js';
import { storableText } from '../http/storable.js';

export const createWebhookBody = z
  .object({
    name: resourceName(),
    url: z
      .url({ protocol: /^https?$/, error: 'must be an http or https URL' })
      .max(2000)
      .openapi({ example: 'https://hooks.example.com/iot-meter' }),
    secret: storableText()
      .min(32, 'must be at least 32 characters')
      .max(200)
      .optional()
      .openapi({ description: 'the HMAC-SHA256 signing secret; generated when left out' }),
    enabled: z.boolean().default(true),
  })
  .strict()
  .openapi('WebhookCreate');

export const webhookSchema = z
  .object({
    id: z.number().int(),
    name: z.string(),
    url: z.string(),
    enabled: z.boolean(),
    created_at: z.iso.datetime(),
  })
  .openapi('Webhook');

export const createdWebhookSchema = webhookSchema
  .extend({
    secret: z.string().openapi({
      description: 'shown only in this answer: verify each delivery’s X-IoT-Meter-Signature with it',
    }),
  })
  .openapi('WebhookCreated');

export const deliverySchema = z
  .object({
    id: z.string(),
    event: z.enum(['firing', 'resolved']),
    alert_id: z.number().int(),
    idempotency_key: z.string().openapi({ description: 'sent as X-IoT-Meter-Event-Id and the body’s `id`' }),
    status: z.enum(['pending', 'delivered', 'failed']),
    attempts: z.number().int(),
    last_error: z.string().nullable(),
    next_attempt_at: z.iso.datetime().nullable(),
    delivered_at: z.iso.datetime().nullable(),
    failed_at: z.iso.datetime().nullable(),
    created_at: z.iso.datetime(),
  })
  .openapi('WebhookDelivery');

export const webhookIdParam = idParam('webhook_id');
