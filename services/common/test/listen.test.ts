import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { createLogger, databaseEnv, listenToChannel, loadConfig } from '../src/index.js';
import { createDatabase } from '../src/storage/database.js';

const config = loadConfig(databaseEnv, inject('stackEnv'));
const db = createDatabase<unknown>(config);
const logger = createLogger('listen-test', 'silent');

afterAll(() => db.destroy());

async function until(condition: () => boolean, what: string) {
  for (let i = 0; i < 200 && !condition(); i += 1) await new Promise((r) => setTimeout(r, 25));
  if (!condition()) throw new Error(`timed out waiting for ${what}`);
}

describe('listenToChannel', () => {
  it('reports each notification, and a dropped connection before and after reconnecting', async () => {
    const channel = `test_${randomBytes(4).toString('hex')}`;
    let calls = 0;
    const listener = listenToChannel({
      databaseUrl: config.DATABASE_URL,
      channel,
      onNotify: () => {
        calls += 1;
      },
      logger,
      retry: { minMs: 50, maxMs: 50 },
    });
    try {
      await until(() => listener.listening(), 'listening');
      expect(calls).toBe(1); // connected: whatever happened before is unknown
      await sql`select pg_notify(${channel}, 'a'), pg_notify('another_channel', 'b')`.execute(db);
      await until(() => calls === 2, 'the notification');

      await sql`select pg_terminate_backend(pid) from pg_stat_activity
        where application_name = ${`listen ${channel}`}`.execute(db);
      await until(() => !listener.listening(), 'the drop');
      await until(() => listener.listening(), 'the reconnect');
      expect(calls).toBe(4); // dropped, then connected again

      await sql`select pg_notify(${channel}, '')`.execute(db);
      await until(() => calls === 5, 'a notification after reconnecting');
    } finally {
      await listener.close();
    }
    expect(listener.listening()).toBe(false);
    const sessions = await sql<{ n: number }>`select count(*)::int as n from pg_stat_activity
      where application_name = ${`listen ${channel}`}`.execute(db);
    expect(sessions.rows[0]?.n).toBe(0);
  });
});
