import { once } from 'node:events';
import net from 'node:net';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { SessionConsumer } from './session-consumer.js';

// A broker that reuses a packet id still unacknowledged on the connection (Mosquitto 2.0.11 could,
// upstream #2306) cannot be produced on demand with a real Mosquitto, so this peer scripts that one
// protocol violation on loopback; everything else the consumer does is tested against Mosquitto.
type Connection = {
  received: Packet[];
  send: (...packets: Packet[]) => void;
  close: () => void;
  closed: Promise<unknown>;
};

async function scriptedBroker(afterSubscribe: (c: Connection, index: number) => void) {
  const connections: Connection[] = [];
  const server = net.createServer((socket) => {
    const parser = mqttPacket.parser({ protocolVersion: 5 });
    const connection: Connection = {
      received: [],
      // Several packets in one write, so they reach the consumer in one chunk.
      send: (...packets) =>
        socket.write(Buffer.concat(packets.map((p) => mqttPacket.generate(p, { protocolVersion: 5 })))),
      close: () => socket.destroy(),
      closed: once(socket, 'close'),
    };
    const index = connections.push(connection) - 1;
    parser.on('packet', (packet: Packet) => {
      connection.received.push(packet);
      if (packet.cmd === 'connect') connection.send({ cmd: 'connack', sessionPresent: true, reasonCode: 0 });
      if (packet.cmd === 'subscribe') {
        connection.send({ cmd: 'suback', messageId: packet.messageId, granted: [1] });
        afterSubscribe(connection, index);
      }
    });
    socket.on('data', (chunk) => parser.parse(chunk));
    socket.on('error', () => undefined);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, connections, port: (server.address() as net.AddressInfo).port };
}

const publish = (messageId: number, payload: string, dup = false): Packet => ({
  cmd: 'publish',
  topic: 'iot/d-1/telemetry',
  payload: Buffer.from(payload),
  qos: 1,
  messageId,
  dup,
  retain: false,
});
const pubackIds = (c: Connection | undefined) =>
  c?.received.filter((p) => p.cmd === 'puback').map((p) => p.messageId);

const consumerOptions = (port: number, maxUnacknowledged: number) => ({
  url: `mqtt://127.0.0.1:${port}`,
  clientId: 'c-0',
  filters: ['$share/g/iot/+/telemetry'],
  sessionExpirySeconds: 60,
  keepaliveSeconds: 30,
  maxUnacknowledged,
  maxUnacknowledgedBytes: 1 << 20,
  reconnectMinMs: 10,
  reconnectMaxMs: 20,
});
const receiveMaximum = (c: Connection | undefined) =>
  c?.received.find((p) => p.cmd === 'connect')?.properties?.receiveMaximum;

let cleanup: (() => void) | undefined;
afterEach(() => {
  cleanup?.();
  vi.useRealTimers();
});

describe('SessionConsumer against a broker that reuses a packet id', () => {
  it('acknowledges nothing on that connection, drops it, and acknowledges the redelivery in order', async () => {
    const { server, connections, port } = await scriptedBroker((connection, index) => {
      // Ids 5, 6, then 5 again while the first 5 still waits for its PUBACK.
      if (index === 0) connection.send(publish(5, 'a'), publish(6, 'b'), publish(5, 'c'));
      // Then, as a broker must, everything unacknowledged again on the next connection.
      if (index === 1) connection.send(publish(5, 'a', true), publish(6, 'b', true), publish(7, 'c'));
    });
    const violations: number[] = [];
    const payloads: string[] = [];
    const consumer = new SessionConsumer({
      ...consumerOptions(port, 100),
      // Every message is durable at once, so only the violation can hold an acknowledgement back.
      onMessage: (message, settle) => {
        payloads.push(message.payload.toString());
        settle();
      },
    });
    cleanup = () => {
      consumer.stopReading();
      server.close();
    };
    consumer.on('protocolViolation', ({ packetId }) => violations.push(packetId));
    consumer.on('error', () => undefined);
    consumer.start();

    await expect.poll(() => pubackIds(connections[1])).toEqual([5, 6, 7]);
    await connections[0]?.closed;
    expect(violations).toEqual([5]);
    expect(pubackIds(connections[0])).toEqual([]);
    // a and b were handed on twice (stored again, which is harmless); the reusing c only once.
    expect(payloads).toEqual(['a', 'b', 'a', 'b', 'c']);
    // The next connection asks for a window half as wide, so ids are acknowledged before they come back.
    expect([receiveMaximum(connections[0]), receiveMaximum(connections[1])]).toEqual([100, 50]);
    expect(consumer.windowMessages).toBe(50);
  });
});

describe('SessionConsumer after losing a connection while a store is slow', () => {
  it('reconnects only once the messages the pipeline still holds are below half the window', async () => {
    const { server, connections, port } = await scriptedBroker((connection, index) => {
      // A full window of 4 on the first connection.
      if (index === 0) connection.send(publish(1, 'a'), publish(2, 'b'), publish(3, 'c'), publish(4, 'd'));
    });
    const settles: (() => void)[] = [];
    const consumer = new SessionConsumer({
      ...consumerOptions(port, 4),
      onMessage: (_message, settle) => void settles.push(settle),
    });
    cleanup = () => {
      consumer.stopReading();
      server.close();
    };
    consumer.on('error', () => undefined);
    // The reconnect delay runs on a fake clock; sockets and expect.poll keep real time.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    consumer.start();
    await expect.poll(() => settles.length).toBe(4);
    connections[0]?.close();
    await connections[0]?.closed;
    await expect.poll(() => consumer.isConnected).toBe(false);

    // Ten times the longest reconnect delay: four still being stored, so no new connection.
    await vi.advanceTimersByTimeAsync(200);
    expect([connections.length, consumer.unacknowledged]).toEqual([1, 4]);
    settles[0]?.();
    settles[1]?.();
    await vi.advanceTimersByTimeAsync(200);
    expect([connections.length, consumer.unacknowledged]).toEqual([1, 2]);
    settles[2]?.();
    await expect.poll(() => connections.length).toBe(2);
    expect(consumer.unacknowledged).toBe(1);
    // The lost connection's messages were never acknowledged: the broker sends them again.
    expect(pubackIds(connections[0])).toEqual([]);
  });
});
