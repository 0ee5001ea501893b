import type { Server, ServerResponse } from 'node:http';
import { serve as serveNode } from '@hono/node-server';
import type { Hono } from 'hono';

/** How long `close` lets requests in flight finish before it cuts their connections. */
export const CLOSE_GRACE_MS = 5000;

/**
 * Listens on `port` (0 picks a free one) and resolves with the bound port and a close function.
 *
 * `close` stops accepting connections and lets requests in flight finish, but does not wait for
 * clients to hang up: a keep-alive connection that Prometheus scrapes or a probe polls is never idle
 * for long, and Node's own `server.close()` waits for every one of them — a service told to stop
 * would run until the kubelet kills it. So every answer not yet started when closing begins (and
 * any request arriving after) says `Connection: close`, connections are closed as soon as they are
 * idle, and whatever is left after `graceMs` is cut.
 */
export async function serve(
  app: Pick<Hono, 'fetch'>,
  port: number,
  options: { hostname?: string; graceMs?: number } = {},
): Promise<{ port: number; close: () => Promise<void> }> {
  const { hostname = '0.0.0.0', graceMs = CLOSE_GRACE_MS } = options;
  const server = await new Promise<Server>((resolve, reject) => {
    const listening = serveNode({ fetch: app.fetch, port, hostname }, () => resolve(listening as Server));
    listening.once('error', reject);
  });
  let closing: Promise<void> | undefined;
  const inFlight = new Set<ServerResponse>();
  const hangUpAfter = (response: ServerResponse) => {
    if (!response.headersSent) response.setHeader('connection', 'close');
  };
  // Ahead of the app's own listener, which may answer before returning.
  server.prependListener('request', (_request, response) => {
    if (closing) return hangUpAfter(response);
    inFlight.add(response);
    response.once('close', () => inFlight.delete(response));
  });
  const address = server.address();
  const bound = typeof address === 'object' && address !== null ? address.port : port;
  return {
    port: bound,
    close: () => {
      closing ??= new Promise<void>((resolve, reject) => {
        for (const response of inFlight) hangUpAfter(response);
        const sweep = setInterval(() => server.closeIdleConnections(), 50);
        const deadline = setTimeout(() => server.closeAllConnections(), graceMs);
        server.close((err) => {
          clearInterval(sweep);
          clearTimeout(deadline);
          if (err) reject(err);
          else resolve();
        });
        // A request answered before this point left its connection idle but open.
        server.closeIdleConnections();
      });
      return closing;
    },
  };
}
