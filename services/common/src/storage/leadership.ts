import { type Kysely, sql } from 'kysely';
import { createDatabase } from './database.js';

/** A transaction found the leadership gone (its connection lost the lock): nothing it did is kept. */
export class LostLeadership extends Error {
  constructor() {
    super('no longer the leader');
  }
}

export type Leadership<Schema> = {
  /** Whether this process leads, taking the lock when it is free. */
  tryLead(): Promise<boolean>;
  /**
   * Runs `work` in a transaction on the lock's own connection that first checks the lock is still
   * held there, so a process that lost it (its connection dropped, another took over) writes nothing.
   */
  whileLeading<T>(work: (tx: Kysely<Schema>) => Promise<T>): Promise<T>;
  close(): Promise<void>;
};

/**
 * One leader among replicas, by a PostgreSQL session advisory lock `[namespace, id]` held on a
 * connection of its own: the lock goes with the connection, so a leader that dies (or whose
 * connection drops) frees it for the next replica that asks.
 */
export function createLeadership<Schema>(
  databaseUrl: string,
  lock: readonly [number, number],
): Leadership<Schema> {
  const db = createDatabase<Schema>({ DATABASE_URL: databaseUrl }, { maxConnections: 1, keepIdle: true });
  const [namespace, id] = lock;
  let closing: Promise<void> | undefined;
  const held = sql<boolean>`exists (select 1 from pg_locks where locktype = 'advisory' and granted
    and pid = pg_backend_pid() and classid = ${namespace} and objid = ${id} and objsubid = 2)`;
  return {
    async tryLead() {
      const { rows } = await sql<{ leading: boolean }>`select case when ${held} then true
        else pg_try_advisory_lock(${namespace}::int, ${id}::int) end as leading`.execute(db);
      return rows[0]?.leading === true;
    },
    whileLeading(work) {
      return db.transaction().execute(async (tx) => {
        const { rows } = await sql<{ leading: boolean }>`select ${held} as leading`.execute(tx);
        if (rows[0]?.leading !== true) throw new LostLeadership();
        return work(tx);
      });
    },
    // Once, however often asked: the lock goes with the connection.
    close() {
      closing ??= db.destroy();
      return closing;
    },
  };
}
