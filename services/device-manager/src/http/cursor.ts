import type { Context } from 'hono';
import { ApiError } from './api-errors.js';

// Lists page by keyset: the cursor is the last row's sort key, opaque to clients (base64url JSON).

export function encodeCursor(key: readonly (string | number)[]): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

export function decodeCursor(cursor: string, length: number): (string | number)[] {
  try {
    const key: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (
      Array.isArray(key) &&
      key.length === length &&
      key.every((v) => typeof v === 'string' || typeof v === 'number')
    ) {
      return key;
    }
  } catch {}
  throw new ApiError('invalid_request', 'cursor: not a cursor this list returned', 'cursor');
}

/** Splits the `limit + 1` rows a keyset query fetched into the page and the next page's cursor. */
export function toPage<T>(rows: T[], limit: number, keyOf: (row: T) => (string | number)[]) {
  const items = rows.slice(0, limit);
  const last = items.at(-1);
  return { items, next: rows.length > limit && last !== undefined ? encodeCursor(keyOf(last)) : undefined };
}

/**
 * Points at the next page, if there is one: `X-Next-Cursor` and a `Link` header holding the
 * request's URL with `cursor` replaced (the body stays a plain array, as in the seed).
 */
export function setNextPage(c: Context, cursor: string | undefined): void {
  if (cursor === undefined) return;
  const url = new URL(c.req.url);
  url.searchParams.set('cursor', cursor);
  c.header('X-Next-Cursor', cursor);
  c.header('Link', `<${url.pathname}${url.search}>; rel="next"`);
}
