import type { Logger } from '@iot-meter/common';
import { AppError, INVALID_CURSOR, isUniqueViolation } from '@iot-meter/common';
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

// Stable error codes and their statuses. Codes never change once released; messages may.
const STATUS_BY_CODE = {
  invalid_request: 400,
  invalid_json: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  device_not_found: 404,
  alert_not_found: 404,
  command_not_found: 404,
  api_key_not_found: 404,
  rule_not_found: 404,
  webhook_not_found: 404,
  method_not_allowed: 405,
  device_exists: 409,
  rule_exists: 409,
  rule_managed: 409,
  webhook_exists: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  too_many_points: 422,
  preview_unsupported: 422,
  preview_too_large: 422,
  rate_limited: 429,
  internal_error: 500,
  dependency_unavailable: 503,
} as const satisfies Record<string, ContentfulStatusCode>;

export type ApiErrorCode = keyof typeof STATUS_BY_CODE;

// Codes of the `AppError`s that layers below HTTP throw, and the envelope each becomes.
const API_ERROR_BY_APP_CODE: Record<string, { code: ApiErrorCode; field?: string }> = {
  [INVALID_CURSOR]: { code: 'invalid_request', field: 'cursor' },
};

/**
 * The one error envelope. `error` keeps the original API's human-readable message (scripts read it), `code`
 * is the stable machine-readable reason, `field` names the offending input when there is one.
 */
export type ApiErrorBody = { error: string; code: ApiErrorCode; field?: string };

/** An error meant for the API client: a stable code, and the input field at fault if any. */
export class ApiError extends AppError {
  constructor(
    override readonly code: ApiErrorCode,
    message: string,
    readonly field?: string,
    /** For `rate_limited`: the Retry-After header. */
    readonly retryAfterSeconds?: number,
  ) {
    super(code, message);
  }
}

export function errorResponse(c: Context, code: ApiErrorCode, message: string, field?: string) {
  const body: ApiErrorBody = field === undefined ? { error: message, code } : { error: message, code, field };
  return c.json(body, STATUS_BY_CODE[code]);
}

/** `app.onError`: known errors become their envelope; anything else a 500 that reveals nothing. */
export function createErrorHandler(logger: Logger) {
  return (err: Error, c: Context) => {
    if (err instanceof ApiError) {
      if (err.retryAfterSeconds !== undefined) c.header('Retry-After', String(err.retryAfterSeconds));
      return errorResponse(c, err.code, err.message, err.field);
    }
    const known = err instanceof AppError ? API_ERROR_BY_APP_CODE[err.code] : undefined;
    if (known) return errorResponse(c, known.code, err.message, known.field);
    if (err instanceof HTTPException) {
      // hono's own: malformed JSON bodies (400) and the body limit (413).
      if (err.status === 413) return errorResponse(c, 'payload_too_large', 'request body too large');
      if (err.status === 400) return errorResponse(c, 'invalid_json', 'request body is not valid JSON');
      if (err.status === 401) return errorResponse(c, 'unauthorized', 'missing or invalid API key');
    }
    logger.error({ err, method: c.req.method, path: c.req.path }, 'request failed');
    return errorResponse(c, 'internal_error', 'internal server error');
  };
}

/** Runs a write that names something; a name already taken becomes a 409 `code` naming `name`. */
export async function unlessNameTaken<T>(
  code: 'rule_exists' | 'webhook_exists',
  what: string,
  name: string,
  write: () => Promise<T>,
): Promise<T> {
  try {
    return await write();
  } catch (err) {
    if (isUniqueViolation(err)) throw new ApiError(code, `a ${what} named ${name} exists`, 'name');
    throw err;
  }
}
