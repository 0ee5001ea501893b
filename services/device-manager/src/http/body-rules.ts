import type { MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { ApiError } from './api-errors.js';

const JSON_TYPE = /^application\/([a-z0-9.+-]+\+)?json\s*(;|$)/i;

/** A route that takes other content than JSON, with its own size limit (bulk import). */
export type BodyException = { maxBytes: number; types: readonly string[] };

/**
 * Request bodies: at most `maxBytes` (413), and JSON (415), except on the `exceptions` paths. A
 * request without a body passes: the original API's POST …/heartbeat sends none.
 */
export function bodyRules(options: {
  maxBytes: number;
  exceptions?: Record<string, BodyException>;
}): MiddlewareHandler {
  const limiter = (maxBytes: number) =>
    bodyLimit({
      maxSize: maxBytes,
      onError: () => {
        throw new ApiError('payload_too_large', `request body over ${maxBytes} bytes`);
      },
    });
  const standard = limiter(options.maxBytes);
  const special = new Map(
    Object.entries(options.exceptions ?? {}).map(([path, e]) => [path, { ...e, limit: limiter(e.maxBytes) }]),
  );
  return async (c, next) => {
    // Reading methods skip the limiter: it touches the body, which makes the Node adapter build a
    // full Request (measured: a third of a registry read's cost).
    if (!['POST', 'PUT', 'PATCH'].includes(c.req.method)) return next();
    const exception = special.get(c.req.path);
    const hasBody =
      c.req.header('transfer-encoding') !== undefined || Number(c.req.header('content-length') ?? 0) > 0;
    if (hasBody) {
      const type = (c.req.header('content-type') ?? '').toLowerCase();
      const accepted = exception ? exception.types.some((t) => type.startsWith(t)) : JSON_TYPE.test(type);
      if (!accepted) {
        const expected = exception ? exception.types.join(' or ') : 'application/json';
        throw new ApiError('unsupported_media_type', `request body must be ${expected}`);
      }
    }
    return (exception?.limit ?? standard)(c, next);
  };
}
