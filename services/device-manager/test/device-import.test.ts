import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ApiHarness } from './api-harness.js';

const api = new ApiHarness(inject('stackEnv'));
beforeAll(() => api.start());
afterAll(() => api.dispose());

const ISO = expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
const SECRET = expect.stringMatching(/^[A-Za-z0-9_-]{43}$/);
const ndjson = (rows: unknown[]) => rows.map((r) => JSON.stringify(r)).join('\n');
const importFile = (body: string, type = 'application/x-ndjson') =>
  api.call('POST', '/api/devices/import', { body, headers: { 'content-type': type } });

describe('bulk device import', () => {
  it('creates, updates and leaves unchanged, reporting bad rows by line; importing again changes nothing', async () => {
    await api.call('POST', '/api/devices', {
      json: { device_id: 'imp-1', device_name: 'Old', location: 'Hall 1', metadata: { rack: 'r0' } },
    });
    const file = ndjson([
      { device_id: 'imp-1', device_name: 'Renamed', metadata: { rack: 'r1' } },
      { device_id: 'imp-2', device_name: 'Two', device_type: 'meter' },
      { device_id: 'imp 3', device_name: 'Bad id' },
      { device_id: 'imp-4' },
      { device_id: 'imp-2', device_name: 'Again' },
    ]);
    const first = await importFile(`${file}\n{broken`);
    expect(first.status).toBe(200);
    expect(first.json).toEqual({
      created: 1,
      updated: 1,
      unchanged: 0,
      failed: 4,
      errors: [
        { line: 3, error: expect.stringMatching(/^device_id: must be 1 to 128/), field: 'device_id' },
        { line: 4, error: expect.stringMatching(/^device_name: /), field: 'device_name' },
        { line: 5, error: 'device_id repeats line 2', field: 'device_id' },
        { line: 6, error: 'line is not valid JSON' },
      ],
      // Only the device created gets credentials; imp-1 keeps its own.
      credentials: [{ device_id: 'imp-2', username: 'imp-2', password: SECRET, issued_at: ISO }],
    });
    const one = await api.call('GET', '/api/devices/imp-1');
    // Fields the row left out keep their values.
    expect(one.json).toMatchObject({
      device_name: 'Renamed',
      location: 'Hall 1',
      metadata: { rack: 'r1' },
      status: 'active',
    });
    expect((await api.call('GET', '/api/devices/imp-2')).json).toMatchObject({
      device_type: 'meter',
      status: 'active',
    });

    const again = await importFile(file);
    expect(again.json).toMatchObject({ created: 0, updated: 0, unchanged: 2, failed: 3 });
  });

  it('imports CSV, clearing nothing it is not given', async () => {
    const csv =
      'device_id,device_name,device_type,status,metadata\ncsv-1,CSV One,meter,inactive,"{""zone"":""z""}"\ncsv-2,CSV Two,,,\n';
    const r = await importFile(csv, 'text/csv');
    expect(r.json).toEqual({
      created: 2,
      updated: 0,
      unchanged: 0,
      failed: 0,
      errors: [],
      credentials: ['csv-1', 'csv-2'].map((id) => ({
        device_id: id,
        username: id,
        password: SECRET,
        issued_at: ISO,
      })),
    });
    expect((await api.call('GET', '/api/devices/csv-1')).json).toMatchObject({
      device_type: 'meter',
      status: 'inactive',
      metadata: { zone: 'z' },
    });
    expect((await api.call('GET', '/api/devices/csv-2')).json).toMatchObject({
      device_type: null,
      status: 'active',
      metadata: {},
    });
    const update = await importFile('device_id,device_name,location\ncsv-1,CSV One,Roof\n', 'text/csv');
    expect(update.json).toMatchObject({ created: 0, updated: 1 });
    expect((await api.call('GET', '/api/devices/csv-1')).json).toMatchObject({
      location: 'Roof',
      status: 'inactive',
      device_type: 'meter',
    });
  });

  it('refuses other content types, oversized files and unreadable CSV', async () => {
    expect((await importFile('{}', 'application/json')).json).toMatchObject({
      code: 'unsupported_media_type',
      error: 'request body must be application/x-ndjson or text/csv',
    });
    const big = ndjson(
      Array.from({ length: 5000 }, (_, i) => ({ device_id: `big-${i}`, device_name: 'x'.repeat(40) })),
    );
    expect((await importFile(big)).json).toMatchObject({ code: 'payload_too_large' });
    expect((await importFile('device_id\n"open', 'text/csv')).json).toMatchObject({
      code: 'invalid_request',
    });
    expect((await api.call('GET', '/api/devices?limit=1000')).json).not.toContainEqual(
      expect.objectContaining({ device_id: 'big-0' }),
    );
  });

  it('imports more devices in one file than PostgreSQL takes parameters in one statement', async () => {
    const big = new ApiHarness(inject('stackEnv'));
    await big.start({ API_IMPORT_LIMIT_BYTES: 8 * 1024 * 1024 });
    try {
      const ids = Array.from({ length: 25_000 }, (_, i) => `many-${i}`);
      const file = ndjson(
        ids.map((id) => ({ device_id: id, device_name: id, device_type: 'meter', location: 'L' })),
      );
      const r = await big.call('POST', '/api/devices/import', {
        body: file,
        headers: { 'content-type': 'application/x-ndjson' },
      });
      expect(r.status).toBe(200);
      const result = r.json as { created: number; credentials: unknown[] };
      expect([result.created, result.credentials.length]).toEqual([25_000, 25_000]);
      const counted = await big.database.db
        .selectFrom('device_credentials')
        .select((eb) => eb.fn.countAll<string>().as('n'))
        .executeTakeFirst();
      expect(counted?.n).toBe('25000');
      // And all of them again: 25,000 updates, sliced the same way.
      const again = await big.call('POST', '/api/devices/import', {
        body: ndjson(ids.map((id) => ({ device_id: id, device_name: `${id}!` }))),
        headers: { 'content-type': 'application/x-ndjson' },
      });
      expect(again.json).toMatchObject({ created: 0, updated: 25_000, failed: 0, credentials: [] });
    } finally {
      await big.dispose();
    }
  });
});
