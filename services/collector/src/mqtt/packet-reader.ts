// Splits the broker's byte stream into MQTT 5 packets and decodes PUBLISH here: it is nearly every
// packet the collector reads, and mqtt-packet's general parser spent more CPU framing each one (a
// buffer list, a packet object with every optional field) than the rest of the ingest path. The
// other packets (CONNACK, SUBACK, …) go to mqtt-packet whole.

/** A PUBLISH as the consumer needs it; `payload` is a view of the socket's chunk. */
export type PublishPacket = {
  topic: string;
  payload: Buffer;
  qos: 0 | 1 | 2;
  dup: boolean;
  retain: boolean;
  /** 0 for QoS 0 (which has none). */
  packetId: number;
  userProperties: Record<string, string | string[]> | undefined;
};

/** Bytes that are not a well-formed MQTT 5 packet: the connection cannot go on. */
export class MalformedPacketError extends Error {}

const PUBLISH = 3;
const USER_PROPERTY = 0x26;
// PUBLISH properties other than the user property, by id: how to skip each (MQTT 5 §3.3.2.3).
const FIXED_LENGTH: Record<number, number> = { 1: 1, 2: 4 };
const LENGTH_PREFIXED = new Set([0x03, 0x08, 0x09]); // content type, response topic, correlation data
const SUBSCRIPTION_IDENTIFIER = 0x0b;
// A topic alias needs a Topic Alias Maximum, which the consumer never grants.
const TOPIC_ALIAS = 0x23;

export class PacketReader {
  // Chunks holding the start of a packet whose last bytes have not arrived yet: joined once it is
  // complete (a large payload comes in many chunks, and joining each time would copy it over and over).
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  // Bytes the first pending packet needs, once its header is in (0 until then).
  private needed = 0;

  constructor(
    private readonly onPublish: (packet: PublishPacket) => void,
    private readonly onOther: (packet: Buffer) => void,
  ) {}

  /** Takes the next chunk from the socket; throws MalformedPacketError. */
  push(chunk: Buffer): void {
    let buf = chunk;
    if (this.pending.length > 0) {
      this.pending.push(chunk);
      this.pendingBytes += chunk.length;
      if (this.needed > this.pendingBytes) return;
      buf = Buffer.concat(this.pending, this.pendingBytes);
      this.pending = [];
      this.pendingBytes = 0;
    }
    let offset = 0;
    this.needed = 0;
    while (offset < buf.length) {
      const header = remainingLength(buf, offset + 1);
      if (header === undefined) break;
      const end = header.bodyStart + header.length;
      if (end > buf.length) {
        this.needed = end - offset;
        break;
      }
      const first = buf[offset] ?? 0;
      if (first >> 4 === PUBLISH) this.onPublish(decodePublish(buf, first, header.bodyStart, end));
      else this.onOther(buf.subarray(offset, end));
      offset = end;
    }
    if (offset < buf.length) {
      // A copy: holding a view would keep the whole chunk alive until the packet completes.
      this.pending = [Buffer.from(buf.subarray(offset))];
      this.pendingBytes = buf.length - offset;
    }
  }
}

/** The Remaining Length varint at `at`, or undefined when its bytes have not all arrived. */
function remainingLength(buf: Buffer, at: number): { length: number; bodyStart: number } | undefined {
  let length = 0;
  let multiplier = 1;
  for (let i = at; i < at + 4; i += 1) {
    if (i >= buf.length) return undefined;
    const byte = buf[i] ?? 0;
    length += (byte & 0x7f) * multiplier;
    if ((byte & 0x80) === 0) return { length, bodyStart: i + 1 };
    multiplier *= 128;
  }
  throw new MalformedPacketError('remaining length longer than four bytes');
}

function decodePublish(buf: Buffer, first: number, start: number, end: number): PublishPacket {
  const qos = (first >> 1) & 0x03;
  if (qos === 3) throw new MalformedPacketError('PUBLISH with QoS 3');
  let at = start;
  const need = (bytes: number) => {
    if (at + bytes > end) throw new MalformedPacketError('PUBLISH shorter than its fields');
  };
  need(2);
  const topicLength = buf.readUInt16BE(at);
  at += 2;
  need(topicLength);
  const topic = buf.toString('utf8', at, at + topicLength);
  at += topicLength;
  let packetId = 0;
  if (qos > 0) {
    need(2);
    packetId = buf.readUInt16BE(at);
    at += 2;
  }
  const properties = remainingLength(buf, at);
  if (properties === undefined || properties.bodyStart + properties.length > end) {
    throw new MalformedPacketError('PUBLISH properties longer than the packet');
  }
  const userProperties = readUserProperties(
    buf,
    properties.bodyStart,
    properties.bodyStart + properties.length,
  );
  if (topicLength === 0) throw new MalformedPacketError('PUBLISH without a topic');
  return {
    topic,
    payload: buf.subarray(properties.bodyStart + properties.length, end),
    qos: qos as 0 | 1 | 2,
    dup: (first & 0x08) !== 0,
    retain: (first & 0x01) !== 0,
    packetId,
    userProperties,
  };
}

function readUserProperties(buf: Buffer, start: number, end: number): PublishPacket['userProperties'] {
  let found: Record<string, string | string[]> | undefined;
  let at = start;
  // Skips a length-prefixed field and returns where its bytes start.
  const field = () => {
    if (at + 2 > end) throw new MalformedPacketError('property shorter than its length');
    const from = at + 2;
    at = from + buf.readUInt16BE(at);
    if (at > end) throw new MalformedPacketError('property shorter than its length');
    return from;
  };
  const string = () => {
    const from = field();
    return buf.toString('utf8', from, at);
  };
  while (at < end) {
    const id = buf[at] ?? 0;
    at += 1;
    if (id === USER_PROPERTY) {
      const key = string();
      const value = string();
      // No prototype: a key may be any string (`__proto__`, `toString`).
      found ??= Object.create(null) as Record<string, string | string[]>;
      const held = found[key];
      // Repeated keys are allowed and kept in order, as mqtt-packet reports them.
      if (held === undefined) found[key] = value;
      else if (Array.isArray(held)) held.push(value);
      else found[key] = [held, value];
    } else if (id in FIXED_LENGTH) {
      at += FIXED_LENGTH[id] ?? 0;
    } else if (LENGTH_PREFIXED.has(id)) {
      field();
    } else if (id === SUBSCRIPTION_IDENTIFIER) {
      const varint = remainingLength(buf, at);
      if (varint === undefined) throw new MalformedPacketError('subscription identifier cut short');
      at = varint.bodyStart;
    } else if (id === TOPIC_ALIAS) {
      throw new MalformedPacketError('topic alias, which this client never allowed');
    } else {
      throw new MalformedPacketError(`property 0x${id.toString(16)} is not a PUBLISH property`);
    }
  }
  if (at > end) throw new MalformedPacketError('property longer than the properties');
  return found;
}
