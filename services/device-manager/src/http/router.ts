import { OpenAPIHono } from '@hono/zod-openapi';
import type { Principal } from '../auth/principal.js';
import { errorResponse } from './api-errors.js';
import { describeIssue } from './describe-issue.js';

/** What middleware hands to handlers: the authenticated caller. */
export type AppEnv = { Variables: { principal: Principal } };

/**
 * A router whose request validation failures answer 400 `invalid_request` naming the field. A
 * missing required field keeps the original API's wording ("Missing required field: device_id").
 */
export function createRouter() {
  return new OpenAPIHono<AppEnv>({
    defaultHook: (result, c) => {
      if (result.success) return;
      const { field, message } = describeIssue(result.error, {
        input: 'data' in result ? result.data : undefined,
      });
      return errorResponse(c, 'invalid_request', message, field);
    },
  });
}
