import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { CollectorHarness } from './collector-harness.js';

const harness = new CollectorHarness(inject('stackEnv'));

beforeAll(async () => {
  await harness.start();
});

afterAll(async () => {
  await harness.dispose();
});

describe('collector ingest on the local stack', () => {
  it('stores the original MQTT example (architecture §8) as exactly one point and one byte-exact archive record', async () => {
    const payload =
      '{"timestamp":"2026-02-12T16:00:00.000Z","device_id":"device-001","temperature":23.5,"unit":"celsius"}';
    const publisher = await harness.publisher();
    await publisher.publishAsync('iot/device-001/telemetry', payload, { qos: 1 });

    await expect.poll(() => harness.archivedCount('raw', 'device-001'), { timeout: 10_000 }).toBe(1);
    const [record] = await harness.archived('raw', 'device-001');
    expect(Buffer.from(record?.payload ?? []).toString()).toBe(payload);
    expect(record?.header).toMatchObject({
      topic: 'iot/device-001/telemetry',
      client_id: harness.config.MQTT_CLIENT_ID,
      qos: 1,
      dup: false,
      retain: false,
      bytes: payload.length,
    });
    expect(await harness.points('device-001')).toEqual([
      { metric: 'temperature', unit: 'celsius', time: '2026-02-12T16:00:00Z', value: 23.5 },
    ]);
  });

  it('turns a v2 message with 20 measurements into 20 points at their own times', async () => {
    const deviceId = `dc-${harness.run}`;
    const measurements = Array.from({ length: 20 }, (_, i) => ({
      ts: `2026-02-12T10:00:${String(i).padStart(2, '0')}.5Z`,
      type: 'voltage_dc',
      val: 750 + i / 10,
      unit: 'V',
    }));
    const body = {
      v: 2,
      device_id: deviceId,
      ts: '2026-02-12T10:00:20Z',
      seq: 1,
      msg_type: 'telemetry',
      measurements,
    };
    const publisher = await harness.publisher();
    await publisher.publishAsync(`iot/${deviceId}/telemetry`, JSON.stringify(body), { qos: 1 });

    await expect.poll(() => harness.archivedCount('raw', deviceId), { timeout: 10_000 }).toBe(1);
    expect(await harness.points(deviceId)).toEqual(
      measurements.map((m) => ({ metric: 'voltage_dc', unit: 'V', time: m.ts, value: m.val })),
    );
  });

  it('quarantines bad input with its reason, stores none of it, and keeps the good', async () => {
    const deviceId = `bad-${harness.run}`;
    const topic = `iot/${deviceId}/telemetry`;
    const bad: [string | Buffer, string][] = [
      ['temperature=1', 'invalid_json'],
      [Buffer.from([0xff, 0xfe]), 'invalid_utf8'],
      ['{"device_id":"someone-else","temperature":1}', 'device_mismatch'],
      ['{"timestamp":"2099-01-01T00:00:00Z","temperature":1}', 'timestamp_in_future'],
      ['{"temperature":"NaN"}', 'invalid_schema'],
    ];
    const publisher = await harness.publisher();
    for (const [payload] of bad) await publisher.publishAsync(topic, payload, { qos: 1 });
    await publisher.publishAsync(topic, '{"timestamp":"2026-02-12T16:00:00Z","temperature":20.25}', {
      qos: 1,
    });

    await expect
      .poll(() => harness.archivedCount('quarantine', deviceId), { timeout: 10_000 })
      .toBe(bad.length);
    const quarantined = await harness.archived('quarantine', deviceId);
    expect(quarantined.map((r) => [Buffer.from(r.payload), r.header.reason])).toEqual(
      bad.map(([payload, reason]) => [Buffer.from(payload), reason]),
    );
    await expect.poll(() => harness.archivedCount('raw', deviceId), { timeout: 10_000 }).toBe(1);
    expect(await harness.points(deviceId)).toEqual([
      { metric: 'temperature', unit: '', time: '2026-02-12T16:00:00Z', value: 20.25 },
    ]);
    const metrics = await harness.registry.getSingleMetricAsString('iot_collector_messages_rejected_total');
    for (const [, reason] of bad) expect(metrics).toContain(`{reason="${reason}",service="collector"} 1`);
  });
});
