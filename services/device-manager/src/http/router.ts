import { OpenAPIHono } from '@hono/zod-openapi';
import type { Principal } from '../auth/principal.js';
import { errorResponse } from './api-errors.js';

/** What middleware hands to handlers: the authenticated caller. */
export type AppEnv = { Variables: { principal: Principal } };

/**
 * A router whose request validation failures answer 400 `invalid_request` naming the field. A
 * missing required field keeps the seed's wording ("Missing required field: device_id").
 */
export function createRouter() {
  return new OpenAPIHono<AppEnv>({
    defaultHook: (result, c) => {
      if (result.success) return;
      const issue = result.error.issues[0];
      const field = issue?.path.map(String).join('.') || undefined;
      const input = (issue?.path ?? []).reduce<unknown>(
        (value, key) =>
          value !== null && typeof value === 'object'
            ? (value as Record<PropertyKey, unknown>)[key]
            : undefined,
        'data' in result ? result.data : undefined,
      );
      const missing = issue !== undefined && issue.path.length > 0 && input === undefined;
      const message = missing
        ? `Missing required field: ${field}`
        : `${field ? `${field}: ` : ''}${issue?.message ?? 'invalid request'}`;
      return errorResponse(c, 'invalid_request', message, field);
    },
  });
}
