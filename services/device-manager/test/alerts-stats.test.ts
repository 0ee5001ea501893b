import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ApiHarness } from './api-harness.js';

const api = new ApiHarness(inject('stackEnv'));
beforeAll(() => api.start());
afterAll(() => api.dispose());

const ISO = expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

describe('alerts', () => {
  it('raises, lists, acknowledges (recording who and when) and resolves alerts', async () => {
    await api.call('POST', '/api/devices', { json: { device_id: 'device-001', device_name: 'One' } });
    const created = await api.call('POST', '/api/devices/device-001/alerts', {
      json: {
        alert_type: 'high_temperature',
        severity: 'warning',
        message: 'Temperature exceeded threshold',
      },
    });
    expect(created.status).toBe(201);
    const alert = created.json as { id: number };
    expect(created.json).toEqual({
      id: expect.any(Number),
      device_id: 'device-001',
      alert_type: 'high_temperature',
      severity: 'warning',
      message: 'Temperature exceeded threshold',
      acknowledged: false,
      acknowledged_by: null,
      acknowledged_at: null,
      resolved_at: null,
      created_at: ISO,
      rule_id: null,
      value: null,
      started_at: null,
    });
    const defaults = await api.call('POST', '/api/devices/device-001/alerts', { json: {} });
    expect(defaults.json).toMatchObject({ alert_type: 'general', severity: 'info', message: '' });

    const unacknowledged = await api.call('GET', '/api/devices/device-001/alerts?acknowledged=false');
    expect((unacknowledged.json as { id: number }[]).length).toBe(2);

    const ack = await api.call('POST', `/api/alerts/${alert.id}/acknowledge`);
    expect(ack.json).toMatchObject({
      id: alert.id,
      acknowledged: true,
      acknowledged_by: 'bootstrap-admin',
      acknowledged_at: ISO,
    });
    const again = await api.call('POST', `/api/alerts/${alert.id}/acknowledge`);
    expect(again.json).toEqual(ack.json);

    const acknowledged = await api.call('GET', '/api/devices/device-001/alerts?acknowledged=true');
    expect((acknowledged.json as { id: number }[]).map((a) => a.id)).toEqual([alert.id]);

    const resolved = await api.call('POST', `/api/alerts/${alert.id}/resolve`);
    expect(resolved.json).toMatchObject({ id: alert.id, resolved_at: ISO });
    const open = await api.call('GET', '/api/alerts?device_id=device-001&resolved=false');
    expect((open.json as { alert_type: string }[]).map((a) => a.alert_type)).toEqual(['general']);
  });

  it('pages alerts across devices, newest first', async () => {
    for (const id of ['al-a', 'al-b']) {
      await api.call('POST', '/api/devices', { json: { device_id: id, device_name: id } });
      for (let i = 0; i < 3; i += 1) {
        await api.call('POST', `/api/devices/${id}/alerts`, {
          json: { alert_type: 'paging', message: `${id}-${i}` },
        });
      }
    }
    const first = await api.call('GET', '/api/alerts?alert_type=paging&limit=4');
    expect((first.json as { message: string }[]).map((a) => a.message)).toEqual([
      'al-b-2',
      'al-b-1',
      'al-b-0',
      'al-a-2',
    ]);
    const second = await api.call(
      'GET',
      `/api/alerts?alert_type=paging&limit=4&cursor=${first.headers.get('x-next-cursor')}`,
    );
    expect((second.json as { message: string }[]).map((a) => a.message)).toEqual(['al-a-1', 'al-a-0']);
    expect(second.headers.get('x-next-cursor')).toBeNull();
  });

  it('answers unknown devices and alerts with 404 and bad ids with 400', async () => {
    const cases: [string, string, object | undefined, number, string, string?][] = [
      ['POST', '/api/devices/ghost/alerts', {}, 404, 'device_not_found'],
      ['GET', '/api/devices/ghost/alerts', undefined, 404, 'device_not_found'],
      ['POST', '/api/alerts/999999/acknowledge', undefined, 404, 'alert_not_found'],
      ['POST', '/api/alerts/999999/resolve', undefined, 404, 'alert_not_found'],
      ['POST', '/api/alerts/abc/acknowledge', undefined, 400, 'invalid_request', 'alert_id'],
      ['GET', '/api/alerts?acknowledged=maybe', undefined, 400, 'invalid_request', 'acknowledged'],
      [
        'POST',
        '/api/devices/device-001/alerts',
        { severity: 'apocalyptic' },
        400,
        'invalid_request',
        'severity',
      ],
    ];
    for (const [method, path, json, status, code, field] of cases) {
      const r = await api.call(method, path, json === undefined ? {} : { json });
      expect({ path, status: r.status, json: r.json }).toMatchObject({
        path,
        status,
        json: field ? { code, field } : { code },
      });
    }
  });
});

describe('stats', () => {
  it('counts devices by status and connection, open alerts and last hour’s messages', async () => {
    const fresh = new ApiHarness(inject('stackEnv'));
    await fresh.start();
    try {
      for (const [id, status] of [
        ['s-1', 'active'],
        ['s-2', 'active'],
        ['s-3', 'inactive'],
      ] as const) {
        await fresh.call('POST', '/api/devices', { json: { device_id: id, device_name: id, status } });
      }
      const db = fresh.database.db;
      await db
        .insertInto('device_presence')
        .values({
          device_id: 's-1',
          connection_status: 'online',
          status_changed_at: new Date(),
          last_seen: new Date(),
        })
        .execute();
      await fresh.call('POST', '/api/devices/s-1/alerts', { json: {} });
      const segment = { device_id: 's-1', byte_offset: 0, byte_length: 10 };
      await db
        .insertInto('archive_segments')
        .values([
          {
            ...segment,
            object_key: 'raw/a',
            kind: 'raw',
            message_count: 7,
            first_received_at: new Date(),
            last_received_at: new Date(),
          },
          {
            ...segment,
            object_key: 'quarantine/a',
            kind: 'quarantine',
            message_count: 2,
            first_received_at: new Date(),
            last_received_at: new Date(),
          },
          {
            ...segment,
            object_key: 'raw/old',
            kind: 'raw',
            message_count: 100,
            first_received_at: '2026-01-01T00:00:00Z',
            last_received_at: '2026-01-01T00:00:01Z',
          },
        ])
        .execute();
      const stats = await fresh.call('GET', '/api/stats');
      expect(stats.json).toEqual({
        total_devices: 3,
        device_by_status: [
          { status: 'active', count: 2 },
          { status: 'inactive', count: 1 },
        ],
        unacknowledged_alerts: 1,
        connection: { online: 1, offline: 0, unknown: 2 },
        messages_last_hour: 7,
        quarantined_last_hour: 2,
      });
      // The same counts for the fleet dashboard, at each scrape.
      const metrics = (await fresh.call('GET', '/metrics', { key: null })).text;
      expect(metrics.match(/^iot_devices\{.*$/gm)).toEqual([
        'iot_devices{connection_status="online",service="device-manager"} 1',
        'iot_devices{connection_status="offline",service="device-manager"} 0',
        'iot_devices{connection_status="unknown",service="device-manager"} 2',
      ]);
    } finally {
      await fresh.dispose();
    }
  });
});
