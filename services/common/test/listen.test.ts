import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { createLogger, databaseEnv, listenToChannel, loadConfig } from '../src/index.js';
import { createDatabase } from '../src/storage/database.js';

const config = loadConfig(databaseEnv, inject('stackEnv'));
const db = createDatabase<unknown>(config);
const logger = createLogger('listen-test', 'silent');

afterAll(() => db.destroy());

const within = { timeout: 5000, interval: 25 };

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
      retry: { minMs: 50, maxMs: 50, random: () => 1 },
    });
    try {
      await expect.poll(() => listener.listening(), { ...within, message: 'listening' }).toBe(true);
      expect(calls).toBe(1); // connected: whatever happened before is unknown
      await sql`select pg_notify(${channel}, 'a'), pg_notify('another_channel', 'b')`.execute(db);
      await expect.poll(() => calls, { ...within, message: 'the notification' }).toBe(2);

      await sql`select pg_terminate_backend(pid) from pg_stat_activity
        where application_name = ${`listen ${channel}`}`.execute(db);
      // Counted rather than watched: the reconnect may follow the drop within one poll.
      await expect.poll(() => calls, { ...within, message: 'the drop' }).toBeGreaterThanOrEqual(3);
      await expect.poll(() => listener.listening(), { ...within, message: 'the reconnect' }).toBe(true);
      expect(calls).toBe(4); // dropped, then connected again

      await sql`select pg_notify(${channel}, '')`.execute(db);
      await expect.poll(() => calls, { ...within, message: 'a notification after reconnecting' }).toBe(5);
    } finally {
      await listener.close();
    }
    expect(listener.listening()).toBe(false);
    const sessions = await sql<{ n: number }>`select count(*)::int as n from pg_stat_activity
      where application_name = ${`listen ${channel}`}`.execute(db);
    expect(sessions.rows[0]?.n).toBe(0);
  });
});
