import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ApiHarness } from './api-harness.js';

const stackEnv = inject('stackEnv');
const api = new ApiHarness(stackEnv);
beforeAll(async () => {
  await api.start();
  for (const [id, type] of [
    ['boiler-1', 'boiler'],
    ['boiler-2', 'boiler'],
    ['fridge-1', 'fridge'],
  ]) {
    const made = await api.call('POST', '/api/devices', {
      json: { device_id: id, device_name: id, device_type: type },
    });
    expect(made.status).toBe(201);
  }
  const points: [string, number, number][] = [
    ['boiler-1', 0, 80],
    ['boiler-1', 10, 95],
    ['boiler-1', 40, 96],
    ['boiler-1', 70, 97],
    ['boiler-1', 100, 84],
    ['boiler-1', 130, 95],
    ['boiler-1', 400, 80],
    ['boiler-2', 10, 95],
    ['boiler-2', 30, 80],
    ['boiler-2', 40, 95],
    ['boiler-2', 80, 96],
    ['fridge-1', 10, 99],
    ['fridge-1', 90, 99],
  ];
  await api.writePoints(
    points.map(([d, s, v]) => `iot_telemetry,device_id=${d},metric=temperature value=${v} ${T0 + s * 1000}`),
  );
});
afterAll(() => api.dispose());

const T0 = Math.floor(Date.now() / 1000) * 1000 - 3_600_000;
const at = (s: number) => new Date(T0 + s * 1000).toISOString();
const window = { start: at(-60), stop: at(600) };
const hot = {
  name: 'boiler-hot',
  kind: 'threshold',
  metric: 'temperature',
  condition: { op: '>', value: 90, clear: 85 },
  for: '60s',
  scope: { device_type: 'boiler' },
};
const preview = (json: unknown) => api.call('POST', '/api/alert-rules/preview', { json });

describe('alert rule preview', () => {
  it('says when each device in scope would have fired and cleared a threshold, judged as the evaluator does', async () => {
    const answer = await preview({ rule: hot, ...window });
    expect(answer.status).toBe(200);
    // boiler-2 breaks it twice but never for 60 s; fridge-1 is out of scope; boiler-1's last breach is cut short.
    expect(answer.json).toEqual({
      ...window,
      devices: 2,
      samples: 11,
      episode_count: 1,
      episodes: [
        {
          device_id: 'boiler-1',
          started_at: at(10),
          fired_at: at(70),
          value: 97,
          resolved_at: at(100),
          resolved_value: 84,
        },
      ],
    });
    // Without the clear threshold it resolves at the first sample that does not break the limit.
    const { clear: _, ...noClear } = hot.condition;
    const flappy = await preview({ rule: { ...hot, condition: noClear, for: '0s' }, ...window });
    expect((flappy.json as { episodes: unknown[] }).episodes).toEqual([
      {
        device_id: 'boiler-1',
        started_at: at(10),
        fired_at: at(10),
        value: 95,
        resolved_at: at(100),
        resolved_value: 84,
      },
      {
        device_id: 'boiler-2',
        started_at: at(10),
        fired_at: at(10),
        value: 95,
        resolved_at: at(30),
        resolved_value: 80,
      },
      {
        device_id: 'boiler-2',
        started_at: at(40),
        fired_at: at(40),
        value: 95,
        resolved_at: null,
        resolved_value: null,
      },
      {
        device_id: 'boiler-1',
        started_at: at(130),
        fired_at: at(130),
        value: 95,
        resolved_at: at(400),
        resolved_value: 80,
      },
    ]);
    // Nothing was stored.
    expect(await api.database.db.selectFrom('alert_rules').select('id').execute()).toEqual([]);
    expect(await api.database.db.selectFrom('device_alerts').select('id').execute()).toEqual([]);
  });

  // Each device's first sample came 60–70 s into the window: silent since its start, but not for 2 min.
  it('finds each silence longer than a no_data rule’s duration, the open one at the stop still firing', async () => {
    const answer = await preview({
      rule: {
        name: 'silent',
        kind: 'no_data',
        for: '2m',
        scope: { device_ids: ['boiler-1', 'boiler-2', 'fridge-1'] },
      },
      ...window,
    });
    expect(answer.status).toBe(200);
    expect(answer.json).toMatchObject({ devices: 3, samples: null, episode_count: 4 });
    expect((answer.json as { episodes: unknown[] }).episodes).toEqual([
      {
        device_id: 'boiler-2',
        started_at: at(80),
        fired_at: at(200),
        value: null,
        resolved_at: null,
        resolved_value: null,
      },
      {
        device_id: 'fridge-1',
        started_at: at(90),
        fired_at: at(210),
        value: null,
        resolved_at: null,
        resolved_value: null,
      },
      {
        device_id: 'boiler-1',
        started_at: at(130),
        fired_at: at(250),
        value: null,
        resolved_at: at(400),
        resolved_value: null,
      },
      {
        device_id: 'boiler-1',
        started_at: at(400),
        fired_at: at(520),
        value: null,
        resolved_at: null,
        resolved_value: null,
      },
    ]);
  });

  it.each([
    [
      'an offline rule',
      { rule: { name: 'o', kind: 'offline', for: '5m', scope: { all_devices: true } } },
      422,
      'preview_unsupported',
      'rule.kind',
    ],
    ['a stop before the start', { rule: hot, start: at(100), stop: at(0) }, 400, 'invalid_request', 'start'],
    ['a window over 31 days', { rule: hot, start: '-40d' }, 400, 'invalid_request', 'start'],
    ['a time that is none', { rule: hot, start: 'yesterday' }, 400, 'invalid_request', 'start'],
    [
      'a threshold without its condition',
      { rule: { ...hot, condition: undefined } },
      400,
      'invalid_request',
      'rule.condition',
    ],
    ['an unknown field', { rule: hot, colour: 'red' }, 400, 'invalid_request', undefined],
  ])('refuses %s', async (_, body, status, code, field) => {
    const answer = await preview(body);
    expect([answer.status, (answer.json as { code: string }).code]).toEqual([status, code]);
    expect((answer.json as { field?: string }).field).toBe(field);
  });
});
