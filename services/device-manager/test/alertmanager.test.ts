import { randomBytes } from 'node:crypto';
import { createRandom } from '@iot-meter/common';
import { waitFor } from '@iot-meter/common/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DEVICE_MODELS } from '../../simulator/src/device-models.js';
import { createAlertmanagerNotifier } from '../src/alert-rules/alertmanager-notifier.js';
import { ApiHarness } from './api-harness.js';
import { startReceiver } from './http-receiver.js';

// The stack's Alertmanager notifies one webhook receiver, on ALERT_RECEIVER_PORT: this test is it.
const stackEnv = inject('stackEnv');
const api = new ApiHarness(stackEnv);
type Notification = {
  status: string;
  alerts: { status: string; labels: Record<string, string>; annotations: Record<string, string> }[];
};
let receiver: Awaited<ReturnType<typeof startReceiver>>;
const received = () => receiver.received.map((r) => JSON.parse(r.body) as Notification);
beforeAll(async () => {
  await api.start();
  receiver = await startReceiver(Number(stackEnv.ALERT_RECEIVER_PORT));
});
afterAll(async () => {
  receiver.server.close();
  await api.dispose();
});

describe('notifications through Alertmanager', () => {
  it('notifies exactly one firing and one resolved notification with the rule’s labels, and keeps what Alertmanager could not take', async () => {
    const device = `am-${randomBytes(4).toString('hex')}`;
    await api.call('POST', '/api/devices', {
      json: { device_id: device, device_name: device, device_type: 'boiler', location: 'hall-2' },
    });
    const rule = await api.call('POST', '/api/alert-rules', {
      json: {
        name: `${device}-hot`,
        kind: 'threshold',
        metric: 'temperature',
        condition: { op: '>', value: 90, clear: 85 },
        for: '20s',
        scope: { device_ids: [device] },
        severity: 'critical',
      },
    });
    const ruleId = (rule.json as { id: number }).id;
    const t0 = Date.now() - 60_000;
    const write = (...points: [number, number][]) =>
      api.writePoints(
        points.map(
          ([s, v]) => `iot_telemetry,device_id=${device},metric=temperature value=${v} ${t0 + s * 1000}`,
        ),
      );
    const { evaluator } = api.ruleEvaluator([4243, 1], {
      maxLatenessMs: 3_600_000,
      notificationTargets: ['alertmanager'],
    });
    const notifier = (url: string) =>
      createAlertmanagerNotifier({
        db: api.apiDb,
        url,
        intervalMs: 15_000,
        logger: api.logger,
        timeoutMs: 2000,
      });

    await write([0, 95], [10, 96], [30, 97]);
    expect(await evaluator.pass()).toMatchObject({ opened: 1 });
    const outbox = () =>
      api.database.db
        .selectFrom('alert_notifications as n')
        .innerJoin('device_alerts as a', 'a.id', 'n.alert_id')
        .select(['n.event', 'n.attempts', 'n.delivered_at', 'n.last_error'])
        .where('a.rule_id', '=', ruleId)
        .orderBy('n.id')
        .execute();

    // Alertmanager unreachable: the notification waits, with the error and a later attempt.
    expect(await notifier('http://127.0.0.1:9').deliver()).toEqual({ sent: 0, failed: true });
    expect(await outbox()).toMatchObject([
      { event: 'firing', attempts: 1, delivered_at: null, last_error: expect.any(String) },
    ]);

    const alertmanager = notifier(stackEnv.ALERTMANAGER_URL ?? '');
    // Not due yet (backoff), but open alerts are always sent: Alertmanager gets it now.
    expect(await alertmanager.deliver()).toEqual({ sent: 1, failed: false });
    const ours = () => received().filter((n) => n.alerts.some((a) => a.labels.device_id === device));
    await waitFor(async () => ours().length === 1, 'the firing notification', { timeoutMs: 20_000 });
    const [firing] = ours();
    expect(firing?.status).toBe('firing');
    expect(firing?.alerts.map((a) => [a.status, a.labels])).toEqual([
      [
        'firing',
        {
          alertname: `${device}-hot`,
          rule: String(ruleId),
          device_id: device,
          severity: 'critical',
          device_type: 'boiler',
          location: 'hall-2',
        },
      ],
    ]);
    expect(firing?.alerts[0]?.annotations).toEqual({
      summary: `${device}: temperature 97 breaks 90 (${device}-hot)`,
      value: '97',
    });

    // Sent again while firing (as Alertmanager expects): no second notification.
    await alertmanager.deliver();
    await write([40, 80]);
    expect(await evaluator.pass()).toMatchObject({ closed: 1 });
    await alertmanager.deliver();
    await waitFor(async () => ours().length === 2, 'the resolved notification', { timeoutMs: 20_000 });
    expect(ours()[1]?.status).toBe('resolved');
    expect(ours()[1]?.alerts.map((a) => a.status)).toEqual(['resolved']);
    expect(await outbox()).toMatchObject([
      { event: 'firing', delivered_at: expect.any(Date), last_error: null },
      { event: 'resolved', attempts: 1, delivered_at: expect.any(Date) },
    ]);
    await alertmanager.deliver();
    await new Promise((resolve) => setTimeout(resolve, 3000));
    expect(ours()).toHaveLength(2);
  });
  it('fires once and resolves once for a voltage sag of the simulator’s DC traction meter', async () => {
    // The simulator's model of a 750 V DC meter, seeded so that its supply sags 120 V for 27 s
    // (samples 187–213 of a second each) and recovers; replayed to end 5 s ago, each pass right
    // after its samples (on the evaluator's clock, so a slow machine judges the same).
    const meter = DEVICE_MODELS.dc.create(createRandom('sag-3'), 2000);
    const modelStart = Date.UTC(2026, 11, 2, 12);
    const voltages = Array.from({ length: 231 }, (_, i) => meter(modelStart + i * 1000).measurements[0]?.val);
    expect(voltages.slice(185, 189)).toEqual([770, 764.7, 649.6, 648.3]);
    expect(voltages.slice(212, 215)).toEqual([648, 644.1, 768.5]);
    const device = `sag-${randomBytes(4).toString('hex')}`;
    await api.call('POST', '/api/devices', {
      json: { device_id: device, device_name: device, device_type: 'power_meter_dc' },
    });
    const rule = await api.call('POST', '/api/alert-rules', {
      json: {
        name: `${device}-sag`,
        kind: 'threshold',
        metric: 'voltage_dc',
        condition: { op: '<', value: 700, clear: 740 },
        for: '5s',
        scope: { device_type: 'power_meter_dc' },
        severity: 'warning',
        message: '{{device_id}}: DC supply at {{value}} V, under {{threshold}} V',
      },
    });
    const ruleId = (rule.json as { id: number }).id;
    const t0 = Date.now() - 235_000;
    const replay = (from: number, to: number) =>
      api.writePoints(
        voltages
          .slice(from, to)
          .map(
            (v, i) =>
              `iot_telemetry,device_id=${device},metric=voltage_dc value=${v} ${t0 + (from + i) * 1000}`,
          ),
      );
    let clock = t0 + 195_000;
    const { evaluator } = api.ruleEvaluator([4243, 2], {
      notificationTargets: ['alertmanager'],
      now: () => clock,
    });
    const alertmanager = createAlertmanagerNotifier({
      db: api.apiDb,
      url: stackEnv.ALERTMANAGER_URL ?? '',
      intervalMs: 15_000,
      logger: api.logger,
      timeoutMs: 2000,
    });
    const ours = () => received().filter((n) => n.alerts.some((a) => a.labels.device_id === device));

    // Up to seven seconds into the sag: held for its 5 s, it fires.
    await replay(0, 194);
    expect(await evaluator.pass()).toMatchObject({ opened: 1, closed: 0 });
    expect(await alertmanager.deliver()).toEqual({ sent: 1, failed: false });
    await waitFor(async () => ours().length === 1, 'the firing notification', { timeoutMs: 20_000 });
    expect(ours()[0]?.alerts.map((a) => [a.status, a.labels, a.annotations])).toEqual([
      [
        'firing',
        {
          alertname: `${device}-sag`,
          rule: String(ruleId),
          device_id: device,
          severity: 'warning',
          device_type: 'power_meter_dc',
        },
        { summary: `${device}: DC supply at 647.1 V, under 700 V`, value: '647.1' },
      ],
    ]);

    // The rest of the sag and the recovery: one resolved notification, and the alert's times are the data's.
    await replay(194, 231);
    clock = t0 + 235_000;
    expect(await evaluator.pass()).toMatchObject({ opened: 0, closed: 1 });
    await alertmanager.deliver();
    await waitFor(async () => ours().length === 2, 'the resolved notification', { timeoutMs: 20_000 });
    expect(ours()[1]?.alerts.map((a) => [a.status, a.labels.alertname])).toEqual([
      ['resolved', `${device}-sag`],
    ]);
    expect(
      await api.database.db
        .selectFrom('device_alerts')
        .select(['value', 'started_at', 'resolved_at'])
        .where('rule_id', '=', ruleId)
        .execute(),
    ).toEqual([{ value: 647.1, started_at: new Date(t0 + 187_000), resolved_at: new Date(t0 + 214_000) }]);
    await alertmanager.deliver();
    await new Promise((resolve) => setTimeout(resolve, 3000));
    expect(ours()).toHaveLength(2);
  });
});
