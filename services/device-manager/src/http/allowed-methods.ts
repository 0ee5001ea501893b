import type { Hono } from 'hono';

/**
 * The methods the app's routes answer on `path` (for 405 and its Allow header). Route patterns are
 * compiled once, on the first call, when every route is registered.
 */
export function createAllowedMethods(app: Pick<Hono, 'routes'>): (path: string) => string[] {
  let patterns: { method: string; pattern: RegExp }[] | undefined;
  return (path) => {
    patterns ??= app.routes
      .filter((r) => r.method !== 'ALL' && !r.path.includes('*'))
      .map((r) => ({
        method: r.method,
        pattern: new RegExp(`^${r.path.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/:[^/]+/g, '[^/]+')}$`),
      }));
    return [...new Set(patterns.filter((p) => p.pattern.test(path)).map((p) => p.method))].sort();
  };
}
