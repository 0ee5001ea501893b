import { type ArchiveRecord, encodeArchiveRecords } from '@iot-meter/common';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ApiHarness } from './api-harness.js';

const api = new ApiHarness(inject('stackEnv'));
const T = Date.parse('2026-11-29T08:00:00Z');
const at = (s: number) => new Date(T + s * 1000).toISOString();

const record = (deviceId: string, s: number, payload: Uint8Array | string, extra = {}): ArchiveRecord => ({
  header: {
    topic: `iot/${deviceId}/telemetry`,
    received_at: at(s),
    client_id: 'collector-0',
    packet_id: s + 1,
    qos: 1,
    dup: false,
    retain: false,
    bytes: 0,
    ...extra,
  },
  payload: typeof payload === 'string' ? Buffer.from(payload) : payload,
});

/** Writes an archive object the way the collector lays one out, and its index rows. */
async function archive(key: string, kind: 'raw' | 'quarantine', parts: [string, ArchiveRecord[]][]) {
  let offset = 0;
  const bodies: Buffer[] = [];
  for (const [deviceId, records] of parts) {
    const body = encodeArchiveRecords(records);
    bodies.push(body);
    await api.database.db
      .insertInto('archive_segments')
      .values({
        kind,
        device_id: deviceId,
        object_key: key,
        byte_offset: offset,
        byte_length: body.length,
        message_count: records.length,
        first_received_at: records[0]?.header.received_at ?? '',
        last_received_at: records.at(-1)?.header.received_at ?? '',
      })
      .execute();
    offset += body.length;
  }
  await api.store.putObject(api.bucket, key, Buffer.concat(bodies));
}

beforeAll(async () => {
  await api.start();
  await api.call('POST', '/api/devices', { json: { device_id: 'raw-1', device_name: 'Raw' } });
  await archive('raw/2026/11/29/08/collector-0/a.records', 'raw', [
    ['other', [record('other', 0, '{"x":1}')]],
    ['raw-1', [record('raw-1', 1, '{"t":1}'), record('raw-1', 2, new Uint8Array([0xff, 0x00, 0x0a]))]],
    ['more', [record('more', 3, '{"x":2}')]],
  ]);
  await archive('raw/2026/11/29/08/collector-1/b.records', 'raw', [
    [
      'raw-1',
      [record('raw-1', 10, '{"t":10}'), record('raw-1', 11, '{"t":11}'), record('raw-1', 12, '{"t":12}')],
    ],
  ]);
  await archive('quarantine/2026/11/29/08/collector-0/a.records', 'quarantine', [
    ['raw-1', [record('raw-1', 5, 'not json', { reason: 'invalid_json', detail: 'Unexpected token' })]],
  ]);
});
afterAll(() => api.dispose());

const range = `start=${at(0)}&stop=${at(60)}`;

describe('raw data', () => {
  it('lists a device’s archive segments from the index, newest first (the original API’s route)', async () => {
    const r = await api.call('GET', '/api/devices/raw-1/raw-data');
    expect(r.status).toBe(200);
    expect(r.json).toEqual([
      {
        filename: 'raw/2026/11/29/08/collector-1/b.records',
        size: expect.any(Number),
        last_modified: at(12),
        kind: 'raw',
        byte_offset: 0,
        message_count: 3,
        first_received_at: at(10),
        last_received_at: at(12),
      },
      {
        filename: 'raw/2026/11/29/08/collector-0/a.records',
        size: expect.any(Number),
        last_modified: at(2),
        kind: 'raw',
        byte_offset: expect.any(Number),
        message_count: 2,
        first_received_at: at(1),
        last_received_at: at(2),
      },
    ]);
    const page = await api.call('GET', '/api/devices/raw-1/raw-data?limit=1&prefix=raw/2026/11/29/08/');
    expect((page.json as { filename: string }[]).map((s) => s.filename)).toEqual([
      'raw/2026/11/29/08/collector-1/b.records',
    ]);
    const rest = await api.call(
      'GET',
      `/api/devices/raw-1/raw-data?limit=1&cursor=${page.headers.get('x-next-cursor')}`,
    );
    expect((rest.json as { filename: string }[]).map((s) => s.filename)).toEqual([
      'raw/2026/11/29/08/collector-0/a.records',
    ]);
    const quarantine = await api.call('GET', '/api/devices/raw-1/raw-data?kind=quarantine');
    expect((quarantine.json as { message_count: number }[]).map((s) => s.message_count)).toEqual([1]);
  });

  it('returns exactly the device’s messages for a time range, byte-exact, in receive order', async () => {
    const r = await api.call('GET', `/api/devices/raw-1/raw-data/messages?${range}`);
    expect(r.status).toBe(200);
    const messages = r.json as { received_at: string; payload?: string; payload_base64?: string }[];
    expect(messages.map((m) => [m.received_at, m.payload ?? `base64:${m.payload_base64}`])).toEqual([
      [at(1), '{"t":1}'],
      [at(2), 'base64:/wAK'],
      [at(10), '{"t":10}'],
      [at(11), '{"t":11}'],
      [at(12), '{"t":12}'],
    ]);
    expect(messages[0]).toEqual({
      topic: 'iot/raw-1/telemetry',
      received_at: at(1),
      client_id: 'collector-0',
      packet_id: 2,
      qos: 1,
      dup: false,
      retain: false,
      bytes: 7,
      payload: '{"t":1}',
    });
    const narrow = await api.call(
      'GET',
      `/api/devices/raw-1/raw-data/messages?start=${at(2)}&stop=${at(11)}`,
    );
    expect((narrow.json as { received_at: string }[]).map((m) => m.received_at)).toEqual([at(2), at(10)]);
    const quarantined = await api.call(
      'GET',
      `/api/devices/raw-1/raw-data/messages?${range}&kind=quarantine`,
    );
    expect(quarantined.json).toMatchObject([
      { payload: 'not json', reason: 'invalid_json', detail: 'Unexpected token' },
    ]);
  });

  it('pages messages across segments without losing or repeating one', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const r = await api.call(
        'GET',
        `/api/devices/raw-1/raw-data/messages?${range}&limit=2${cursor ? `&cursor=${cursor}` : ''}`,
      );
      seen.push(...(r.json as { received_at: string }[]).map((m) => m.received_at));
      cursor = r.headers.get('x-next-cursor');
      pages += 1;
    } while (cursor);
    expect(seen).toEqual([at(1), at(2), at(10), at(11), at(12)]);
    expect(pages).toBe(3);
  });

  it('downloads the range as NDJSON', async () => {
    const r = await api.call('GET', `/api/devices/raw-1/raw-data/download?${range}`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('application/x-ndjson');
    expect(r.headers.get('content-disposition')).toBe('attachment; filename="raw-1-raw.ndjson"');
    const lines = r.text
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((m) => m.received_at)).toEqual([at(1), at(2), at(10), at(11), at(12)]);
  });

  it('answers unknown devices and bad parameters', async () => {
    expect((await api.call('GET', '/api/devices/nobody/raw-data')).json).toMatchObject({
      code: 'device_not_found',
    });
    expect((await api.call('GET', '/api/devices/raw-1/raw-data?limit=abc')).json).toMatchObject({
      code: 'invalid_request',
      field: 'limit',
    });
    expect((await api.call('GET', '/api/devices/raw-1/raw-data/messages?start=later')).json).toMatchObject({
      code: 'invalid_request',
      field: 'start',
    });
    expect((await api.call('GET', '/api/devices/raw-1/raw-data?kind=all')).json).toMatchObject({
      code: 'invalid_request',
      field: 'kind',
    });
  });
});
