import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { REORDER_WINDOW } from '../src/devices/sequence-tracker.js';
import { CollectorHarness } from './collector-harness.js';

const harness = new CollectorHarness(inject('stackEnv'));

beforeAll(async () => {
  await harness.start({ PRESENCE_OFFLINE_AFTER_SECONDS: '2', PRESENCE_SWEEP_INTERVAL_MS: '500' });
});

afterAll(async () => {
  await harness.dispose();
});

const envelope = (deviceId: string, seq: number, msgType: string) => ({
  v: 2,
  device_id: deviceId,
  ts: '2026-02-12T16:00:00Z',
  seq,
  msg_type: msgType,
});

const telemetry = (deviceId: string, seq: number) =>
  JSON.stringify({
    ...envelope(deviceId, seq, 'telemetry'),
    measurements: [{ type: 'voltage_dc', val: seq }],
  });

describe('device state kept by the collector', () => {
  it('keeps presence, fw_version, sequence tracking, gap alerts and command acks in PostgreSQL', async () => {
    const deviceId = `meter-${harness.run}`;
    const db = harness.database.db;
    await db.insertInto('devices').values({ device_id: deviceId, device_name: 'Meter' }).execute();
    const cmdId = randomUUID();
    await db
      .insertInto('device_commands')
      .values({ cmd_id: cmdId, device_id: deviceId, cmd: 'reboot' })
      .execute();

    const publisher = await harness.publisher();
    const publish = (kind: string, payload: string) =>
      publisher.publishAsync(`iot/${deviceId}/${kind}`, payload, { qos: 1 });
    await publish(
      'hello',
      JSON.stringify({
        ...envelope(deviceId, 0, 'hello'),
        fw_version: '1.4.2',
        uptime_s: 12,
        broker_connections: 1,
      }),
    );
    for (const seq of [1, 2, 4, 2]) await publish('telemetry', telemetry(deviceId, seq));
    await publish(
      'command/ack',
      JSON.stringify({
        ...envelope(deviceId, 5, 'command_ack'),
        cmd_id: cmdId,
        result: 'accepted',
        detail: 'rebooting',
      }),
    );

    await expect
      .poll(() =>
        db.selectFrom('device_sequences').selectAll().where('device_id', '=', deviceId).executeTakeFirst(),
      )
      .toMatchObject({
        high_seq: '5',
        missing: ['3'],
        received: '6',
        duplicates: '1',
        gaps: '0',
        resets: '0',
      });
    expect(
      await db
        .selectFrom('device_presence')
        .select(['connection_status', 'fw_version', 'uptime_s'])
        .where('device_id', '=', deviceId)
        .executeTakeFirst(),
    ).toEqual({ connection_status: 'online', fw_version: '1.4.2', uptime_s: '12' });
    expect(
      await db
        .selectFrom('device_commands')
        .select(['status', 'ack_detail'])
        .where('cmd_id', '=', cmdId)
        .executeTakeFirst(),
    ).toEqual({ status: 'accepted', ack_detail: 'rebooting' });

    // Seq 3 never comes: once it is a window behind, it is a gap (alerts on it are the API's rules').
    await publish('telemetry', telemetry(deviceId, 4 + REORDER_WINDOW));
    await expect
      .poll(
        async () =>
          (
            await db
              .selectFrom('device_sequences')
              .select(['gaps', 'high_seq'])
              .where('device_id', '=', deviceId)
              .executeTakeFirst()
          )?.gaps,
      )
      .toBe('1');
    expect(
      await db.selectFrom('device_alerts').select('id').where('device_id', '=', deviceId).execute(),
    ).toEqual([]);
    expect(await harness.registry.getSingleMetricAsString('iot_collector_sequence_gaps_total')).toContain(
      'iot_collector_sequence_gaps_total{service="collector"} 1',
    );

    // The Last Will says offline.
    await publish('status', 'offline');
    await expect
      .poll(() =>
        db
          .selectFrom('device_presence')
          .select('connection_status')
          .where('device_id', '=', deviceId)
          .executeTakeFirst(),
      )
      .toEqual({ connection_status: 'offline' });
  });

  it('marks a device offline when it goes silent without a Last Will', async () => {
    const deviceId = `quiet-${harness.run}`;
    const publisher = await harness.publisher();
    await publisher.publishAsync(`iot/${deviceId}/telemetry`, '{"temperature":20}', { qos: 1 });
    const presence = () =>
      harness.database.db
        .selectFrom('device_presence')
        .select('connection_status')
        .where('device_id', '=', deviceId)
        .executeTakeFirst();
    await expect.poll(presence).toEqual({ connection_status: 'online' });
    await expect.poll(presence, { timeout: 10_000 }).toEqual({ connection_status: 'offline' });
  });
});
