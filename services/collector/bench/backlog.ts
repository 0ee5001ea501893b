// What the ingest benchmark and the profile share: a backlog queued in persistent sessions of a
// share group before a consumer starts (so the publisher's speed does not limit the drain), and a
// collector's metrics read from its /metrics.
import { stackMqttLogin } from '@iot-meter/common/testing';
import mqtt from 'mqtt';

/**
 * Creates persistent sessions for `clientIds` in `group` (the collectors' account), then queues
 * `count` messages from the test client, message `i` from device `i` modulo the devices' count.
 */
export async function queueBacklog(
  stackEnv: Record<string, string>,
  backlog: {
    group: string;
    clientIds: readonly string[];
    devices: readonly string[];
    payload: (device: string, i: number) => string;
    count: number;
    publisherId: string;
  },
): Promise<void> {
  for (const clientId of backlog.clientIds) {
    const c = await mqtt.connectAsync(stackEnv.MQTT_URL ?? '', {
      ...stackMqttLogin(stackEnv, 'collector'),
      clientId,
      clean: false,
      protocolVersion: 5,
      properties: { sessionExpiryInterval: 600 },
    });
    await c.subscribeAsync(`$share/${backlog.group}/iot/+/telemetry`, { qos: 1 });
    await c.endAsync();
  }
  const pub = await mqtt.connectAsync(stackEnv.MQTT_URL ?? '', {
    ...stackMqttLogin(stackEnv),
    protocolVersion: 5,
    clientId: backlog.publisherId,
  });
  for (let i = 0; i < backlog.count; i += 1000) {
    const batch = [];
    for (let k = i; k < Math.min(backlog.count, i + 1000); k += 1) {
      const device = backlog.devices[k % backlog.devices.length] ?? '';
      batch.push(pub.publishAsync(`iot/${device}/telemetry`, backlog.payload(device, k), { qos: 1 }));
    }
    await Promise.all(batch);
  }
  await pub.endAsync();
}

/** Ends a session the backlog made (and whatever it still holds). */
export async function endSession(stackEnv: Record<string, string>, clientId: string): Promise<void> {
  const c = await mqtt.connectAsync(stackEnv.MQTT_URL ?? '', {
    ...stackMqttLogin(stackEnv, 'collector'),
    clientId,
    clean: true,
    protocolVersion: 5,
  });
  await c.endAsync();
}

/** A metric of the collector on `port`, summed over its labels. */
export async function collectorMetric(port: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
    .reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);
}
