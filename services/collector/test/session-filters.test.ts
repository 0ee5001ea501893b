import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { CollectorHarness } from './collector-harness.js';
import { telemetry } from './device-stream.js';

// A collector whose share group changed keeps its client id, and so its broker session: the old
// group's subscriptions must go, or every message arrives once per group for as long as it lives.
const harness = new CollectorHarness(inject('stackEnv'));
const connected = async () =>
  (await harness.registry.getSingleMetric('iot_collector_mqtt_connected')?.get())?.values[0]?.value;

beforeAll(() => harness.prepare());
afterAll(() => harness.dispose());

describe('a collector that changed its share group', () => {
  it('unsubscribes the old group and receives each message once', async () => {
    const [before, after] = [`old-${harness.run}`, `new-${harness.run}`];
    await harness.start({ MQTT_SHARE_GROUP: before });
    await expect.poll(connected).toBe(1);
    await harness.stop(); // keeps the session, with the old group's four filters
    await harness.start({ MQTT_SHARE_GROUP: after });
    await expect.poll(connected).toBe(1);
    const deviceId = `regroup-${harness.run}`;
    const publisher = await harness.publisher();
    for (let seq = 0; seq < 200; seq += 1) {
      await publisher.publishAsync(`iot/${deviceId}/telemetry`, telemetry(deviceId, seq), { qos: 1 });
    }
    await expect.poll(() => harness.archivedCount('raw', deviceId), { timeout: 20_000 }).toBe(200);
    // Had the old group stayed, a second copy of each would follow within a batch or two (every
    // record is one message received; other test files publish on the same broker, hence per device).
    await new Promise((r) => setTimeout(r, 1500));
    expect(await harness.archivedCount('raw', deviceId)).toBe(200);
    expect(await harness.points(deviceId)).toHaveLength(200);
    const held = async () =>
      (
        await harness.database.db
          .selectFrom('collector_sessions')
          .select('filters')
          .where('client_id', '=', harness.config.MQTT_CLIENT_ID)
          .executeTakeFirstOrThrow()
      ).filters.sort();
    // The old filters are forgotten only once the broker confirmed the UNSUBSCRIBE.
    await expect
      .poll(held)
      .toEqual(['command/ack', 'hello', 'status', 'telemetry'].map((k) => `$share/${after}/iot/+/${k}`));
  });

  it('forgets the session when it is ended', async () => {
    await harness.stop({ endSession: true });
    const rows = await harness.database.db
      .selectFrom('collector_sessions')
      .select('client_id')
      .where('client_id', '=', harness.config.MQTT_CLIENT_ID)
      .execute();
    expect(rows).toEqual([]);
  });
});
