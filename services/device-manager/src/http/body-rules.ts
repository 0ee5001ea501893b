import type { MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { ApiError } from './api-errors.js';

const JSON_TYPE = /^application\/([a-z0-9.+-]+\+)?json\s*(;|$)/i;

/**
 * Request bodies: at most `maxBytes` (413), and JSON (415) unless the route takes other types
 * (bulk import). A request without a body passes: the seed's POST …/heartbeat sends none.
 */
export function bodyRules(options: {
  maxBytes: number;
  otherTypes?: (path: string) => readonly string[];
}): MiddlewareHandler[] {
  const limit = bodyLimit({
    maxSize: options.maxBytes,
    onError: () => {
      throw new ApiError('payload_too_large', `request body over ${options.maxBytes} bytes`);
    },
  });
  const contentType: MiddlewareHandler = async (c, next) => {
    const hasBody =
      c.req.header('transfer-encoding') !== undefined || Number(c.req.header('content-length') ?? 0) > 0;
    if (hasBody && ['POST', 'PUT', 'PATCH'].includes(c.req.method)) {
      const type = c.req.header('content-type') ?? '';
      const accepted = options.otherTypes?.(c.req.path) ?? [];
      if (!JSON_TYPE.test(type) && !accepted.some((t) => type.toLowerCase().startsWith(t))) {
        throw new ApiError('unsupported_media_type', 'request body must be application/json', undefined);
      }
    }
    await next();
  };
  return [limit, contentType];
}
