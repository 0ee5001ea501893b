import { randomBytes } from 'node:crypto';
import { waitFor } from '@iot-meter/common/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
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
});
