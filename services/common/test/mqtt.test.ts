import { randomBytes } from 'node:crypto';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { loadConfig, mqttEnv } from '../src/index.js';
import { stackMqttLogin } from '../src/testing/index.js';

const stackEnv = inject('stackEnv');
const { MQTT_URL } = loadConfig(mqttEnv, stackEnv);
const run = randomBytes(4).toString('hex');
const clients: MqttClient[] = [];

async function connect(clientId: string): Promise<MqttClient> {
  const client = await mqtt.connectAsync(MQTT_URL, {
    ...stackMqttLogin(stackEnv),
    clientId,
    protocolVersion: 5,
    reconnectPeriod: 0,
  });
  clients.push(client);
  return client;
}

afterAll(async () => {
  await Promise.all(clients.map((client) => client.endAsync()));
});

describe('Mosquitto through mqtt', () => {
  it('delivers each of 1,000 QoS 1 messages exactly once across a $share group of two', async () => {
    const total = 1000;
    const topic = `iot/vitest-${run}/telemetry`;
    const received: [number[], number[]] = [[], []];
    const members = await Promise.all([connect(`vitest-${run}-a`), connect(`vitest-${run}-b`)]);
    for (const [index, member] of members.entries()) {
      member.on('message', (_topic, payload) => received[index]?.push(Number(payload.toString())));
      const granted = await member.subscribeAsync(`$share/vitest-${run}/${topic}`, { qos: 1 });
      expect(granted.map((g) => g.qos)).toEqual([1]);
    }

    const publisher = await connect(`vitest-${run}-pub`);
    // publishAsync resolves on PUBACK, so every message below was accepted by the broker.
    await Promise.all(
      Array.from({ length: total }, (_, i) => publisher.publishAsync(topic, String(i), { qos: 1 })),
    );

    await expect.poll(() => received[0].length + received[1].length, { timeout: 10_000 }).toBe(total);
    await new Promise((resolve) => setTimeout(resolve, 500)); // a duplicate would arrive now
    const all = [...received[0], ...received[1]].sort((a, b) => a - b);
    expect(all).toEqual(Array.from({ length: total }, (_, i) => i));
    // Mosquitto deals a share group round-robin.
    expect([received[0].length, received[1].length]).toEqual([total / 2, total / 2]);
  });
});
