import { EventEmitter } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';
import { createBackoff, type MqttClientOptions } from '@iot-meter/common';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { type AckEntry, AckQueue } from './ack-queue.js';
import { MalformedPacketError, PacketReader, type PublishPacket } from './packet-reader.js';

// A persistent-session MQTT 5 subscriber on mqtt-packet. MQTT.js handles one message per connection
// at a time and sends its PUBACK before reading the next packet, so deferring acknowledgements until a
// batch is durable would serialise the stream (architecture §4, the collector README's consumer).
// Here every message is handed over as it arrives, acknowledgements go out later in receive order
// (MQTT requires it), and reading stops while too many messages wait for theirs.

const PROTOCOL_VERSION = 5;
// The smallest message window a packet id violation can shrink ours to.
const MIN_WINDOW = 16;

/**
 * A received PUBLISH as the pipeline takes it. Its payload is a view of the socket's chunk, valid
 * during `onMessage` only: whoever keeps it copies it (keeping the view would keep the whole chunk
 * alive, which the byte bound would not see).
 */
export type InboundMessage = Omit<PublishPacket, 'packetId'> & {
  /** None for QoS 0. */
  packetId: number | undefined;
  receivedAtMs: number;
};

/** Settles one message: it is durable (stored or quarantined), so the broker may forget it. */
export type Settle = () => void;

export type SessionConsumerOptions = MqttClientOptions & {
  url: string;
  clientId: string;
  /** Filters to subscribe to on every connect (with their `$share/<group>/` prefix). */
  filters: readonly string[];
  /**
   * Filters the session may still hold from an earlier configuration (another share group or topic
   * set): unsubscribed when the broker says it kept the session, or each message would keep coming
   * once per group. What they already queued is still delivered.
   */
  staleFilters?: readonly string[];
  /**
   * Drain a departed member's session instead: unsubscribe every filter (the broker still delivers
   * what it queued for the session, and deals no new messages to it) and take what comes.
   */
  drain?: boolean;
  sessionExpirySeconds: number;
  keepaliveSeconds: number;
  /**
   * Reading pauses while this many messages, or payload bytes, are held (waiting for acknowledgement,
   * or from a lost connection and still being stored); resumes at half. Also our Receive Maximum.
   */
  maxUnacknowledged: number;
  maxUnacknowledgedBytes: number;
  reconnectMinMs: number;
  reconnectMaxMs: number;
  onMessage: (message: InboundMessage, settle: Settle) => void;
};

export type ConsumerEvents = {
  connected: [{ sessionPresent: boolean }];
  /** The broker confirmed these filters gone from the session. */
  unsubscribed: [{ filters: readonly string[] }];
  /** The broker broke the protocol in a way that could misplace an acknowledgement; the connection was dropped. */
  protocolViolation: [{ violation: 'packet_id_in_use'; packetId: number }];
  disconnected: [{ reason: string }];
  error: [Error];
};

/** Connects, keeps the session alive and reconnects with backoff until `stopReading()` or `disconnect()`. */
export class SessionConsumer extends EventEmitter<ConsumerEvents> {
  private socket: net.Socket | undefined;
  private acks = new AckQueue();
  private generation = 0;
  private stopped = false;
  private paused = false;
  private connected = false;
  private readonly reconnectDelays: { next(): number; reset(): void };
  private keepaliveTimer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private lastPingSentAt = 0;
  private awaitingPingResponse = false;
  private nextPacketId = 1;
  private lastMessageAt = 0;
  // UNSUBSCRIBEs awaiting their UNSUBACK, by packet id.
  private unsubscribing = new Map<number, readonly string[]>();
  // Messages of lost connections that the pipeline still holds (being stored): they count against
  // the bounds, or every reconnect while a store is slow would take in another full window.
  private orphans = { messages: 0, bytes: 0 };
  private waitingForRoom = false;
  // The message window: halved after a broker reused a packet id, so that each id is acknowledged
  // before the broker can hand it out again.
  private window: number;

  constructor(private readonly options: SessionConsumerOptions) {
    super();
    this.window = Math.min(65_535, options.maxUnacknowledged);
    this.reconnectDelays = createBackoff({ minMs: options.reconnectMinMs, maxMs: options.reconnectMaxMs });
  }

  get isConnected(): boolean {
    return this.connected;
  }

  /** Messages held: received on this connection and not yet acknowledged, or from a lost one and still being stored. */
  get unacknowledged(): number {
    return this.acks.size + this.orphans.messages;
  }

  /** How many messages may be held at once (smaller than configured after a broker reused a packet id). */
  get windowMessages(): number {
    return this.window;
  }

  /** When the last message arrived (epoch ms; 0 before the first). */
  get lastMessageAtMs(): number {
    return this.lastMessageAt;
  }

  /** Their payload bytes. */
  get unacknowledgedBytes(): number {
    return this.acks.bytes + this.orphans.bytes;
  }

  start(): void {
    this.stopped = false;
    this.connect();
  }

  /** Stops taking messages: reading pauses for good and no reconnect follows. */
  stopReading(): void {
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    this.socket?.pause();
  }

  /**
   * Sends the acknowledgements that are due and disconnects. The broker keeps the session (and
   * queues our share) unless `endSession`: then it deletes the session with whatever it still holds,
   * so only a drained session may be ended.
   */
  async disconnect(options: { endSession?: boolean } = {}): Promise<void> {
    this.stopReading();
    const socket = this.socket;
    if (!socket || socket.destroyed) return;
    if (!this.connected) {
      // Still connecting: a DISCONNECT before the CONNECT would be a protocol error.
      socket.destroy();
      return;
    }
    this.flushAcks();
    await new Promise<void>((resolve) => {
      socket.once('close', () => resolve());
      this.send({
        cmd: 'disconnect',
        reasonCode: 0,
        ...(options.endSession ? { properties: { sessionExpiryInterval: 0 } } : {}),
      });
      socket.end();
      setTimeout(() => socket.destroy(), 2000).unref();
    });
  }

  private connect(): void {
    const url = new URL(this.options.url);
    const secure = url.protocol === 'mqtts:' || url.protocol === 'ssl:';
    const port = Number(url.port) || (secure ? 8883 : 1883);
    const socket = secure
      ? tls.connect({ host: url.hostname, port, servername: url.hostname, ca: this.options.ca })
      : net.connect({ host: url.hostname, port });
    socket.setNoDelay(true);
    const generation = ++this.generation;
    this.socket = socket;
    this.acks = new AckQueue();
    this.paused = false;
    const parser = mqttPacket.parser({ protocolVersion: PROTOCOL_VERSION });
    parser.on('packet', (packet: Packet) => this.handlePacket(packet, generation));
    parser.on('error', (err: Error) => this.drop(socket, `protocol error: ${err.message}`));
    const reader = new PacketReader(
      (packet) => this.handlePublish(packet, generation),
      (packet) => parser.parse(packet),
    );
    socket.on(secure ? 'secureConnect' : 'connect', () => {
      this.send({
        cmd: 'connect',
        protocolVersion: PROTOCOL_VERSION,
        clientId: this.options.clientId,
        clean: false,
        keepalive: this.options.keepaliveSeconds,
        ...(this.options.username === undefined ? {} : { username: this.options.username }),
        ...(this.options.password === undefined ? {} : { password: Buffer.from(this.options.password) }),
        properties: {
          sessionExpiryInterval: this.options.sessionExpirySeconds,
          receiveMaximum: this.window,
        },
      });
    });
    socket.on('data', (chunk) => {
      try {
        reader.push(chunk);
      } catch (err) {
        if (!(err instanceof MalformedPacketError)) throw err;
        this.drop(socket, `protocol error: ${err.message}`);
      }
    });
    socket.on('error', (err) => this.emit('error', err));
    socket.on('close', () => this.handleClose(socket));
  }

  private handlePacket(packet: Packet, generation: number): void {
    // Packets parsed from a dropped connection's last chunk are not ours to act on.
    if (generation !== this.generation || this.socket?.destroyed) return;
    switch (packet.cmd) {
      case 'connack': {
        const code = packet.reasonCode ?? packet.returnCode ?? 0;
        if (code !== 0) {
          this.drop(this.socket, `connack refused with reason code ${code}`);
          return;
        }
        this.connected = true;
        this.reconnectDelays.reset();
        this.unsubscribing.clear();
        this.startKeepalive();
        const stale = this.options.staleFilters ?? [];
        if (this.options.drain) {
          if (packet.sessionPresent) this.unsubscribe([...this.options.filters, ...stale]);
        } else {
          // SUBSCRIBE on every connect, even when the broker kept the session: Mosquitto 2.0 never
          // saves shared subscriptions, so a session restored after a broker restart has none
          // (README, limits). Subscribing again replaces a held subscription and loses nothing queued.
          this.send({
            cmd: 'subscribe',
            messageId: this.takePacketId(),
            subscriptions: this.options.filters.map((topic) => ({ topic, qos: 1 as const })),
          });
          if (packet.sessionPresent && stale.length > 0) this.unsubscribe(stale);
        }
        this.emit('connected', { sessionPresent: packet.sessionPresent });
        return;
      }
      case 'unsuback': {
        const filters = this.unsubscribing.get(packet.messageId ?? 0);
        if (!filters) return;
        this.unsubscribing.delete(packet.messageId ?? 0);
        // 0x11 "No subscription existed" is as good as gone; any other failure keeps it held.
        const codes = packet.granted ?? [];
        const gone = filters.filter((_, i) => (codes[i] ?? 0) < 0x80);
        if (gone.length < filters.length) {
          this.emit('error', new Error(`unsubscribe refused: ${codes.filter((c) => c >= 0x80).join(',')}`));
        }
        this.emit('unsubscribed', { filters: gone });
        return;
      }
      case 'suback': {
        const refused = (packet.granted as number[]).filter((code) => code >= 0x80);
        if (refused.length > 0) this.drop(this.socket, `subscription refused: ${refused.join(',')}`);
        return;
      }
      case 'pubrel':
        // Our PUBREC went out after the message was durable; completing the exchange is all that is left.
        this.send({ cmd: 'pubcomp', messageId: packet.messageId ?? 0 });
        return;
      case 'pingresp':
        this.awaitingPingResponse = false;
        return;
      case 'disconnect':
        this.drop(this.socket, `broker disconnected with reason code ${packet.reasonCode ?? 0}`);
        return;
      default:
        return;
    }
  }

  private handlePublish(packet: PublishPacket, generation: number): void {
    // Packets parsed from a dropped connection's last chunk are not ours to act on.
    if (generation !== this.generation || this.socket?.destroyed) return;
    if (packet.qos > 0 && this.acks.holds(packet.packetId)) {
      // A packet id that is still unacknowledged on this connection ([MQTT-2.2.1-3]): a PUBACK for
      // it could be applied to either message. Nothing more is acknowledged here; the broker sends
      // every unacknowledged message again on the next connection.
      this.window = Math.max(MIN_WINDOW, Math.floor(this.window / 2));
      this.emit('protocolViolation', { violation: 'packet_id_in_use', packetId: packet.packetId });
      this.drop(this.socket, `packet id ${packet.packetId} reused while unacknowledged`);
      return;
    }
    const payload = packet.payload;
    this.lastMessageAt = Date.now();
    const message: InboundMessage = {
      topic: packet.topic,
      payload,
      qos: packet.qos,
      dup: packet.dup,
      retain: packet.retain,
      packetId: packet.qos > 0 ? packet.packetId : undefined,
      receivedAtMs: this.lastMessageAt,
      userProperties: packet.userProperties,
    };
    const entry = this.acks.push(packet.packetId, packet.qos, payload.length);
    if (!this.paused && this.overLimit(1)) {
      this.paused = true;
      this.socket?.pause();
    }
    this.options.onMessage(message, () => {
      if (generation !== this.generation) {
        // From a lost connection: the broker sends it again on the new one, and its old ack is void.
        this.orphans.messages -= 1;
        this.orphans.bytes -= entry.bytes;
        this.whenRoom();
        return;
      }
      entry.settled = true;
      if (entry === this.acks.head) setImmediate(() => this.flushAcks());
    });
  }

  /** Sends the acknowledgements of the settled messages at the head of the queue, in receive order. */
  private flushAcks(): void {
    const socket = this.socket;
    if (!socket || socket.destroyed || !this.connected) return;
    const due = this.acks.takeSettled();
    if (due.length === 0) return;
    socket.write(encodeAcks(due));
    this.whenRoom();
  }

  // Resumes reading, or reconnects, once what is held is down to half the bounds.
  private whenRoom(): void {
    if (this.stopped || this.overLimit(0.5)) return;
    if (this.paused) {
      this.paused = false;
      this.socket?.resume();
    }
    if (this.waitingForRoom) {
      this.waitingForRoom = false;
      this.connect();
    }
  }

  private unsubscribe(filters: readonly string[]): void {
    const messageId = this.takePacketId();
    this.unsubscribing.set(messageId, filters);
    this.send({ cmd: 'unsubscribe', messageId, unsubscriptions: [...filters] });
  }

  // Our own packet ids (SUBSCRIBE, UNSUBSCRIBE): 1…65535, never 0.
  private takePacketId(): number {
    const id = this.nextPacketId;
    this.nextPacketId = (id % 65_535) + 1;
    return id;
  }

  private overLimit(fraction: number): boolean {
    return (
      this.unacknowledged >= this.window * fraction ||
      this.unacknowledgedBytes >= this.options.maxUnacknowledgedBytes * fraction
    );
  }

  private startKeepalive(): void {
    clearInterval(this.keepaliveTimer);
    const intervalMs = (this.options.keepaliveSeconds * 1000) / 2;
    this.awaitingPingResponse = false;
    this.keepaliveTimer = setInterval(() => {
      // While reading is paused the PINGRESP waits behind unread PUBLISHes: that is not a dead link.
      if (this.awaitingPingResponse && !this.paused && Date.now() - this.lastPingSentAt > intervalMs * 2) {
        this.drop(this.socket, 'keepalive timeout');
        return;
      }
      this.lastPingSentAt = Date.now();
      this.awaitingPingResponse = true;
      this.send({ cmd: 'pingreq' });
    }, intervalMs);
    this.keepaliveTimer.unref();
  }

  private send(packet: Packet): void {
    const socket = this.socket;
    if (!socket || socket.destroyed) return;
    socket.write(mqttPacket.generate(packet, { protocolVersion: PROTOCOL_VERSION }));
  }

  private drop(socket: net.Socket | undefined, reason: string): void {
    if (!socket || socket.destroyed) return;
    this.emit('error', new Error(reason));
    socket.destroy();
  }

  private handleClose(socket: net.Socket): void {
    if (socket !== this.socket) return;
    clearInterval(this.keepaliveTimer);
    const wasConnected = this.connected;
    this.connected = false;
    // Unacknowledged messages stay in the broker's session and come again after the reconnect; those
    // the pipeline still stores are held until their batch is done.
    const { messages, bytes } = this.acks.unsettled();
    this.orphans.messages += messages;
    this.orphans.bytes += bytes;
    this.acks = new AckQueue();
    this.generation += 1; // what settles from now on belongs to a lost connection
    if (wasConnected) this.emit('disconnected', { reason: 'connection closed' });
    if (this.stopped) return;
    // Jittered, so a fleet of collectors does not reconnect in step after a broker restart.
    const delay = this.reconnectDelays.next();
    this.reconnectTimer = setTimeout(() => {
      if (this.overLimit(0.5)) this.waitingForRoom = true;
      else this.connect();
    }, delay);
  }
}

// PUBACK (QoS 1) or PUBREC (QoS 2) with reason Success and no properties is four bytes in MQTT 5
// (the reason code may be omitted, §3.4.2.1): written directly, all due at once, in receive order.
function encodeAcks(entries: readonly AckEntry[]): Buffer {
  const out = Buffer.allocUnsafe(entries.length * 4);
  let offset = 0;
  for (const { packetId, qos } of entries) {
    if (qos === 0) continue;
    out[offset] = qos === 1 ? 0x40 : 0x50;
    out[offset + 1] = 0x02;
    out.writeUInt16BE(packetId, offset + 2);
    offset += 4;
  }
  return out.subarray(0, offset);
}
