import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ApiHarness } from './api-harness.js';

const api = new ApiHarness(inject('stackEnv'));
beforeAll(() => api.start());
afterAll(() => api.dispose());

const ISO = expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

const device004 = {
  device_id: 'device-004',
  device_name: 'New Sensor',
  device_type: 'temperature',
  location: 'Building C',
  status: 'active',
  metadata: { sampling_rate: '5s' },
};

describe('devices', () => {
  it('creates, reads, updates, heartbeats and deletes a device (the original API’s examples)', async () => {
    const created = await api.call('POST', '/api/devices', { json: device004 });
    expect(created.status).toBe(201);
    expect(created.json).toEqual({
      id: expect.any(Number),
      ...device004,
      connection_status: 'unknown',
      last_seen: null,
      fw_version: null,
      created_at: ISO,
      updated_at: ISO,
      // Shown this once (docs/security.md).
      mqtt_credentials: {
        device_id: 'device-004',
        username: 'device-004',
        password: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
        issued_at: ISO,
      },
    });

    const updated = await api.call('PUT', '/api/devices/device-004', {
      json: { device_name: 'Updated Sensor', location: 'Building D' },
    });
    expect(updated.status).toBe(200);
    expect(updated.json).toMatchObject({
      ...device004,
      device_name: 'Updated Sensor',
      location: 'Building D',
    });

    const beat = await api.call('POST', '/api/devices/device-004/heartbeat');
    expect(beat).toMatchObject({ status: 200, json: { message: 'Heartbeat received' } });
    const read = await api.call('GET', '/api/devices/device-004');
    expect(read.json).toMatchObject({
      device_id: 'device-004',
      last_seen: ISO,
      connection_status: 'unknown',
    });

    const deleted = await api.call('DELETE', '/api/devices/device-004');
    expect(deleted).toMatchObject({ status: 200, json: { message: 'Device deleted successfully' } });
    const gone = await api.call('GET', '/api/devices/device-004');
    expect(gone).toMatchObject({
      status: 404,
      json: { error: 'Device not found', code: 'device_not_found' },
    });
  });

  it('accepts metadata as a JSON string too, as the original API’s own tests send it', async () => {
    const created = await api.call('POST', '/api/devices', {
      json: { device_id: 'meta-str', device_name: 'M', metadata: '{"a":1}' },
    });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ metadata: { a: 1 }, status: 'active', device_type: null });
  });

  it('answers every documented error with its status and code', async () => {
    await api.call('POST', '/api/devices', { json: { device_id: 'dup-1', device_name: 'D' } });
    const cases: [string, string, Parameters<ApiHarness['call']>[2], number, object][] = [
      [
        'POST',
        '/api/devices',
        { json: { device_name: 'x' } },
        400,
        { error: 'Missing required field: device_id', code: 'invalid_request', field: 'device_id' },
      ],
      [
        'POST',
        '/api/devices',
        { json: { device_id: 'x' } },
        400,
        { error: 'Missing required field: device_name', code: 'invalid_request', field: 'device_name' },
      ],
      [
        'POST',
        '/api/devices',
        { json: { device_id: 'bad id/1', device_name: 'x' } },
        400,
        { code: 'invalid_request', field: 'device_id' },
      ],
      [
        'POST',
        '/api/devices',
        { json: { device_id: 'x', device_name: 'x', metadata: [1] } },
        400,
        { code: 'invalid_request', field: 'metadata' },
      ],
      [
        'POST',
        '/api/devices',
        { json: { device_id: 'dup-1', device_name: 'D' } },
        409,
        { error: 'Device with this ID already exists', code: 'device_exists', field: 'device_id' },
      ],
      [
        'POST',
        '/api/devices',
        { body: '{"device_id": ', headers: { 'content-type': 'application/json' } },
        400,
        { code: 'invalid_json' },
      ],
      [
        'POST',
        '/api/devices',
        { body: 'device_id=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } },
        415,
        { code: 'unsupported_media_type' },
      ],
      [
        'POST',
        '/api/devices',
        { json: { device_id: 'big', device_name: 'x'.repeat(70_000) } },
        413,
        { code: 'payload_too_large' },
      ],
      [
        'PUT',
        '/api/devices/dup-1',
        { json: {} },
        400,
        { error: 'No fields to update', code: 'invalid_request' },
      ],
      ['PUT', '/api/devices/nope', { json: { location: 'x' } }, 404, { code: 'device_not_found' }],
      ['DELETE', '/api/devices/nope', {}, 404, { code: 'device_not_found' }],
      ['POST', '/api/devices/nope/heartbeat', {}, 404, { code: 'device_not_found' }],
      ['GET', '/api/devices?limit=0', {}, 400, { code: 'invalid_request', field: 'limit' }],
      ['GET', '/api/devices?sort=name', {}, 400, { code: 'invalid_request', field: 'sort' }],
      ['GET', '/api/devices?cursor=abc', {}, 400, { code: 'invalid_request', field: 'cursor' }],
      ['GET', '/api/nothing-here', {}, 404, { error: 'Not found', code: 'not_found' }],
      [
        'PATCH',
        '/api/devices/dup-1',
        {},
        405,
        { error: 'PATCH is not allowed here', code: 'method_not_allowed' },
      ],
      ['DELETE', '/api/stats', {}, 405, { code: 'method_not_allowed' }],
      // PostgreSQL cannot store NUL, and would replace a lone surrogate: both refused, by field.
      [
        'POST',
        '/api/devices',
        { json: { device_id: 'nul', device_name: 'a\u0000b' } },
        400,
        { error: 'device_name: must be well-formed text without NUL characters', field: 'device_name' },
      ],
      [
        'POST',
        '/api/devices',
        { json: { device_id: 'sur', device_name: 'x', metadata: { k: '\ud800' } } },
        400,
        { code: 'invalid_request', field: 'metadata' },
      ],
      ['GET', '/api/devices?location=%00', {}, 400, { code: 'invalid_request', field: 'location' }],
      ['GET', '/api/devices?label=a:%00', {}, 400, { code: 'invalid_request', field: 'label' }],
    ];
    for (const [method, path, options, status, body] of cases) {
      const response = await api.call(method, path, options);
      expect({ method, path, status: response.status, body: response.json }).toMatchObject({
        method,
        path,
        status,
        body,
      });
    }
  });

  it('names the allowed methods when a path exists but the method does not', async () => {
    const r = await api.call('PATCH', '/api/devices/dup-1');
    expect(r.headers.get('allow')).toBe('DELETE, GET, PUT');
    expect((await api.call('OPTIONS', '/api/devices')).headers.get('allow')).toBe('GET, POST');
  });

  it('pages through a filtered list with cursors, in either order', async () => {
    for (let i = 0; i < 5; i += 1) {
      await api.call('POST', '/api/devices', {
        json: {
          device_id: `page-${i}`,
          device_name: `Page ${i}`,
          device_type: 'pager',
          location: i % 2 === 0 ? 'even' : 'odd',
          metadata: { rack: `r${i % 2}`, zone: 'z1' },
        },
      });
    }
    const ids = async (query: string) => {
      const seen: string[][] = [];
      let path: string | undefined = `/api/devices?${query}`;
      while (path) {
        const r = await api.call('GET', path);
        expect(r.status).toBe(200);
        seen.push((r.json as { device_id: string }[]).map((d) => d.device_id));
        const link = r.headers.get('link');
        path = link ? /^<([^>]+)>; rel="next"$/.exec(link)?.[1] : undefined;
        if (path)
          expect(r.headers.get('x-next-cursor')).toBe(new URL(path, 'http://x').searchParams.get('cursor'));
      }
      return seen;
    };
    expect(await ids('type=pager&limit=2')).toEqual([['page-4', 'page-3'], ['page-2', 'page-1'], ['page-0']]);
    expect(await ids('type=pager&limit=3&sort=device_id')).toEqual([
      ['page-0', 'page-1', 'page-2'],
      ['page-3', 'page-4'],
    ]);
    expect(await ids('type=pager&location=even&sort=-device_id')).toEqual([['page-4', 'page-2', 'page-0']]);
    expect(await ids('label=rack:r1&label=zone:z1&sort=device_id')).toEqual([['page-1', 'page-3']]);
    expect(await ids('type=pager&status=inactive')).toEqual([[]]);
    expect(await ids('type=&status=&location=odd&sort=device_id')).toEqual([['page-1', 'page-3']]);
  });

  it('refuses a cursor no list returned with one 400 envelope on every paged list', async () => {
    await api.call('POST', '/api/devices', { json: { device_id: 'cursor-1', device_name: 'C' } });
    const twoValues = Buffer.from('["2024-05-01 10:00:00+00",1]').toString('base64url');
    // Well formed, but values PostgreSQL would refuse to cast.
    const forged = Buffer.from('["yesterday",1]').toString('base64url');
    const forgedSegment = Buffer.from('["2024-05-01 10:00:00+00","x",0]').toString('base64url');
    const paths = [
      `/api/devices?cursor=${forged}`,
      `/api/alerts?cursor=${forged}`,
      `/api/devices/cursor-1/commands?cursor=${forged}`,
      `/api/devices/cursor-1/raw-data?cursor=${forged}`,
      `/api/devices/cursor-1/raw-data/messages?cursor=${forgedSegment}`,
      '/api/devices?cursor=abc',
      `/api/devices?sort=device_id&cursor=${twoValues}`,
      '/api/alerts?cursor=abc',
      '/api/devices/cursor-1/alerts?cursor=abc',
      '/api/devices/cursor-1/commands?cursor=W10',
      '/api/devices/cursor-1/raw-data?cursor=abc',
      `/api/devices/cursor-1/raw-data/messages?cursor=${twoValues}`,
    ];
    for (const path of paths) {
      const r = await api.call('GET', path);
      expect({ path, status: r.status, body: r.json }).toEqual({
        path,
        status: 400,
        body: { error: 'cursor: not a cursor this list returned', code: 'invalid_request', field: 'cursor' },
      });
    }
  });

  it('shows and filters the presence the collectors keep, and lets an operator set it', async () => {
    await api.call('POST', '/api/devices', {
      json: { device_id: 'pres-1', device_name: 'P', device_type: 'pres' },
    });
    await api.call('POST', '/api/devices', {
      json: { device_id: 'pres-2', device_name: 'P', device_type: 'pres' },
    });
    await api.database.db
      .insertInto('device_presence')
      .values({
        device_id: 'pres-1',
        connection_status: 'online',
        status_changed_at: '2026-11-29T10:00:00Z',
        last_seen: '2026-11-29T10:05:00.123Z',
        fw_version: '1.4.2',
      })
      .execute();
    const online = await api.call('GET', '/api/devices?type=pres&connection_status=online');
    expect(online.json).toMatchObject([
      {
        device_id: 'pres-1',
        connection_status: 'online',
        last_seen: '2026-11-29T10:05:00.123Z',
        fw_version: '1.4.2',
      },
    ]);
    const unknown = await api.call('GET', '/api/devices?type=pres&connection_status=unknown');
    expect((unknown.json as { device_id: string }[]).map((d) => d.device_id)).toEqual(['pres-2']);

    const status = await api.call('GET', '/api/devices/pres-1/status');
    expect(status.json).toEqual({
      device_id: 'pres-1',
      connection_status: 'online',
      last_seen: '2026-11-29T10:05:00.123Z',
      fw_version: '1.4.2',
    });
    const set = await api.call('PUT', '/api/devices/pres-2/status', {
      json: { connection_status: 'offline', fw_version: '2.0.0' },
    });
    expect(set.json).toMatchObject({
      device_id: 'pres-2',
      connection_status: 'offline',
      fw_version: '2.0.0',
      last_seen: ISO,
    });
    const invalid = await api.call('PUT', '/api/devices/pres-2/status', {
      json: { connection_status: 'asleep' },
    });
    expect(invalid.json).toMatchObject({ code: 'invalid_request', field: 'connection_status' });
    const cleared = await api.call('PUT', '/api/devices/pres-1/status', {
      json: { connection_status: 'unknown' },
    });
    expect(cleared.json).toMatchObject({ connection_status: 'unknown', fw_version: null });
  });
});
