import { createRoute, z } from '@hono/zod-openapi';
import type { QueryApi } from '@influxdata/influxdb-client';
import type { Database } from '@iot-meter/common';
import type { Kysely } from 'kysely';
import { requireRole } from '../auth/authenticate.js';
import { ApiError, unlessNameTaken } from '../http/api-errors.js';
import { errors, json, jsonBody, security } from '../http/openapi-helpers.js';
import { createRouter } from '../http/router.js';
import { resolveTime } from '../telemetry/time-range.js';
import {
  deleteRule,
  findRule,
  findRules,
  insertRule,
  type RuleRow,
  replaceRule,
} from './alert-rules.repository.js';
import {
  formatDuration,
  listRulesQuery,
  PREVIEW_MAX_EPISODES,
  previewBody,
  previewSchema,
  type Rule,
  ruleBody,
  ruleIdParam,
  ruleSchema,
  ruleValues,
} from './alert-rules.schema.js';
import { previewRule } from './rule-preview.js';

const tags = ['alert rules'];
const PREVIEW_MAX_WINDOW_MS = 31 * 86_400_000;

export function toRule(row: RuleRow): Rule {
  return {
    id: row.id,
    name: row.name,
    kind: row.kind,
    metric: row.metric,
    condition: row.condition,
    for: formatDuration(row.for_seconds),
    scope: row.scope,
    severity: row.severity as Rule['severity'],
    message: row.message_template,
    enabled: row.enabled,
    managed_by: row.managed_by,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

function ruleNotFound(): never {
  throw new ApiError('rule_not_found', 'Alert rule not found');
}

/** Rules the API may change: not those declared as code, which their next sync would undo. */
async function requireApiManaged(db: Kysely<Database>, id: number): Promise<RuleRow> {
  const rule = await findRule(db, id);
  if (!rule) ruleNotFound();
  if (rule.managed_by !== null) {
    throw new ApiError(
      'rule_managed',
      `rule ${rule.name} is declared in ${rule.managed_by}; change it there`,
    );
  }
  return rule;
}

/**
 * `/api/alert-rules`: viewers read rules, operators write them, admins delete them. Alerts a change
 * resolves are notified to `notificationTargets` (and the webhooks).
 */
export function createAlertRulesRoutes(
  db: Kysely<Database>,
  notificationTargets: readonly string[],
  influx: { query: QueryApi; bucket: string },
) {
  const app = createRouter();
  const ruleId = (c: { req: { valid(target: 'param'): { rule_id: number } } }) =>
    c.req.valid('param').rule_id;

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/alert-rules',
      tags,
      security,
      summary: 'Alert rules, oldest first',
      request: { query: listRulesQuery },
      responses: { 200: json(z.array(ruleSchema), 'the rules'), ...errors(400) },
    }),
    async (c) => c.json((await findRules(db, c.req.valid('query'))).map(toRule), 200),
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/alert-rules/{rule_id}',
      tags,
      security,
      summary: 'One alert rule',
      request: { params: ruleIdParam },
      responses: { 200: json(ruleSchema, 'the rule'), ...errors(400, 404) },
    }),
    async (c) => {
      const rule = await findRule(db, ruleId(c));
      if (!rule) ruleNotFound();
      return c.json(toRule(rule), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/api/alert-rules',
      tags,
      security,
      middleware: [requireRole('operator')],
      summary: 'Create an alert rule',
      request: { body: jsonBody(ruleBody) },
      responses: { 201: json(ruleSchema, 'the new rule'), ...errors(400, 409, 413, 415) },
    }),
    async (c) => {
      const body = c.req.valid('json');
      const rule = await unlessNameTaken('rule_exists', 'rule', body.name, () =>
        insertRule(db, ruleValues(body)),
      );
      return c.json(toRule(rule), 201);
    },
  );

  app.openapi(
    createRoute({
      method: 'put',
      path: '/api/alert-rules/{rule_id}',
      tags,
      security,
      middleware: [requireRole('operator')],
      summary: 'Replace an alert rule (its open alerts resolve, and it judges anew)',
      request: { params: ruleIdParam, body: jsonBody(ruleBody) },
      responses: { 200: json(ruleSchema, 'the rule'), ...errors(400, 404, 409, 413, 415) },
    }),
    async (c) => {
      const id = ruleId(c);
      await requireApiManaged(db, id);
      const body = c.req.valid('json');
      const rule = await unlessNameTaken('rule_exists', 'rule', body.name, () =>
        replaceRule(db, id, ruleValues(body), notificationTargets),
      );
      if (!rule) ruleNotFound();
      return c.json(toRule(rule), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/api/alert-rules/preview',
      tags,
      security,
      middleware: [requireRole('operator')],
      summary:
        'What a rule would have done over a past window: when each device would have fired and cleared',
      description:
        'Judged as the evaluator judges, from no state at the window’s start; nothing is stored or notified. ' +
        'threshold and no_data rules (a device silent at the start counts from it); offline rules cannot be previewed, presence history is not kept.',
      request: { body: jsonBody(previewBody) },
      responses: {
        200: json(previewSchema, 'the alerts it would have raised'),
        ...errors(400, 413, 415, 422),
      },
    }),
    async (c) => {
      const body = c.req.valid('json');
      const now = Date.now();
      const start = resolveTime(body.start, 'start', now).getTime();
      const stop = resolveTime(body.stop, 'stop', now).getTime();
      if (stop <= start || stop - start > PREVIEW_MAX_WINDOW_MS) {
        throw new ApiError('invalid_request', 'start: must be before stop, by at most 31 days', 'start');
      }
      const preview = await previewRule({ db, ...influx }, ruleValues(body.rule), {
        startMs: start,
        stopMs: stop,
      });
      const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
      return c.json(
        {
          start: new Date(start).toISOString(),
          stop: new Date(stop).toISOString(),
          devices: preview.devices,
          samples: preview.samples,
          episode_count: preview.episodes.length,
          episodes: preview.episodes.slice(0, PREVIEW_MAX_EPISODES).map((e) => ({
            ...e,
            started_at: new Date(e.started_at).toISOString(),
            fired_at: new Date(e.fired_at).toISOString(),
            resolved_at: iso(e.resolved_at),
          })),
        },
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: 'delete',
      path: '/api/alert-rules/{rule_id}',
      tags,
      security,
      middleware: [requireRole('admin')],
      summary: 'Delete an alert rule; its alerts stay, the open ones resolved',
      request: { params: ruleIdParam },
      responses: { 200: json(ruleSchema, 'the deleted rule'), ...errors(400, 404, 409) },
    }),
    async (c) => {
      const id = ruleId(c);
      const rule = await requireApiManaged(db, id);
      if (!(await deleteRule(db, id, notificationTargets))) ruleNotFound();
      return c.json(toRule(rule), 200);
    },
  );

  return app;
}
