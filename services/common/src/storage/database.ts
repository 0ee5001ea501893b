import { Kysely, PostgresDialect } from 'kysely';
import { Gauge, type Registry } from 'prom-client';
import type { DatabaseEnv } from '../config/env-schemas.js';
import { loadPg } from './pg-module.js';

/**
 * A kysely instance over a pg pool; `destroy()` closes the pool. With a registry, the pool's
 * connections are exported as `db_pool_connections{state="total|idle|waiting"}` (waiting: queued
 * queries), read from the pool at each scrape.
 */
export function createDatabase<Schema>(
  config: DatabaseEnv,
  options: { maxConnections?: number; registry?: Registry; keepIdle?: boolean } = {},
): Kysely<Schema> {
  const pool = new (loadPg().Pool)({
    connectionString: config.DATABASE_URL,
    max: options.maxConnections ?? 10,
    // Idle connections close after 10 s unless kept (one that holds a session lock must stay); a
    // kept one is probed by TCP keepalive, so a half-open one is found in minutes, not hours.
    ...(options.keepIdle && { idleTimeoutMillis: 0, keepAlive: true, keepAliveInitialDelayMillis: 10_000 }),
  });
  // A client whose server goes away emits 'error': an idle one on the pool, a checked-out one (a
  // transaction between two queries) on itself. Unhandled, either ends the process (seen in the
  // fault suite: PostgreSQL stopped while a collector's transaction held a client). The pool drops
  // the client, and the query in flight or the next one fails to its caller, who retries.
  pool.on('error', () => {});
  pool.on('connect', (client) => client.on('error', () => {}));
  if (options.registry) {
    new Gauge({
      name: 'db_pool_connections',
      help: 'PostgreSQL pool: connections open (total), idle, and queries waiting for one',
      labelNames: ['state'],
      registers: [options.registry],
      collect() {
        this.set({ state: 'total' }, pool.totalCount);
        this.set({ state: 'idle' }, pool.idleCount);
        this.set({ state: 'waiting' }, pool.waitingCount);
      },
    });
  }
  return new Kysely<Schema>({ dialect: new PostgresDialect({ pool }) });
}

/** Whether a write failed on a unique constraint (PostgreSQL's 23505): a name or key already taken. */
export function isUniqueViolation(err: unknown): boolean {
  return (err as { code?: string } | undefined)?.code === '23505';
}
