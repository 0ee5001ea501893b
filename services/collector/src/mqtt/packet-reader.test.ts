import mqttPacket, { type IPublishPacket, type Packet } from 'mqtt-packet';
import { describe, expect, it } from 'vitest';
import { MalformedPacketError, PacketReader, type PublishPacket } from './packet-reader.js';

// mqtt-packet writes the bytes a broker would; the reader must decode them as mqtt-packet does.
const encode = (packet: Packet) => mqttPacket.generate(packet, { protocolVersion: 5 });

function read(chunks: Buffer[]) {
  const publishes: PublishPacket[] = [];
  const others: Buffer[] = [];
  const reader = new PacketReader(
    (p) => publishes.push({ ...p, payload: Buffer.from(p.payload) }),
    (p) => others.push(Buffer.from(p)),
  );
  for (const chunk of chunks) reader.push(chunk);
  return { publishes, others };
}

const publish = (overrides: Partial<IPublishPacket> = {}): IPublishPacket => ({
  cmd: 'publish',
  topic: 'iot/device-001/telemetry',
  payload: Buffer.from('{"temperature":23.5}'),
  qos: 1,
  messageId: 513,
  dup: false,
  retain: false,
  ...overrides,
});

describe('PacketReader', () => {
  it('decodes PUBLISH of every QoS with its flags, ids and user properties', () => {
    const packets = [
      publish({ qos: 0, messageId: undefined, retain: true }),
      publish({ qos: 1, messageId: 65_535, dup: true }),
      publish({ qos: 2, messageId: 1, topic: 'iot/ü/status', payload: Buffer.alloc(0) }),
      publish({
        properties: {
          payloadFormatIndicator: true,
          messageExpiryInterval: 60,
          contentType: 'application/json',
          responseTopic: 'reply/here',
          correlationData: Buffer.from([0, 1, 2]),
          subscriptionIdentifier: 300,
          userProperties: { traceparent: '00-abc-def-01', seen: ['a', 'b'] },
        },
      }),
    ];
    const { publishes, others } = read([Buffer.concat(packets.map(encode))]);
    expect(others).toEqual([]);
    expect(publishes).toEqual([
      {
        topic: 'iot/device-001/telemetry',
        payload: Buffer.from('{"temperature":23.5}'),
        qos: 0,
        dup: false,
        retain: true,
        packetId: 0,
        userProperties: undefined,
      },
      expect.objectContaining({ qos: 1, dup: true, retain: false, packetId: 65_535 }),
      expect.objectContaining({ topic: 'iot/ü/status', qos: 2, packetId: 1, payload: Buffer.alloc(0) }),
      expect.objectContaining({
        packetId: 513,
        payload: Buffer.from('{"temperature":23.5}'),
        userProperties: { traceparent: '00-abc-def-01', seen: ['a', 'b'] },
      }),
    ]);
  });

  it('keeps any user property name and many repeats of one', () => {
    const repeats = Array.from({ length: 20_000 }, (_, i) => String(i));
    // A computed key: `__proto__:` in a literal would set the prototype instead.
    const names = { ['__proto__']: 'p', toString: 't', many: repeats };
    const { publishes } = read([encode(publish({ properties: { userProperties: names } }))]);
    const properties = publishes[0]?.userProperties ?? {};
    expect(Object.getPrototypeOf(properties)).toBeNull();
    expect(Object.entries(properties)).toEqual([
      ['__proto__', 'p'],
      ['toString', 't'],
      ['many', repeats],
    ]);
  });

  it('reassembles packets split at every byte, and hands other packets over whole', () => {
    const large = publish({ payload: Buffer.alloc(200_000, 7) }); // a four-byte remaining length
    const suback: Packet = { cmd: 'suback', messageId: 3, granted: [1], properties: {} };
    const stream = Buffer.concat([encode(publish()), encode(suback), encode(large), encode(publish())]);
    for (const cut of [1, 2, 3, 30, 70, stream.length - 1]) {
      const { publishes, others } = read([stream.subarray(0, cut), stream.subarray(cut)]);
      expect(publishes.map((p) => p.payload.length)).toEqual([20, 200_000, 20]);
      expect(others).toEqual([encode(suback)]);
    }
    const bytewise = read([...stream].map((byte) => Buffer.from([byte])));
    expect(bytewise.publishes).toHaveLength(3);
    expect(bytewise.others).toEqual([encode(suback)]);
  });

  it('refuses what no broker may send', () => {
    const qos3 = encode(publish());
    qos3[0] = (qos3[0] ?? 0) | 0x06;
    const aliased = encode(publish({ properties: { topicAlias: 1 } }));
    const truncatedProperties = Buffer.from([0x30, 0x06, 0x00, 0x01, 0x74, 0x05, 0x26, 0x00]);
    const longLength = Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]);
    const noTopic = Buffer.from([0x30, 0x03, 0x00, 0x00, 0x00]);
    for (const [bytes, message] of [
      [qos3, 'PUBLISH with QoS 3'],
      [aliased, 'topic alias, which this client never allowed'],
      [truncatedProperties, 'PUBLISH properties longer than the packet'],
      [longLength, 'remaining length longer than four bytes'],
      [noTopic, 'PUBLISH without a topic'],
    ] as const) {
      expect(() => read([bytes]), message).toThrow(new MalformedPacketError(message));
    }
  });
});
