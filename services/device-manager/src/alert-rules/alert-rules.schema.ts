import { z } from '@hono/zod-openapi';
import { SEVERITIES } from '../alerts/alerts.schema.js';
import { deviceId } from '../devices/devices.schema.js';
import { idParam, resourceName } from '../http/openapi-helpers.js';
import { storableText } from '../http/storable.js';
import { type Condition, clearThresholdProblem } from './rule-condition.js';

export const RULE_KINDS = ['threshold', 'no_data', 'offline', 'sequence_gap'] as const;
export type RuleKind = (typeof RULE_KINDS)[number];

/** The fields a message template may name, as `{{field}}`. */
export const TEMPLATE_FIELDS = [
  'device_id',
  'rule',
  'metric',
  'value',
  'threshold',
  'severity',
  'for',
] as const;
const TEMPLATE_FIELD = /\{\{\s*([^}]*?)\s*\}\}/g;

const DURATION = /^(\d{1,7})(s|m|h|d)$/;
const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };
const MAX_FOR_SECONDS = 7 * 86_400;

/** A duration like `90s`, `5m`, `1h`, `1d`, in seconds; undefined when it is not one. */
export function parseDurationSeconds(text: string): number | undefined {
  const match = DURATION.exec(text);
  if (!match) return undefined;
  return Number(match[1]) * (UNIT_SECONDS[match[2] ?? 's'] ?? 1);
}

/** Seconds in the largest unit that divides them: 300 → `5m`, 90 → `90s`. */
export function formatDuration(seconds: number): string {
  for (const unit of ['d', 'h', 'm'] as const) {
    const size = UNIT_SECONDS[unit] ?? 1;
    if (seconds > 0 && seconds % size === 0) return `${seconds / size}${unit}`;
  }
  return `${seconds}s`;
}

const duration = z
  .string()
  .transform((text, ctx) => {
    const seconds = parseDurationSeconds(text);
    if (seconds === undefined || seconds > MAX_FOR_SECONDS) {
      ctx.addIssue({ code: 'custom', message: 'must be a duration like 30s, 5m, 1h or 1d, at most 7d' });
      return z.NEVER;
    }
    return seconds;
  })
  .openapi({ type: 'string', example: '5m' });

const finite = z.number().finite();

const comparison = z.object({
  op: z.enum(['>', '>=', '<', '<=']),
  value: finite,
  clear: finite.optional().openapi({
    description: 'once firing, the alert clears only at this value or beyond (the non-firing side)',
  }),
});
const range = z.object({
  op: z.enum(['outside', 'inside']),
  low: finite,
  high: finite,
  clear_low: finite.optional(),
  clear_high: finite.optional(),
});

export const conditionSchema = z
  .discriminatedUnion('op', [comparison.strict(), range.strict()])
  .superRefine((condition, ctx) => {
    const problem = clearThresholdProblem(condition);
    if (problem) ctx.addIssue({ code: 'custom', path: [problem.field], message: problem.message });
  })
  .openapi('AlertRuleCondition', {
    description:
      'threshold rules: `op` `>` `>=` `<` `<=` with `value`, or `outside`/`inside` with `low` and `high`; an optional clear threshold against flapping',
  });

const labelValue = storableText().min(1).max(255);
export const scopeSchema = z
  .union([
    z.object({ all_devices: z.literal(true) }).strict(),
    z.object({ device_type: storableText().min(1).max(100) }).strict(),
    z
      .object({
        labels: z
          .record(storableText().min(1).max(100), labelValue)
          .refine((labels) => Object.keys(labels).length > 0, 'must name at least one label'),
      })
      .strict(),
    z.object({ device_ids: z.array(deviceId).min(1).max(1000) }).strict(),
  ])
  .openapi('AlertRuleScope', {
    description:
      'exactly one of `all_devices: true`, `device_type`, `labels` (metadata, as `label=k:v` lists devices) or `device_ids`',
  });

export type Scope = z.infer<typeof scopeSchema>;

const template = storableText()
  .min(1)
  .max(1000)
  .superRefine((text, ctx) => {
    for (const [, field] of text.matchAll(TEMPLATE_FIELD)) {
      if (!(TEMPLATE_FIELDS as readonly string[]).includes(field ?? '')) {
        ctx.addIssue({
          code: 'custom',
          message: `unknown field {{${field}}}; known: ${TEMPLATE_FIELDS.join(', ')}`,
        });
        return;
      }
    }
  });

export const ruleBody = z
  .object({
    name: resourceName(),
    kind: z.enum(RULE_KINDS),
    metric: storableText().min(1).max(200).nullish(),
    condition: conditionSchema.nullish(),
    for: duration.default(0).openapi({
      description: 'threshold: how long the condition must hold before firing; no_data, offline: the silence',
    }),
    scope: scopeSchema,
    severity: z.enum(SEVERITIES).default('warning'),
    message: template.optional().openapi({
      description: `shown with the alert; may name ${TEMPLATE_FIELDS.map((f) => `{{${f}}}`).join(' ')}`,
    }),
    enabled: z.boolean().default(true),
  })
  .strict()
  .superRefine((rule, ctx) => {
    const needs = (field: 'metric' | 'condition', wanted: boolean, why: string) => {
      const given = rule[field] !== undefined && rule[field] !== null;
      if (given !== wanted) ctx.addIssue({ code: 'custom', path: [field], message: why });
    };
    if (rule.kind === 'threshold') {
      needs('metric', true, 'a threshold rule needs the metric it compares');
      needs('condition', true, 'a threshold rule needs a condition');
    } else {
      needs('condition', false, `a ${rule.kind} rule has no condition`);
      if (rule.kind !== 'no_data') needs('metric', false, `a ${rule.kind} rule has no metric`);
      if ((rule.kind === 'no_data' || rule.kind === 'offline') && rule.for === 0) {
        ctx.addIssue({
          code: 'custom',
          path: ['for'],
          message: `a ${rule.kind} rule needs a duration above 0s`,
        });
      }
    }
  })
  .openapi('AlertRuleCreate');

export type RuleBody = z.infer<typeof ruleBody>;

/** What a rule is made of, as the routes and rules as code hand it over. */
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

/** A validated body as stored. */
export function ruleValues(body: RuleBody): RuleValues {
  return {
    name: body.name,
    kind: body.kind,
    metric: body.metric ?? null,
    condition: body.condition ?? null,
    for_seconds: body.for,
    scope: body.scope,
    severity: body.severity,
    message_template: body.message ?? defaultTemplate(body.kind),
    enabled: body.enabled,
  };
}

export const ruleSchema = z
  .object({
    id: z.number().int(),
    name: z.string(),
    kind: z.enum(RULE_KINDS),
    metric: z.string().nullable(),
    condition: conditionSchema.nullable(),
    for: z.string(),
    scope: scopeSchema,
    severity: z.enum(SEVERITIES),
    message: z.string(),
    enabled: z.boolean(),
    managed_by: z.string().nullable().openapi({
      description: 'set for rules declared as code (the chart’s values); the API does not change those',
    }),
    created_at: z.iso.datetime(),
    updated_at: z.iso.datetime(),
  })
  .openapi('AlertRule');

export type Rule = z.infer<typeof ruleSchema>;

export const ruleIdParam = idParam('rule_id');

export const previewBody = z
  .object({
    rule: ruleBody,
    start: z.string().default('-24h').openapi({
      description: 'the window’s start: relative (-6h, -7d) or RFC 3339; at most 31 days before its stop',
    }),
    stop: z.string().default('now()').openapi({ description: 'its end: relative, now() or RFC 3339' }),
  })
  .strict()
  .openapi('AlertRulePreviewRequest');

/** The alerts a preview returns at most (`episode_count` says how many there were). */
export const PREVIEW_MAX_EPISODES = 1000;

export const previewSchema = z
  .object({
    start: z.iso.datetime(),
    stop: z.iso.datetime(),
    devices: z.number().int().openapi({ description: 'registered devices in the rule’s scope' }),
    samples: z.number().int().nullable().openapi({ description: 'threshold rules: the samples judged' }),
    episode_count: z.number().int(),
    episodes: z
      .array(
        z.object({
          device_id: z.string(),
          started_at: z.iso.datetime().openapi({ description: 'when the condition began to hold' }),
          fired_at: z.iso.datetime().openapi({ description: 'when the alert would have opened' }),
          value: z.number().nullable(),
          resolved_at: z.iso.datetime().nullable().openapi({ description: 'null: still firing at the stop' }),
          resolved_value: z.number().nullable(),
        }),
      )
      .openapi({ description: `oldest first, at most ${PREVIEW_MAX_EPISODES}` }),
  })
  .openapi('AlertRulePreview');

export const listRulesQuery = z.object({
  kind: z.enum(RULE_KINDS).optional(),
  enabled: z
    .enum(['true', 'false'])
    .transform((v) => v === 'true')
    .optional(),
});

/** The message a rule's alerts carry when it names none. */
export function defaultTemplate(kind: RuleKind): string {
  switch (kind) {
    case 'threshold':
      return '{{device_id}}: {{metric}} {{value}} breaks {{threshold}} ({{rule}})';
    case 'no_data':
      return '{{device_id}}: no telemetry for {{for}} ({{rule}})';
    case 'offline':
      return '{{device_id}}: offline for {{for}} ({{rule}})';
    case 'sequence_gap':
      return '{{device_id}}: {{value}} message(s) missing from its sequence ({{rule}})';
  }
}

/** A template with its fields filled in; a field without a value is left empty. */
export function renderTemplate(
  text: string,
  values: Partial<Record<(typeof TEMPLATE_FIELDS)[number], string>>,
) {
  return text.replace(TEMPLATE_FIELD, (_, field: string) => values[field as keyof typeof values] ?? '');
}
