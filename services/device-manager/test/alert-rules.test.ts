import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ApiHarness } from './api-harness.js';

const api = new ApiHarness(inject('stackEnv'));
beforeAll(() => api.start());
afterAll(() => api.dispose());

const ISO = expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

const hot = {
  name: 'boiler-hot',
  kind: 'threshold',
  metric: 'temperature',
  condition: { op: '>', value: 90, clear: 85 },
  for: '300s',
  scope: { device_type: 'boiler' },
  severity: 'critical',
  message: '{{device_id}} at {{ value }} °C (limit {{threshold}})',
};

describe('alert rules', () => {
  it('creates, reads, lists, replaces and deletes a rule', async () => {
    const created = await api.call('POST', '/api/alert-rules', { json: hot });
    expect(created.status).toBe(201);
    const rule = created.json as { id: number };
    expect(created.json).toEqual({
      id: expect.any(Number),
      name: 'boiler-hot',
      kind: 'threshold',
      metric: 'temperature',
      condition: { op: '>', value: 90, clear: 85 },
      for: '5m',
      scope: { device_type: 'boiler' },
      severity: 'critical',
      message: '{{device_id}} at {{ value }} °C (limit {{threshold}})',
      enabled: true,
      managed_by: null,
      created_at: ISO,
      updated_at: ISO,
    });
    expect((await api.call('GET', `/api/alert-rules/${rule.id}`)).json).toEqual(created.json);

    const silent = await api.call('POST', '/api/alert-rules', {
      json: { name: 'silent', kind: 'no_data', for: '10m', scope: { labels: { site: 'north' } } },
    });
    expect(silent.json).toMatchObject({
      metric: null,
      condition: null,
      severity: 'warning',
      message: '{{device_id}}: no telemetry for {{for}} ({{rule}})',
    });
    const listed = await api.call('GET', '/api/alert-rules?kind=no_data');
    expect((listed.json as { name: string }[]).map((r) => r.name)).toEqual(['silent']);

    const replaced = await api.call('PUT', `/api/alert-rules/${rule.id}`, {
      json: {
        ...hot,
        condition: { op: 'outside', low: 10, high: 90, clear_low: 12, clear_high: 85 },
        enabled: false,
      },
    });
    expect(replaced.status).toBe(200);
    expect(replaced.json).toMatchObject({
      id: rule.id,
      condition: { op: 'outside', low: 10, high: 90, clear_low: 12, clear_high: 85 },
      enabled: false,
    });
    expect((await api.call('GET', '/api/alert-rules?enabled=false')).json).toEqual([replaced.json]);

    const deleted = await api.call('DELETE', `/api/alert-rules/${rule.id}`);
    expect(deleted.json).toEqual(replaced.json);
    expect((await api.call('GET', `/api/alert-rules/${rule.id}`)).json).toEqual({
      error: 'Alert rule not found',
      code: 'rule_not_found',
    });
    expect((await api.call('DELETE', `/api/alert-rules/${rule.id}`)).status).toBe(404);
  });

  it('refuses a second rule of the same name with 409', async () => {
    const rule = { name: 'twice', kind: 'offline', for: '1h', scope: { all_devices: true } };
    expect((await api.call('POST', '/api/alert-rules', { json: rule })).status).toBe(201);
    const again = await api.call('POST', '/api/alert-rules', { json: rule });
    expect(again.status).toBe(409);
    expect(again.json).toEqual({ error: 'a rule named twice exists', code: 'rule_exists', field: 'name' });
  });

  it('refuses to change a rule declared as code', async () => {
    const { id } = await api.database.db
      .insertInto('alert_rules')
      .values({
        name: 'from-values',
        kind: 'offline',
        for_seconds: 60,
        scope: JSON.stringify({ all_devices: true }),
        message_template: 'x',
        managed_by: 'chart values',
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    const body = { name: 'from-values', kind: 'offline', for: '2m', scope: { all_devices: true } };
    for (const [method, json] of [
      ['PUT', body],
      ['DELETE', undefined],
    ] as const) {
      const refused = await api.call(method, `/api/alert-rules/${id}`, json ? { json } : {});
      expect(refused.status).toBe(409);
      expect(refused.json).toEqual({
        error: 'rule from-values is declared in chart values; change it there',
        code: 'rule_managed',
      });
    }
    const kept = await api.call('GET', `/api/alert-rules/${id}`);
    expect(kept.json).toMatchObject({ for: '1m', managed_by: 'chart values' });
  });

  it.each([
    ['an unknown kind', { ...hot, kind: 'magic' }, 'kind'],
    ['a negative duration', { ...hot, for: '-5m' }, 'for'],
    ['a duration past 7 days', { ...hot, for: '8d' }, 'for'],
    ['an empty scope', { ...hot, scope: {} }, 'scope'],
    ['two scopes at once', { ...hot, scope: { device_type: 'boiler', all_devices: true } }, 'scope'],
    ['no labels', { ...hot, scope: { labels: {} } }, 'scope.labels'],
    ['an unknown template field', { ...hot, message: 'hot {{device_name}}' }, 'message'],
    ['a threshold without a metric', { ...hot, metric: undefined }, 'metric'],
    ['a threshold without a condition', { ...hot, condition: undefined }, 'condition'],
    ['an unknown operator', { ...hot, condition: { op: '!=', value: 3 } }, 'condition.op'],
    [
      'a clear threshold on the firing side',
      { ...hot, condition: { op: '>', value: 90, clear: 95 } },
      'condition.clear',
    ],
    ['a range upside down', { ...hot, condition: { op: 'inside', low: 5, high: 1 } }, 'condition.high'],
    [
      'a clear range wider than the range',
      { ...hot, condition: { op: 'outside', low: 0, high: 10, clear_low: -1 } },
      'condition.clear_low',
    ],
    ['a non-finite value', { ...hot, condition: { op: '<', value: '1e999' } }, 'condition.value'],
    [
      'an offline rule with a metric',
      { name: 'o', kind: 'offline', metric: 'x', for: '1m', scope: { all_devices: true } },
      'metric',
    ],
    [
      'an offline rule without a duration',
      { name: 'o', kind: 'offline', scope: { all_devices: true } },
      'for',
    ],
    ['an unknown field', { ...hot, threshold: 3 }, ''],
    ['a bad name', { ...hot, name: 'Boiler Hot' }, 'name'],
  ])('refuses %s with a 400 naming the field', async (_, json, field) => {
    const refused = await api.call('POST', '/api/alert-rules', { json });
    expect(refused.status).toBe(400);
    expect(refused.json).toMatchObject({ code: 'invalid_request', ...(field ? { field } : {}) });
  });
});
