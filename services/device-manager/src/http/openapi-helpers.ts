import { z } from '@hono/zod-openapi';

export const errorSchema = z
  .object({
    error: z.string().openapi({ example: 'Device not found' }),
    code: z.string().openapi({ example: 'device_not_found' }),
    field: z.string().optional(),
  })
  .openapi('Error');

/** Every /api route: a bearer API key. */
export const security = [{ bearerAuth: [] }];

/** The headers of a list's page (the body stays an array, as in the original API). */
export const pageHeaders = z.object({ 'X-Next-Cursor': z.string().optional(), Link: z.string().optional() });

export function json<T extends z.ZodType>(schema: T, description: string) {
  return { content: { 'application/json': { schema } }, description };
}

export function jsonBody<T extends z.ZodType>(schema: T) {
  return { content: { 'application/json': { schema } }, required: true };
}

const DESCRIPTIONS: Record<number, string> = {
  400: 'invalid input (`invalid_request` names the field, `invalid_json`)',
  401: 'no valid API key (`unauthorized`)',
  403: 'the key’s role may not do this (`forbidden`)',
  404: 'not found',
  409: 'conflicts with what exists (`device_exists`, `rule_exists`, `rule_managed`, `webhook_exists`)',
  413: 'request body too large (`payload_too_large`)',
  415: 'the body is not JSON (`unsupported_media_type`)',
  422: 'the answer would be too large (`too_many_points`)',
  429: 'rate limited (`rate_limited`, with Retry-After)',
};

/** The error responses a route documents, besides the 401/403/429/500 every protected route has. */
export function errors(...statuses: number[]) {
  const all = [...new Set([...statuses, 401, 403, 429])].sort();
  return Object.fromEntries(
    all.map((status) => [status, json(errorSchema, DESCRIPTIONS[status] ?? 'error')]),
  ) as Record<number, ReturnType<typeof json<typeof errorSchema>>>;
}

/** A row's integer id (PostgreSQL `integer`) as a path or query parameter. */
export const rowId = () =>
  z.coerce
    .number()
    .int()
    .positive()
    .max(2 ** 31 - 1);

/** A path parameter holding a row's id, as `{name}`. */
export function idParam<N extends string>(name: N) {
  const id = rowId().openapi({ param: { name, in: 'path' }, example: 1, type: 'integer' });
  return z.object({ [name]: id } as { [K in N]: typeof id });
}

/** The name of something users make (a rule, a webhook): lower-case, stable in URLs and labels. */
export const resourceName = () =>
  z
    .string()
    .regex(
      /^[a-z0-9][a-z0-9_.-]{0,99}$/,
      'must be 1 to 100 of a-z 0-9 _ . - starting with a letter or digit',
    );
