import { createMetricsRegistry } from '@iot-meter/common';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ApiHarness } from './api-harness.js';

const stackEnv = inject('stackEnv');
const api = new ApiHarness(stackEnv);
beforeAll(() => api.start());
afterAll(() => api.dispose());

const T0 = Math.floor(Date.now() / 1000) * 1000 - 3_600_000;
let clock = T0;

// Each test's evaluators share a lock of their own, so tests (and files) running at once do not.
let lockId = Math.floor(Math.random() * 1_000_000);
const evaluator = () => api.ruleEvaluator([4242, lockId], { now: () => clock });

async function device(id: string, type: string) {
  expect(
    (await api.call('POST', '/api/devices', { json: { device_id: id, device_name: id, device_type: type } }))
      .status,
  ).toBe(201);
}

async function rule(json: Record<string, unknown>): Promise<number> {
  const created = await api.call('POST', '/api/alert-rules', { json });
  expect(created.status).toBe(201);
  return (created.json as { id: number }).id;
}

/** Temperatures of a device at seconds after T0. */
function temperatures(deviceId: string, ...points: [number, number][]) {
  return api.writePoints(
    points.map(
      ([s, v]) => `iot_telemetry,device_id=${deviceId},metric=temperature value=${v} ${T0 + s * 1000}`,
    ),
  );
}

async function alertsOf(ruleId: number) {
  return api.database.db
    .selectFrom('device_alerts')
    .select(['device_id', 'alert_type', 'severity', 'message', 'value', 'started_at', 'resolved_at'])
    .where('rule_id', '=', ruleId)
    .orderBy('id')
    .execute();
}

describe('alert rule evaluation', () => {
  it('fires a threshold held for `for` once per device, ignores a shorter breach, and resolves past the clear threshold', async () => {
    await device('boiler-1', 'boiler');
    await device('boiler-2', 'boiler');
    await device('fridge-1', 'fridge');
    const id = await rule({
      name: 'boiler-hot',
      kind: 'threshold',
      metric: 'temperature',
      condition: { op: '>', value: 90, clear: 85 },
      for: '60s',
      scope: { device_type: 'boiler' },
      severity: 'critical',
      message: '{{device_id}} at {{value}} (limit {{threshold}}, {{rule}})',
    });
    await temperatures('boiler-1', [0, 80], [10, 95], [40, 96], [70, 97]);
    await temperatures('boiler-2', [10, 95], [30, 80], [40, 95], [80, 96]);
    await temperatures('fridge-1', [10, 99], [90, 99]);
    const registry = createMetricsRegistry('device-manager');
    const { evaluator: one } = api.ruleEvaluator([4242, lockId], { now: () => clock, registry });
    const metric = async (name: string) =>
      (await registry.metrics()).split('\n').filter((line) => line.startsWith(name));

    clock = T0 + 100_000;
    expect(await one.pass()).toEqual({ leading: true, rules: 1, failed: 0, opened: 1, closed: 0 });
    expect(await alertsOf(id)).toEqual([
      {
        device_id: 'boiler-1',
        alert_type: 'boiler-hot',
        severity: 'critical',
        message: 'boiler-1 at 97 (limit 90, boiler-hot)',
        value: 97,
        started_at: new Date(T0 + 10_000),
        resolved_at: null,
      },
    ]);
    expect(await metric('iot_alerts_firing')).toEqual([
      'iot_alerts_firing{severity="critical",service="device-manager"} 1',
    ]);
    expect(await metric('iot_alert_rule_evaluations_total')).toEqual([
      'iot_alert_rule_evaluations_total{outcome="ok",service="device-manager"} 1',
    ]);
    expect(await metric('iot_alert_evaluator_leader')).toEqual([
      'iot_alert_evaluator_leader{service="device-manager"} 1',
    ]);
    // Nothing new: nothing changes. Hovering between 85 and 90 keeps it open; 84 resolves it then.
    clock = T0 + 115_000;
    expect(await one.pass()).toMatchObject({ opened: 0, closed: 0 });
    await temperatures('boiler-1', [110, 88], [120, 90], [125, 86]);
    clock = T0 + 130_000;
    expect(await one.pass()).toMatchObject({ opened: 0, closed: 0 });
    await temperatures('boiler-1', [135, 84]);
    clock = T0 + 145_000;
    expect(await one.pass()).toMatchObject({ opened: 0, closed: 1 });
    const [alert] = await alertsOf(id);
    expect(alert?.resolved_at).toEqual(new Date(T0 + 135_000));
    expect(await metric('iot_alerts_firing')).toEqual([]);
    expect(await metric('iot_alert_rule_alerts_resolved_total')).toEqual([
      'iot_alert_rule_alerts_resolved_total{service="device-manager"} 1',
    ]);
    const listed = await api.call('GET', `/api/alerts?rule_id=${id}`);
    expect(listed.json).toMatchObject([
      {
        device_id: 'boiler-1',
        alert_type: 'boiler-hot',
        rule_id: id,
        value: 97,
        started_at: new Date(T0 + 10_000).toISOString(),
        resolved_at: new Date(T0 + 135_000).toISOString(),
      },
    ]);
    expect((await api.call('GET', `/api/alerts?rule_id=${id}&resolved=false`)).json).toEqual([]);
    // boiler-2 never held 95+ for 60 s (40 → 80 is 40 s); it is still pending since 40.
    const states = await api.database.db
      .selectFrom('alert_rule_states')
      .select(['device_id', 'state', 'since'])
      .where('rule_id', '=', id)
      .orderBy('device_id')
      .execute();
    expect(states).toEqual([
      { device_id: 'boiler-1', state: 'resolved', since: new Date(T0 + 135_000) },
      { device_id: 'boiler-2', state: 'pending', since: new Date(T0 + 40_000) },
    ]);
    expect(await alertsOf(id)).toHaveLength(1);
  });

  it('leads on one replica only, and another takes over with the pending state when the leader dies', async () => {
    lockId += 1;
    await device('press-1', 'press');
    const id = await rule({
      name: 'press-low',
      kind: 'threshold',
      metric: 'temperature',
      condition: { op: '<', value: 10 },
      for: '60s',
      scope: { device_ids: ['press-1'] },
    });
    const first = evaluator();
    const second = evaluator();
    await temperatures('press-1', [1000, 5], [1030, 4]);
    clock = T0 + 1_040_000;
    expect(await first.evaluator.pass()).toMatchObject({ leading: true, opened: 0 });
    expect(await second.evaluator.pass()).toEqual({
      leading: false,
      rules: 0,
      failed: 0,
      opened: 0,
      closed: 0,
    });

    // The leader's connection goes (as when its process is killed): the lock goes with it.
    await first.leadership.close();
    await temperatures('press-1', [1070, 3]);
    clock = T0 + 1_080_000;
    expect(await second.evaluator.pass()).toMatchObject({ leading: true, opened: 1 });
    expect(await alertsOf(id)).toMatchObject([
      { device_id: 'press-1', value: 3, started_at: new Date(T0 + 1_000_000) },
    ]);
  });

  it('judges samples a device backfills after an outage at their own times', async () => {
    lockId += 1;
    await device('tank-1', 'tank');
    const id = await rule({
      name: 'tank-hot',
      kind: 'threshold',
      metric: 'temperature',
      condition: { op: '>=', value: 50 },
      for: '30s',
      scope: { device_ids: ['tank-1'] },
    });
    const { evaluator: one } = evaluator();
    await temperatures('tank-1', [2000, 20]);
    clock = T0 + 2_010_000;
    await one.pass();
    // Offline from 2000 to 2600; at 2600 it sends what it measured meanwhile, and is seen again.
    clock = T0 + 2_600_000;
    await one.pass();
    await temperatures('tank-1', [2100, 55], [2140, 60], [2200, 40], [2590, 21]);
    await api.database.db
      .insertInto('device_presence')
      .values({
        device_id: 'tank-1',
        connection_status: 'online',
        status_changed_at: new Date(clock),
        last_seen: new Date(clock),
      })
      .execute();
    clock = T0 + 2_615_000;
    expect(await one.pass()).toMatchObject({ opened: 1, closed: 1 });
    expect(await alertsOf(id)).toMatchObject([
      { value: 60, started_at: new Date(T0 + 2_100_000), resolved_at: new Date(T0 + 2_200_000) },
    ]);
  });

  it('fires offline after its duration and no_data for a silent device, and resolves both when it is back', async () => {
    lockId += 1;
    await device('meter-1', 'meter');
    await device('meter-2', 'meter');
    const offline = await rule({
      name: 'meter-offline',
      kind: 'offline',
      for: '5m',
      scope: { device_type: 'meter' },
    });
    const silent = await rule({
      name: 'meter-silent',
      kind: 'no_data',
      for: '10m',
      scope: { device_type: 'meter' },
    });
    // A short lookback, so a last sample soon falls out of what a pass reads.
    const { evaluator: one } = api.ruleEvaluator([4242, lockId], { now: () => clock, lookbackMs: 60_000 });
    clock = T0 + 3_000_000;
    await temperatures('meter-1', [2990, 20]);
    await temperatures('meter-2', [2990, 20]);
    await api.database.db
      .insertInto('device_presence')
      .values([
        {
          device_id: 'meter-1',
          connection_status: 'offline',
          status_changed_at: new Date(T0 + 2_995_000),
          last_seen: new Date(T0 + 2_990_000),
        },
        {
          device_id: 'meter-2',
          connection_status: 'online',
          status_changed_at: new Date(T0 + 2_000_000),
          last_seen: new Date(T0 + 2_990_000),
        },
      ])
      .execute();
    expect(await one.pass()).toMatchObject({ opened: 0 });
    clock = T0 + 3_300_000;
    expect(await one.pass()).toMatchObject({ opened: 1 });
    expect(await alertsOf(offline)).toMatchObject([
      { device_id: 'meter-1', started_at: new Date(T0 + 2_995_000), resolved_at: null },
    ]);
    // meter-2 keeps sending; meter-1 has been silent since 2990 s: 10 minutes later, no_data fires.
    await temperatures('meter-2', [3500, 21]);
    clock = T0 + 3_600_000;
    expect(await one.pass()).toMatchObject({ opened: 1 });
    expect(await alertsOf(silent)).toMatchObject([
      {
        device_id: 'meter-1',
        message: 'meter-1: no telemetry for 10m (meter-silent)',
        started_at: new Date(T0 + 2_990_000),
      },
    ]);

    // Still silent once its last sample is older than any pass reads: the alert stays as it is.
    await temperatures('meter-2', [3650, 21]);
    clock = T0 + 3_700_000;
    expect(await one.pass()).toMatchObject({ opened: 0, closed: 0 });
    expect(await alertsOf(silent)).toMatchObject([
      { device_id: 'meter-1', started_at: new Date(T0 + 2_990_000), resolved_at: null },
    ]);

    await temperatures('meter-1', [3710, 22]);
    await api.database.db
      .updateTable('device_presence')
      .set({
        connection_status: 'online',
        status_changed_at: new Date(T0 + 3_705_000),
        last_seen: new Date(T0 + 3_710_000),
      })
      .where('device_id', '=', 'meter-1')
      .execute();
    clock = T0 + 3_720_000;
    expect(await one.pass()).toMatchObject({ closed: 2 });
    expect((await alertsOf(offline))[0]?.resolved_at).toEqual(new Date(T0 + 3_705_000));
    expect((await alertsOf(silent))[0]?.resolved_at).toEqual(new Date(T0 + 3_710_000));
  });

  it('notifies an alert resolved by hand or by changing its rule, and raises a new one while the condition holds', async () => {
    lockId += 1;
    await device('kiln-1', 'kiln');
    const hookUrl = 'http://127.0.0.1:9/never-called';
    const hook = await api.call('POST', '/api/webhooks', { json: { name: 'kiln-hook', url: hookUrl } });
    const hookId = (hook.json as { id: number }).id;
    const kilnRule = {
      name: 'kiln-hot',
      kind: 'threshold',
      metric: 'temperature',
      condition: { op: '>', value: 900 },
      scope: { device_ids: ['kiln-1'] },
    };
    const id = await rule(kilnRule);
    const { evaluator: one } = evaluator();
    await temperatures('kiln-1', [4000, 950]);
    clock = T0 + 4_010_000;
    expect(await one.pass()).toMatchObject({ opened: 1 });
    const [first] = await api.database.db
      .selectFrom('device_alerts')
      .select('id')
      .where('rule_id', '=', id)
      .execute();
    expect((await api.call('POST', `/api/alerts/${first?.id}/resolve`)).status).toBe(200);
    await temperatures('kiln-1', [4020, 960]);
    clock = T0 + 4_030_000;
    expect(await one.pass()).toMatchObject({ opened: 1 });
    // A changed rule resolves what it had open.
    expect(
      (await api.call('PUT', `/api/alert-rules/${id}`, { json: { ...kilnRule, severity: 'critical' } }))
        .status,
    ).toBe(200);
    expect((await alertsOf(id)).map((a) => a.resolved_at === null)).toEqual([false, false]);
    const events = await api.database.db
      .selectFrom('alert_notifications')
      .select(['alert_id', 'event'])
      .where('target', '=', `webhook:${hookId}`)
      .orderBy('id')
      .execute();
    expect(events.map((e) => e.event)).toEqual(['firing', 'resolved', 'firing', 'resolved']);
    expect(new Set(events.map((e) => e.alert_id)).size).toBe(2);
    await api.call('DELETE', `/api/webhooks/${hookId}`);
  });

  it('resolves the alert of a device that leaves the rule’s scope', async () => {
    lockId += 1;
    await device('pump-1', 'pump');
    const id = await rule({
      name: 'pump-hot',
      kind: 'threshold',
      metric: 'temperature',
      condition: { op: '>', value: 70 },
      scope: { device_type: 'pump' },
    });
    const { evaluator: one } = evaluator();
    await temperatures('pump-1', [5000, 75]);
    clock = T0 + 5_010_000;
    await one.pass();
    // (Earlier tests' rules are judged too, so this rule's alerts are counted, not the pass's.)
    expect(await alertsOf(id)).toMatchObject([{ device_id: 'pump-1', resolved_at: null }]);
    expect((await api.call('PUT', '/api/devices/pump-1', { json: { device_type: 'valve' } })).status).toBe(
      200,
    );
    await temperatures('pump-1', [5015, 80]);
    clock = T0 + 5_020_000;
    expect(await one.pass()).toMatchObject({ opened: 0, closed: 1 });
    expect(await alertsOf(id)).toMatchObject([
      { device_id: 'pump-1', resolved_at: new Date(T0 + 5_020_000) },
    ]);
    expect(await one.pass()).toMatchObject({ opened: 0, closed: 0 });
  });
  it('fires sequence_gap once messages have been missing for its duration, and resolves when none is', async () => {
    lockId += 1;
    await device('meter-9', 'meter');
    await device('meter-10', 'meter');
    const id = await rule({
      name: 'gaps',
      kind: 'sequence_gap',
      for: '30s',
      scope: { device_type: 'meter' },
    });
    // The collectors' tracking: meter-9 misses seqs 3 and 4; meter-10 misses one, briefly.
    const missing = (deviceId: string, seqs: number[]) =>
      api.database.db
        .insertInto('device_sequences')
        .values({ device_id: deviceId, high_seq: 5, missing: seqs })
        .onConflict((oc) => oc.column('device_id').doUpdateSet({ missing: seqs }))
        .execute();
    await missing('meter-9', [3, 4]);
    await missing('meter-10', [2]);
    const { evaluator: one } = evaluator();
    clock = T0 + 6_000_000;
    await one.pass();
    expect(await alertsOf(id)).toEqual([]);
    await missing('meter-10', []);
    clock = T0 + 6_030_000;
    await one.pass();
    expect(await alertsOf(id)).toEqual([
      {
        device_id: 'meter-9',
        alert_type: 'gaps',
        severity: 'warning',
        message: 'meter-9: 2 message(s) missing from its sequence (gaps)',
        value: 2,
        started_at: new Date(T0 + 6_000_000),
        resolved_at: null,
      },
    ]);
    // They arrived late (or were counted lost): nothing missing, resolved.
    await missing('meter-9', []);
    clock = T0 + 6_045_000;
    await one.pass();
    expect((await alertsOf(id)).map((a) => [a.device_id, a.resolved_at])).toEqual([
      ['meter-9', new Date(T0 + 6_045_000)],
    ]);
  });
});
