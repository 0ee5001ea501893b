import type pg from 'pg';
import type { Logger } from '../logging/create-logger.js';
import { type Backoff, createBackoff } from '../retry/retry-delay.js';
import { loadPg } from './pg-module.js';

export type Listener = {
  /** True while the connection is up and LISTENing: no notification can be missed. */
  listening(): boolean;
  close(): Promise<void>;
};

/**
 * LISTENs on a PostgreSQL channel over a connection of its own and calls `onNotify` for each
 * notification. Notifications sent while the connection is down are lost, so `onNotify` is also
 * called when it drops and when it is back; it reconnects after a jittered backoff until closed.
 */
export function listenToChannel(options: {
  databaseUrl: string;
  channel: string;
  onNotify: () => void;
  logger: Logger;
  retry?: Backoff;
}): Listener {
  const { databaseUrl, channel, onNotify, logger } = options;
  const retry = createBackoff(options.retry ?? { minMs: 250, maxMs: 5000 });
  let client: pg.Client | undefined;
  let up = false;
  let closed = false;
  let retryTimer: NodeJS.Timeout | undefined;

  const lost = (err?: unknown) => {
    if (!up && client === undefined) return;
    if (up) logger.warn({ err, channel }, 'lost the LISTEN connection');
    up = false;
    const gone = client;
    client = undefined;
    gone?.end().catch(() => {});
    onNotify();
    if (!closed) retryTimer = setTimeout(connect, retry.next());
  };

  async function connect() {
    retryTimer = undefined;
    const next = new (loadPg().Client)({
      connectionString: databaseUrl,
      application_name: `listen ${channel}`,
    });
    client = next;
    next.on('error', lost);
    next.on('end', () => lost());
    next.on('notification', (n) => {
      if (n.channel === channel) onNotify();
    });
    try {
      await next.connect();
      await next.query(`listen ${loadPg().escapeIdentifier(channel)}`);
      if (closed || client !== next) return void next.end().catch(() => {});
      up = true;
      retry.reset();
      onNotify();
    } catch (err) {
      if (client === next) lost(err);
    }
  }

  void connect();
  return {
    listening: () => up,
    async close() {
      closed = true;
      clearTimeout(retryTimer);
      up = false;
      const last = client;
      client = undefined;
      await last?.end().catch(() => {});
    },
  };
}
