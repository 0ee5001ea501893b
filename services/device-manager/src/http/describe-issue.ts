import type { z } from '@hono/zod-openapi';

/**
 * A validation failure as the API reports it: the first issue's field (dotted path, after
 * `prefix`) and message. Given the `input`, a field it lacks keeps the original API's wording
 * ("Missing required field: device_id").
 */
export function describeIssue(
  error: z.ZodError,
  options: { input?: unknown; prefix?: readonly string[] } = {},
): { field?: string; message: string } {
  const issue = error.issues[0];
  const path = (issue?.path ?? []).map(String);
  const field = [...(options.prefix ?? []), ...path].join('.') || undefined;
  if ('input' in options && path.length > 0 && valueAt(options.input, path) === undefined) {
    return { field, message: `Missing required field: ${field}` };
  }
  return { field, message: `${field ? `${field}: ` : ''}${issue?.message ?? 'invalid request'}` };
}

function valueAt(input: unknown, path: readonly string[]): unknown {
  return path.reduce<unknown>(
    (value, key) =>
      value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined,
    input,
  );
}
