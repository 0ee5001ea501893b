import { type ServerType, serve as serveNode } from '@hono/node-server';
import type { Hono } from 'hono';

/** Listens on `port` (0 picks a free one) and resolves with the bound port and a close function. */
export async function serve(
  app: Pick<Hono, 'fetch'>,
  port: number,
  hostname = '0.0.0.0',
): Promise<{ port: number; close: () => Promise<void> }> {
  const server = await new Promise<ServerType>((resolve, reject) => {
    const listening = serveNode({ fetch: app.fetch, port, hostname }, () => resolve(listening));
    listening.once('error', reject);
  });
  const address = server.address();
  const bound = typeof address === 'object' && address !== null ? address.port : port;
  return {
    port: bound,
    close: () =>
      new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve()))),
  };
}
