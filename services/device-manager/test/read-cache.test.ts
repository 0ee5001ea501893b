import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { ApiHarness } from './api-harness.js';

// A minute-long cache: whatever a read sees fresh within this test was cleared, not expired.
const api = new ApiHarness(inject('stackEnv'));

const within = { timeout: 2000, interval: 20 };
// vi.waitFor, not expect.poll: beforeAll waits for it too.
const listening = () =>
  vi.waitFor(() => expect(api.readCaches?.listening(), 'the LISTEN connection').toBe(true), within);
const getDevice = async (id: string) =>
  (await api.call('GET', `/api/devices/${id}`)).json as { device_name: string; connection_status: string };
const presence = (id: string, status: 'online' | 'offline') =>
  api.database.db
    .insertInto('device_presence')
    .values({
      device_id: id,
      connection_status: status,
      status_changed_at: sql`now()`,
      last_seen: sql`now()`,
    })
    .onConflict((oc) => oc.column('device_id').doUpdateSet({ connection_status: status }))
    .execute();

beforeAll(async () => {
  await api.start({}, { readCacheMs: 60_000 });
  await listening();
});
afterAll(() => api.dispose());

describe('read cache', () => {
  it('keeps presence for its time, and sees registry writes from this replica and from others at once', async () => {
    const cleared = api.readCaches?.cleared() ?? 0;
    await api.call('POST', '/api/devices', { json: { device_id: 'c-1', device_name: 'First' } });
    // The insert's own notification arrives a moment later and clears the cache again: wait for it.
    await expect
      .poll(() => api.readCaches?.cleared() ?? 0, { ...within, message: 'the insert’s notification' })
      .toBeGreaterThan(cleared);
    expect(await getDevice('c-1')).toMatchObject({ device_name: 'First', connection_status: 'unknown' });

    // A collector's presence update does not clear the cache: the answer is kept.
    await presence('c-1', 'online');
    expect(await getDevice('c-1')).toMatchObject({ device_name: 'First', connection_status: 'unknown' });

    // This replica's write is seen by the next read.
    await api.call('PUT', '/api/devices/c-1', { json: { device_name: 'Second' } });
    expect(await getDevice('c-1')).toMatchObject({ device_name: 'Second', connection_status: 'online' });

    // Another replica's write (straight to PostgreSQL here) arrives as a notification.
    await presence('c-1', 'offline');
    await api.database.db.updateTable('devices').set({ device_name: 'Third' }).execute();
    const seen = await vi.waitFor(async () => {
      const device = await getDevice('c-1');
      expect(device.device_name, 'the other replica’s write').toBe('Third');
      return device;
    }, within);
    expect(seen.connection_status).toBe('offline');
  });

  it('answers a new device in a list it had kept, and a deleted one no longer', async () => {
    const ids = async () =>
      ((await api.call('GET', '/api/devices?sort=device_id')).json as { device_id: string }[]).map(
        (d) => d.device_id,
      );
    expect(await ids()).toEqual(['c-1']);
    await api.call('POST', '/api/devices', { json: { device_id: 'c-2', device_name: 'New' } });
    expect(await ids()).toEqual(['c-1', 'c-2']);
    expect((await api.call('GET', '/api/devices/c-2/alerts')).status).toBe(200);
    await api.call('DELETE', '/api/devices/c-2');
    expect(await ids()).toEqual(['c-1']);
    expect((await api.call('GET', '/api/devices/c-2/alerts')).status).toBe(404);
  });

  it('keeps nothing while it cannot hear changes', async () => {
    await api.call('POST', '/api/devices', { json: { device_id: 'c-3', device_name: 'Gap' } });
    expect(await getDevice('c-3')).toMatchObject({ connection_status: 'unknown' });
    await sql`select pg_terminate_backend(pid) from pg_stat_activity
      where application_name = 'listen device_registry' and datname = current_database()`.execute(
      api.database.db,
    );
    await expect.poll(() => api.readCaches?.listening(), { ...within, message: 'the drop' }).toBe(false);
    expect(await getDevice('c-3')).toMatchObject({ connection_status: 'unknown' });
    await presence('c-3', 'online');
    expect(await getDevice('c-3')).toMatchObject({ connection_status: 'online' });
    expect(api.readCaches?.listening()).toBe(false); // still down: the answer was not from memory
    await listening();
  });

  it('keeps time series answers for its time', async () => {
    await api.call('POST', '/api/devices', { json: { device_id: 'c-4', device_name: 'Series' } });
    const now = Date.now();
    await api.writePoints([`iot_telemetry,device_id=c-4,metric=power value=1 ${now - 2000}`]);
    const latest = async () => (await api.call('GET', '/api/devices/c-4/latest')).json as { value: number }[];
    expect((await latest()).map((p) => p.value)).toEqual([1]);
    await api.writePoints([`iot_telemetry,device_id=c-4,metric=power value=2 ${now - 1000}`]);
    expect((await latest()).map((p) => p.value)).toEqual([1]);
    const fresh = await api.call('GET', '/api/devices/c-4/metrics?start=-1m&metric=power');
    expect((fresh.json as { value: number }[]).map((p) => p.value)).toEqual([1, 2]);
  });

  it('forgets a key revoked through another replica at once, and keeps no key while it cannot hear', async () => {
    const created = await api.call('POST', '/api/keys', { json: { name: 'cached', role: 'viewer' } });
    const { key, id } = created.json as { key: string; id: number };
    const asKey = () => api.call('GET', '/api/devices', { key });
    expect((await asKey()).status).toBe(200); // verified, and now remembered
    // Revoked by another replica (straight to PostgreSQL here): its notification clears the cache,
    // long before the key's 30 s in it are over.
    await api.database.db
      .updateTable('api_keys')
      .set({ revoked_at: sql`now()` })
      .where('id', '=', id)
      .execute();
    await vi.waitFor(async () => expect((await asKey()).status, 'the revocation').toBe(401), within);

    const other = await api.call('POST', '/api/keys', { json: { name: 'unheard', role: 'viewer' } });
    const second = other.json as { key: string; id: number };
    await sql`select pg_terminate_backend(pid) from pg_stat_activity
      where application_name = 'listen api_keys' and datname = current_database()`.execute(api.database.db);
    await expect.poll(() => api.readCaches?.listening(), { ...within, message: 'the drop' }).toBe(false);
    expect((await api.call('GET', '/api/devices', { key: second.key })).status).toBe(200);
    await api.database.db
      .updateTable('api_keys')
      .set({ revoked_at: sql`now()` })
      .where('id', '=', second.id)
      .execute();
    expect((await api.call('GET', '/api/devices', { key: second.key })).status).toBe(401);
    expect(api.readCaches?.listening()).toBe(false); // still down: the key was checked, not remembered
    await listening();
  });
});
