import { Hono } from 'hono';
import type { Registry } from 'prom-client';

/** A named dependency probe for `/readyz`; it resolves when the dependency answers. */
export type ReadinessCheck = { name: string; check: () => Promise<void> };

/** `/healthz` (alive), `/readyz` (every dependency answers) and `/metrics`, shared by every service. */
export function createOpsRoutes(options: {
  service: string;
  registry: Registry;
  readiness?: readonly ReadinessCheck[];
}): Hono {
  const { service, registry, readiness = [] } = options;
  const app = new Hono();
  app.get('/healthz', (c) => c.json({ status: 'alive', service }));
  app.get('/readyz', async (c) => {
    const results = await Promise.all(
      readiness.map(async ({ name, check }) => {
        try {
          await check();
          return [name, 'ok'] as const;
        } catch {
          return [name, 'unavailable'] as const;
        }
      }),
    );
    const checks = Object.fromEntries(results);
    const ready = results.every(([, state]) => state === 'ok');
    return c.json({ status: ready ? 'ready' : 'not ready', service, checks }, ready ? 200 : 503);
  });
  app.get('/metrics', async (c) =>
    c.body(await registry.metrics(), 200, { 'content-type': registry.contentType }),
  );
  return app;
}
