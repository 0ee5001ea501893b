import type { Context } from 'hono';

/**
 * Points at the next page, if there is one: `X-Next-Cursor` and a `Link` header holding the
 * request's URL with `cursor` replaced (the body stays a plain array, as in the original API).
 */
export function setNextPage(c: Context, cursor: string | undefined): void {
  if (cursor === undefined) return;
  const url = new URL(c.req.url);
  url.searchParams.set('cursor', cursor);
  c.header('X-Next-Cursor', cursor);
  c.header('Link', `<${url.pathname}${url.search}>; rel="next"`);
}
