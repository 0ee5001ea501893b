import { z } from '@hono/zod-openapi';
import { deviceId } from '../devices/devices.schema.js';
import { idParam, rowId } from '../http/openapi-helpers.js';
import { storableText } from '../http/storable.js';

export const SEVERITIES = ['info', 'warning', 'error', 'critical'] as const;

export const alertSchema = z
  .object({
    id: z.number().int(),
    device_id: z.string(),
    alert_type: z.string(),
    severity: z.enum(SEVERITIES),
    message: z.string(),
    acknowledged: z.boolean(),
    acknowledged_by: z.string().nullable(),
    acknowledged_at: z.iso.datetime().nullable(),
    resolved_at: z.iso.datetime().nullable(),
    created_at: z.iso.datetime(),
    rule_id: z
      .number()
      .int()
      .nullable()
      .openapi({ description: 'the alert rule that raised it, if one did' }),
    value: z.number().nullable().openapi({ description: 'the value that made the rule fire' }),
    started_at: z.iso.datetime().nullable().openapi({
      description: 'when the rule’s condition began to hold, in the data’s own time',
    }),
  })
  .openapi('Alert');

export type Alert = z.infer<typeof alertSchema>;

export const createAlertBody = z
  .object({
    alert_type: z
      .string()
      .regex(/^[a-z0-9_.-]{1,100}$/, 'must be 1 to 100 of a-z 0-9 _ . -')
      .default('general'),
    severity: z.enum(SEVERITIES).default('info'),
    message: storableText().max(4000).default(''),
  })
  .openapi('AlertCreate');

const flag = z.enum(['true', 'false']).transform((v) => v === 'true');

export const listAlertsQuery = z.object({
  acknowledged: flag.optional().openapi({ description: 'true or false' }),
  resolved: flag.optional().openapi({ description: 'true or false' }),
  severity: z.enum(SEVERITIES).optional(),
  alert_type: storableText().optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: z.string().optional().openapi({ description: 'from the previous page’s X-Next-Cursor' }),
});

export const listAllAlertsQuery = listAlertsQuery.extend({
  device_id: deviceId.optional(),
  rule_id: rowId().optional().openapi({ description: 'alerts raised by this alert rule', type: 'integer' }),
});

export const alertIdParam = idParam('alert_id');
