import { stackMqttLogin } from '@iot-meter/common/testing';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { PrivateStack } from '../../../scripts/stack/private-stack.js';
import { BrokerExporterProcess, overfillOfflineSession } from './broker-exporter-harness.js';

// The Mosquitto pod's metrics sidecar, as its image runs it, against a broker of its own whose
// sessions hold at most 10 queued messages, so that a drop can be caused and must be seen
// (reliability-security.md, R11: the silent drop after a PUBACK is detected).

const QUEUE_LIMIT = 10;
const stack = new PrivateStack(800, {
  IOT_STACK_MOSQUITTO_EXTRA: `max_queued_messages ${QUEUE_LIMIT}\nsys_interval 1`,
});
let exporter: BrokerExporterProcess;

type Sample = { name: string; labels: string; value: number };
async function scrape(): Promise<Sample[]> {
  const text = await (await fetch(`http://127.0.0.1:${exporter.port}/metrics`)).text();
  return text
    .split('\n')
    .filter((line) => line.startsWith('mosquitto_'))
    .map((line) => {
      const [, name = '', labels = '', value = ''] = /^(\w+)(\{[^}]*\})? (\S+)$/.exec(line) ?? [];
      return { name, labels: labels.replace(/,?service="broker-exporter"/, ''), value: Number(value) };
    });
}
const figure = async (name: string, labels = '{}') =>
  (await scrape()).find((s) => s.name === name && s.labels === labels)?.value;

beforeAll(async () => {
  stack.up('mosquitto');
  exporter = new BrokerExporterProcess(stack.env, 18_801);
  await exporter.start();
}, 60_000);

afterAll(() => {
  exporter?.stop();
  stack.destroy();
});

describe('broker exporter', () => {
  it("exports the broker's $SYS figures once they arrive", async () => {
    onTestFailed(() => console.error(exporter.output));
    await expect.poll(() => figure('mosquitto_up'), { timeout: 10_000 }).toBe(1);
    const samples = await scrape();
    expect(samples.find((s) => s.name === 'mosquitto_broker_info')?.labels).toMatch(
      /^\{version="2\.\d+\.\d+"\}$/,
    );
    expect(await figure('mosquitto_publish_messages_dropped_total')).toBe(0);
    // The exporter itself, from the broker's next $SYS round.
    await expect.poll(() => figure('mosquitto_clients', '{state="connected"}'), { timeout: 5000 }).toBe(1);
    expect(new Set(samples.map((s) => s.name))).toEqual(
      new Set([
        'mosquitto_broker_info',
        'mosquitto_up',
        'mosquitto_publish_messages_dropped_total',
        'mosquitto_publish_messages_received_total',
        'mosquitto_publish_messages_sent_total',
        'mosquitto_messages_received_total',
        'mosquitto_messages_sent_total',
        'mosquitto_received_bytes_total',
        'mosquitto_sent_bytes_total',
        'mosquitto_store_messages',
        'mosquitto_store_messages_bytes',
        'mosquitto_clients',
        'mosquitto_clients_expired_total',
        'mosquitto_subscriptions',
        'mosquitto_shared_subscriptions',
        'mosquitto_retained_messages',
        'mosquitto_heap_bytes',
        'mosquitto_uptime_seconds',
      ]),
    );
  });

  it('counts the messages a full session queue drops after their PUBACK', async () => {
    onTestFailed(() => console.error(exporter.output));
    const session = await overfillOfflineSession(stack.env, 'collector-7', 50);
    await expect.poll(() => figure('mosquitto_publish_messages_dropped_total'), { timeout: 10_000 }).toBe(40);
    expect(await figure('mosquitto_clients', '{state="disconnected"}')).toBe(1);
    expect(await figure('mosquitto_shared_subscriptions')).toBe(1);

    // The member comes back and gets exactly what was not dropped, then ends its session.
    const received: number[] = [];
    const back = mqtt.connect(stack.env.MQTT_URL ?? '', session);
    back.on('message', (_topic, payload) => received.push(JSON.parse(payload.toString()).seq));
    await expect.poll(() => received.length, { timeout: 10_000 }).toBe(QUEUE_LIMIT);
    await new Promise((r) => setTimeout(r, 500));
    await back.endAsync();
    expect(received).toEqual(Array.from({ length: QUEUE_LIMIT }, (_, seq) => seq));
  });

  it('shows the broker away, then its restarted counters', async () => {
    onTestFailed(() => console.error(exporter.output));
    stack.signal('stop', 'mosquitto');
    await expect.poll(() => figure('mosquitto_up'), { timeout: 10_000 }).toBe(0);
    expect(await exporter.status('/readyz')).toBe(503);
    stack.signal('start', 'mosquitto');
    await expect.poll(() => figure('mosquitto_up'), { timeout: 15_000 }).toBe(1);
    // The dropped total is the broker's since it started: a counter reset, as Prometheus expects.
    await expect.poll(() => figure('mosquitto_publish_messages_dropped_total'), { timeout: 10_000 }).toBe(0);
  });

  it('with BROKER_READY_SHARED_SUBSCRIPTIONS, is ready only while the collectors have subscribed since the broker started', async () => {
    const gated = new BrokerExporterProcess(stack.env, 18_802, {
      BROKER_READY_SHARED_SUBSCRIPTIONS: '4',
    });
    onTestFailed(() => console.error(gated.output));
    await gated.start();
    try {
      expect(await gated.status('/readyz')).toBe(503);
      const collector = {
        ...stackMqttLogin(stack.env, 'collector'),
        clientId: 'collector-gate',
        clean: false,
        protocolVersion: 5 as const,
      };
      const subscribe = async () => {
        const client = await mqtt.connectAsync(stack.env.MQTT_URL ?? '', {
          ...collector,
          properties: { sessionExpiryInterval: 3600 },
        });
        await client.subscribeAsync(
          ['telemetry', 'hello', 'status', 'command/ack'].map((kind) => `$share/collectors/iot/+/${kind}`),
          { qos: 1 },
        );
        return client;
      };
      const first = await subscribe();
      await expect.poll(() => gated.status('/readyz'), { timeout: 10_000 }).toBe(200);
      await first.endAsync(); // away, its session (and, until a restart, its subscriptions) kept
      await new Promise((r) => setTimeout(r, 1500));
      expect(await gated.status('/readyz')).toBe(200);

      // Restarted, the broker has the session but none of its shared subscriptions: not ready,
      // however long it waits, until the collector subscribes again.
      stack.signal('stop', 'mosquitto');
      stack.signal('start', 'mosquitto');
      await expect.poll(() => figure('mosquitto_up'), { timeout: 15_000 }).toBe(1);
      await new Promise((r) => setTimeout(r, 3000));
      expect(await gated.status('/readyz')).toBe(503);
      const again = await subscribe();
      await expect.poll(() => gated.status('/readyz'), { timeout: 10_000 }).toBe(200);
      await again.endAsync();
    } finally {
      gated.stop();
    }
  });
});
