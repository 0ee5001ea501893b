import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  createWebhookNotifier,
  GIVE_UP_AFTER_MS,
  type WebhookEvent,
} from '../src/webhooks/webhook-notifier.js';
import { verifyDelivery } from '../src/webhooks/webhook-signature.js';
import { ApiHarness } from './api-harness.js';
import { startReceiver } from './http-receiver.js';

const api = new ApiHarness(inject('stackEnv'));
beforeAll(() => api.start());
afterAll(() => api.dispose());

describe('webhooks', () => {
  it('shows the secret once, never again, and refuses bad webhooks naming the field', async () => {
    const created = await api.call('POST', '/api/webhooks', {
      json: { name: 'ops', url: 'https://hooks.example.com/iot' },
    });
    expect(created.status).toBe(201);
    const { secret, id } = created.json as { secret: string; id: number };
    expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const listed = await api.call('GET', '/api/webhooks');
    expect(listed.json).toEqual([
      {
        id,
        name: 'ops',
        url: 'https://hooks.example.com/iot',
        enabled: true,
        created_at: expect.any(String),
      },
    ]);
    expect(listed.text).not.toContain(secret);

    const refusals: [Record<string, unknown>, string, number][] = [
      [{ name: 'ftp', url: 'ftp://hooks.example.com/x' }, 'url', 400],
      [{ name: 'short', url: 'https://hooks.example.com/x', secret: 'too-short' }, 'secret', 400],
      [{ name: 'Bad Name', url: 'https://hooks.example.com/x' }, 'name', 400],
      [{ name: 'ops', url: 'https://hooks.example.com/y' }, 'name', 409],
    ];
    for (const [json, field, status] of refusals) {
      const refused = await api.call('POST', '/api/webhooks', { json });
      expect([refused.status, (refused.json as { field?: string }).field]).toEqual([status, field]);
    }
    expect((await api.call('DELETE', `/api/webhooks/${id}`)).json).toMatchObject({ id, name: 'ops' });
    expect((await api.call('GET', `/api/webhooks/${id}/deliveries`)).status).toBe(404);
  });

  it('delivers every event once, signed and in order, after its receiver was down and the API restarted', async () => {
    // A port nobody listens on yet: the receiver is down.
    const probe = await startReceiver();
    const port = probe.port;
    await new Promise((resolve) => probe.server.close(resolve));

    const hook = await api.call('POST', '/api/webhooks', {
      json: {
        name: 'pager',
        url: `http://127.0.0.1:${port}/hook`,
        secret: 'a-webhook-secret-of-32-characters!',
      },
    });
    const { id: hookId, secret } = hook.json as { id: number; secret: string };
    await api.call('POST', '/api/devices', { json: { device_id: 'wh-1', device_name: 'wh-1' } });
    await api.call('POST', '/api/alert-rules', {
      json: {
        name: 'wh-cold',
        kind: 'threshold',
        metric: 'temperature',
        condition: { op: '<', value: 0 },
        scope: { device_ids: ['wh-1'] },
      },
    });
    // Within the late window of the previous pass: each pass judges what is new since.
    const t0 = Date.now() - 30_000;
    const write = (...points: [number, number][]) =>
      api.writePoints(
        points.map(([s, v]) => `iot_telemetry,device_id=wh-1,metric=temperature value=${v} ${t0 + s * 1000}`),
      );
    // A little ahead of PostgreSQL's clock, which dates the outbox rows.
    let clock = Date.now() + 5000;
    const { evaluator } = api.ruleEvaluator([4244, 1], { now: () => clock });
    const notifier = () =>
      createWebhookNotifier({
        db: api.apiDb,
        logger: api.logger,
        now: () => clock,
        timeoutMs: 2000,
        allowedNetworks: ['127.0.0.1'],
      });

    await write([0, -5]);
    expect(await evaluator.pass()).toMatchObject({ opened: 1 });
    const before = notifier();
    expect(await before.deliver()).toEqual({ delivered: 0, retrying: 1, failed: 0 });
    await write([10, 3]);
    expect(await evaluator.pass()).toMatchObject({ closed: 1 });
    // The firing event waits out its backoff; the resolved one waits behind it.
    expect(await before.deliver()).toEqual({ delivered: 0, retrying: 0, failed: 0 });
    const waiting = await api.call('GET', `/api/webhooks/${hookId}/deliveries`);
    expect(waiting.json).toMatchObject([
      { event: 'resolved', status: 'pending', attempts: 0, last_error: null },
      {
        event: 'firing',
        status: 'pending',
        attempts: 1,
        last_error: expect.stringContaining('ECONNREFUSED'),
      },
    ]);

    // The receiver comes back; a new notifier (the API restarted) delivers from the outbox.
    const up = await startReceiver(port);
    clock += 60_000;
    expect(await notifier().deliver()).toEqual({ delivered: 2, retrying: 0, failed: 0 });
    up.server.close();
    const events = up.received.map((r) => JSON.parse(r.body) as WebhookEvent);
    expect(events.map((e) => [e.event, e.alert.device_id, e.rule.name])).toEqual([
      ['firing', 'wh-1', 'wh-cold'],
      ['resolved', 'wh-1', 'wh-cold'],
    ]);
    expect(events[0]?.alert).toMatchObject({
      value: -5,
      started_at: new Date(t0).toISOString(),
      resolved_at: null,
    });
    for (const { headers, body } of up.received) {
      const event = JSON.parse(body) as WebhookEvent;
      expect(headers['x-iot-meter-event-id']).toBe(event.id);
      expect(
        verifyDelivery(
          secret,
          headers['x-iot-meter-timestamp'] ?? '',
          body,
          headers['x-iot-meter-signature'] ?? '',
        ),
      ).toBe(true);
    }
    expect(new Set(events.map((e) => e.id)).size).toBe(2);
    // Nothing is sent twice.
    expect(await notifier().deliver()).toEqual({ delivered: 0, retrying: 0, failed: 0 });
    const delivered = await api.call('GET', `/api/webhooks/${hookId}/deliveries`);
    expect((delivered.json as { status: string }[]).map((d) => d.status)).toEqual(['delivered', 'delivered']);
    await api.call('DELETE', `/api/webhooks/${hookId}`);
  });

  it('gives up on a delivery a day old, marking it failed with its last error', async () => {
    const hook = await api.call('POST', '/api/webhooks', {
      json: { name: 'gone', url: 'http://127.0.0.1:9/hook' },
    });
    const { id: hookId } = hook.json as { id: number };
    const { id: alertId } = await api.database.db
      .insertInto('device_alerts')
      .values({ device_id: 'wh-1', alert_type: 'x', message: 'x' })
      .returning('id')
      .executeTakeFirstOrThrow();
    const createdAt = Date.now();
    await api.database.db
      .insertInto('alert_notifications')
      .values({
        alert_id: alertId,
        event: 'firing',
        target: `webhook:${hookId}`,
        created_at: new Date(createdAt),
      })
      .execute();
    let clock = createdAt + GIVE_UP_AFTER_MS - 60_000;
    const notifier = createWebhookNotifier({
      db: api.apiDb,
      logger: api.logger,
      now: () => clock,
      timeoutMs: 2000,
    });
    expect(await notifier.deliver()).toEqual({ delivered: 0, retrying: 1, failed: 0 });
    clock = createdAt + GIVE_UP_AFTER_MS + 3_600_000;
    expect(await notifier.deliver()).toEqual({ delivered: 0, retrying: 0, failed: 1 });
    expect(await notifier.deliver()).toEqual({ delivered: 0, retrying: 0, failed: 0 });
    const deliveries = await api.call('GET', `/api/webhooks/${hookId}/deliveries`);
    expect(deliveries.json).toMatchObject([
      {
        event: 'firing',
        status: 'failed',
        attempts: 2,
        next_attempt_at: null,
        failed_at: expect.any(String),
      },
    ]);
  });
  it('refuses to post to internal addresses, by literal or by name, unless WEBHOOK_ALLOWED_NETWORKS allows them', async () => {
    const receiver = await startReceiver();
    const urls = {
      loopback: `http://127.0.0.1:${receiver.port}/hook`,
      named: `http://localhost:${receiver.port}/hook`,
      mapped: `http://[::ffff:127.0.0.1]:${receiver.port}/hook`,
      metadata: 'http://169.254.169.254/latest/meta-data/',
      cluster: 'https://10.96.0.1/api',
    };
    const { id: alertId } = await api.database.db
      .insertInto('device_alerts')
      .values({ device_id: 'wh-1', alert_type: 'x', message: 'x' })
      .returning('id')
      .executeTakeFirstOrThrow();
    const hooks: Record<string, number> = {};
    for (const [name, url] of Object.entries(urls)) {
      const hook = await api.call('POST', '/api/webhooks', { json: { name: `inside-${name}`, url } });
      hooks[name] = (hook.json as { id: number }).id;
      await api.database.db
        .insertInto('alert_notifications')
        .values({ alert_id: alertId, event: 'firing', target: `webhook:${hooks[name]}` })
        .execute();
    }
    let clock = Date.now() + 5000;
    const notifier = (allowedNetworks: string[]) =>
      createWebhookNotifier({
        db: api.apiDb,
        logger: api.logger,
        now: () => clock,
        timeoutMs: 2000,
        allowedNetworks,
      });
    const lastErrors = async () =>
      Object.fromEntries(
        await Promise.all(
          Object.entries(hooks).map(async ([name, id]) => {
            const [delivery] = (await api.call('GET', `/api/webhooks/${id}/deliveries`)).json as {
              status: string;
              last_error: string | null;
            }[];
            return [name, [delivery?.status, delivery?.last_error]];
          }),
        ),
      );

    expect(await notifier([]).deliver()).toEqual({ delivered: 0, retrying: 5, failed: 0 });
    const refused = (address: string) =>
      `refused: ${address} is an internal address (allow it with WEBHOOK_ALLOWED_NETWORKS)`;
    expect(await lastErrors()).toEqual({
      loopback: ['pending', refused('127.0.0.1')],
      named: ['pending', expect.stringMatching(/^refused: (127\.0\.0\.1|::1) is an internal address/)],
      mapped: ['pending', refused('127.0.0.1')],
      metadata: ['pending', refused('169.254.169.254')],
      cluster: ['pending', refused('10.96.0.1')],
    });
    expect(receiver.received).toEqual([]);

    // Allowed, the loopback ones go out; the rest stay refused.
    clock += 3_600_000;
    expect(await notifier(['127.0.0.0/8', '::1']).deliver()).toEqual({
      delivered: 3,
      retrying: 2,
      failed: 0,
    });
    expect(receiver.received).toHaveLength(3);
    expect((await lastErrors()).metadata).toEqual(['pending', refused('169.254.169.254')]);
    receiver.server.close();
    for (const id of Object.values(hooks)) await api.call('DELETE', `/api/webhooks/${id}`);
  });
});
