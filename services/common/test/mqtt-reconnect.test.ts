import { randomBytes } from 'node:crypto';
import net from 'node:net';
import mqtt from 'mqtt';
import { afterAll, describe, expect, inject, it, vi } from 'vitest';
import { loadConfig, mqttEnv, reconnectWithBackoff } from '../src/index.js';
import { stackMqttLogin } from '../src/testing/index.js';

const stackEnv = inject('stackEnv');
const broker = new URL(loadConfig(mqttEnv, stackEnv).MQTT_URL);

// Between the client and the real broker: refuses the first `refusals` connections, then relays.
async function flakyRelay(refusals: number) {
  const sockets = new Set<net.Socket>();
  let seen = 0;
  const server = net.createServer((socket) => {
    seen += 1;
    if (seen <= refusals) return void socket.destroy();
    const upstream = net.connect(Number(broker.port || 1883), broker.hostname);
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => upstream.destroy());
    upstream.on('error', () => socket.destroy());
    socket.pipe(upstream).pipe(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    dropAll: () => {
      for (const socket of sockets) socket.destroy();
    },
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

const relays: Awaited<ReturnType<typeof flakyRelay>>[] = [];
afterAll(async () => {
  for (const relay of relays) relay.dropAll();
  await Promise.all(relays.map((relay) => relay.close()));
});

describe('reconnectWithBackoff on an MQTT.js client', () => {
  it('arms each reconnect with the next backoff delay and starts over once connected', async () => {
    const relay = await flakyRelay(3);
    relays.push(relay);
    // MQTT.js logs the period it arms its reconnect timer with: proof that it read ours.
    const armed: number[] = [];
    const client = mqtt.connect(`mqtt://127.0.0.1:${relay.port}`, {
      ...stackMqttLogin(stackEnv),
      clientId: `vitest-backoff-${randomBytes(4).toString('hex')}`,
      protocolVersion: 5,
      reconnectPeriod: 1000,
      log: (format: string, value: unknown) => {
        if (format.startsWith('_setupReconnect :: setting reconnectTimer')) armed.push(value as number);
      },
    });
    client.on('error', () => {});
    reconnectWithBackoff(client, { minMs: 20, maxMs: 60, random: () => 1 });
    try {
      await vi.waitFor(() => expect(client.connected).toBe(true), { timeout: 5000 });
      expect(armed).toEqual([20, 40, 60]); // three refusals: doubling, then capped

      relay.dropAll();
      await vi.waitFor(() => expect(armed).toHaveLength(4), { timeout: 5000 });
      await vi.waitFor(() => expect(client.connected).toBe(true), { timeout: 5000 });
      expect(armed).toEqual([20, 40, 60, 20]); // the connection in between reset the backoff
    } finally {
      await client.endAsync();
    }
    expect(client.options.reconnectPeriod).toBe(20);
  });
});
