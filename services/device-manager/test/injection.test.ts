import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ApiHarness } from './api-harness.js';

const api = new ApiHarness(inject('stackEnv'));

beforeAll(async () => {
  await api.start();
  for (const id of ['inj-1', 'inj-2']) {
    await api.call('POST', '/api/devices', { json: { device_id: id, device_name: id, location: 'Hall' } });
    await api.call('POST', `/api/devices/${id}/alerts`, { json: { message: 'keep me' } });
  }
});
afterAll(() => api.dispose());

const ATTACKS = [
  "' OR '1'='1",
  "'; DROP TABLE devices; --",
  "inj-1' --",
  '") or true or ("',
  '1; DELETE FROM device_alerts',
  '%',
  '_',
  '\\',
];

// Every string parameter that reaches SQL or Flux, with each attack: the answer is a plain 200 or
// 400/404, never a 500, and the data is exactly what it was.
describe('injection attempts', () => {
  it('are rejected or harmless through every parameter', async () => {
    const statuses = new Set<number>();
    for (const attack of ATTACKS) {
      const q = encodeURIComponent(attack);
      const requests: [string, string, unknown?][] = [
        ['GET', `/api/devices?status=${q}`],
        ['GET', `/api/devices?type=${q}`],
        ['GET', `/api/devices?location=${q}`],
        ['GET', `/api/devices?label=${encodeURIComponent(`rack:${attack}`)}`],
        ['GET', `/api/devices?label=${encodeURIComponent(`${attack}:x`)}`],
        ['GET', `/api/devices?cursor=${q}`],
        ['GET', `/api/devices?sort=${q}`],
        ['GET', `/api/devices/${q}`],
        ['GET', `/api/devices/${q}/alerts`],
        ['GET', `/api/alerts?alert_type=${q}`],
        ['GET', `/api/alerts?device_id=${q}`],
        ['GET', `/api/devices/inj-1/metrics?metric=${q}`],
        ['GET', `/api/devices/inj-1/metrics?start=${q}`],
        ['GET', `/api/devices/inj-1/metrics?aggregate=${q}`],
        ['GET', `/api/devices/inj-1/raw-data?prefix=${q}`],
        ['GET', `/api/devices/inj-1/commands?status=${q}`],
        ['PUT', '/api/devices/inj-1', { location: attack }],
        ['POST', '/api/devices/inj-1/alerts', { alert_type: attack, message: attack }],
      ];
      for (const [method, path, json] of requests) {
        const r = await api.call(method, path, json === undefined ? {} : { json });
        statuses.add(r.status);
        expect({ path, status: r.status }).toEqual({ path, status: r.status < 500 ? r.status : 'not a 5xx' });
      }
    }
    expect([...statuses].sort()).toEqual([200, 201, 400]);
    // The attacks changed nothing but the one location each PUT set, stored as plain text.
    const db = api.database.db;
    const devices = await db
      .selectFrom('devices')
      .select(['device_id', 'location'])
      .orderBy('device_id')
      .execute();
    expect(devices).toEqual([
      { device_id: 'inj-1', location: ATTACKS.at(-1) },
      { device_id: 'inj-2', location: 'Hall' },
    ]);
    const alerts = await db
      .selectFrom('device_alerts')
      .select('message')
      .where('message', '=', 'keep me')
      .execute();
    expect(alerts).toHaveLength(2);
    const tables = await sql<{
      n: number;
    }>`select count(*)::int as n from information_schema.tables where table_name in ('devices', 'device_alerts')`.execute(
      db,
    );
    expect(tables.rows[0]?.n).toBe(2);
  });
});
