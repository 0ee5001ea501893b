import { EventEmitter } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';
import mqttPacket, { type IPublishPacket, type Packet } from 'mqtt-packet';
import { retryDelayMs } from '../retry-delay.js';
import { type AckEntry, AckQueue } from './ack-queue.js';

// A persistent-session MQTT 5 subscriber on mqtt-packet. MQTT.js handles one message per connection
// at a time and sends its PUBACK before reading the next packet, so deferring acknowledgements until a
// batch is durable would serialise the stream (../../../shared/reference/reliability-security.md §2.2).
// Here every message is handed over as it arrives, acknowledgements go out later in receive order
// (MQTT requires it), and reading stops while too many messages wait for theirs.

const PROTOCOL_VERSION = 5;

export type InboundMessage = {
  topic: string;
  payload: Buffer;
  qos: 0 | 1 | 2;
  dup: boolean;
  retain: boolean;
  packetId: number | undefined;
  receivedAtMs: number;
  userProperties: Record<string, string | string[]> | undefined;
};

/** Settles one message: it is durable (stored or quarantined), so the broker may forget it. */
export type Settle = () => void;

export type SessionConsumerOptions = {
  url: string;
  clientId: string;
  username?: string | undefined;
  password?: string | undefined;
  /** Filters to subscribe to (with their `$share/<group>/` prefix) when the broker has no session. */
  filters: readonly string[];
  /**
   * Drain a departed member's session instead: unsubscribe (the broker still delivers what it
   * queued for the session, and deals no new messages to it) and take what comes.
   */
  drain?: boolean;
  sessionExpirySeconds: number;
  keepaliveSeconds: number;
  /** Reading pauses while this many messages, or payload bytes, wait for acknowledgement; resumes at half. */
  maxUnacknowledged: number;
  maxUnacknowledgedBytes: number;
  reconnectMinMs: number;
  reconnectMaxMs: number;
  onMessage: (message: InboundMessage, settle: Settle) => void;
};

export type ConsumerEvents = {
  connected: [{ sessionPresent: boolean }];
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
  private attempts = 0;
  private keepaliveTimer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private lastPingSentAt = 0;
  private awaitingPingResponse = false;
  private nextPacketId = 1;
  private lastMessageAt = 0;

  constructor(private readonly options: SessionConsumerOptions) {
    super();
  }

  get isConnected(): boolean {
    return this.connected;
  }

  /** Messages received on this connection and not yet acknowledged. */
  get unacknowledged(): number {
    return this.acks.size;
  }

  /** When the last message arrived (epoch ms; 0 before the first). */
  get lastMessageAtMs(): number {
    return this.lastMessageAt;
  }

  /** Their payload bytes. */
  get unacknowledgedBytes(): number {
    return this.acks.bytes;
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
      ? tls.connect({ host: url.hostname, port, servername: url.hostname })
      : net.connect({ host: url.hostname, port });
    socket.setNoDelay(true);
    const generation = ++this.generation;
    this.socket = socket;
    this.acks = new AckQueue();
    this.paused = false;
    const parser = mqttPacket.parser({ protocolVersion: PROTOCOL_VERSION });
    parser.on('packet', (packet: Packet) => this.handlePacket(packet, generation));
    parser.on('error', (err: Error) => this.drop(socket, `protocol error: ${err.message}`));
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
          receiveMaximum: Math.min(65_535, this.options.maxUnacknowledged),
        },
      });
    });
    socket.on('data', (chunk) => parser.parse(chunk));
    socket.on('error', (err) => this.emit('error', err));
    socket.on('close', () => this.handleClose(socket));
  }

  private handlePacket(packet: Packet, generation: number): void {
    if (generation !== this.generation) return;
    switch (packet.cmd) {
      case 'connack': {
        const code = packet.reasonCode ?? packet.returnCode ?? 0;
        if (code !== 0) {
          this.drop(this.socket, `connack refused with reason code ${code}`);
          return;
        }
        this.connected = true;
        this.attempts = 0;
        this.startKeepalive();
        // Subscribe on every connect, even when the broker says it kept our session: Mosquitto
        // 2.0.11 restores such a session after a restart without delivering to its shared
        // subscription until it is made again (seen in the fault suite). Subscribing again to the
        // same filter replaces the subscription and loses nothing queued.
        if (this.options.drain) {
          if (packet.sessionPresent) {
            this.send({
              cmd: 'unsubscribe',
              messageId: this.nextPacketId++,
              unsubscriptions: [...this.options.filters],
            });
          }
        } else {
          this.send({
            cmd: 'subscribe',
            messageId: this.nextPacketId++,
            subscriptions: this.options.filters.map((topic) => ({ topic, qos: 1 as const })),
          });
        }
        this.emit('connected', { sessionPresent: packet.sessionPresent });
        return;
      }
      case 'suback': {
        const refused = (packet.granted as number[]).filter((code) => code >= 0x80);
        if (refused.length > 0) this.drop(this.socket, `subscription refused: ${refused.join(',')}`);
        return;
      }
      case 'publish':
        this.handlePublish(packet, generation);
        return;
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

  private handlePublish(packet: IPublishPacket, generation: number): void {
    // A copy: the parser's payload is a slice of a socket chunk, and keeping the slice would keep the
    // whole chunk alive for as long as the message waits, which the byte bound would not see.
    const payload = Buffer.from(packet.payload);
    this.lastMessageAt = Date.now();
    const message: InboundMessage = {
      topic: packet.topic,
      payload,
      qos: packet.qos,
      dup: packet.dup,
      retain: packet.retain,
      packetId: packet.messageId,
      receivedAtMs: this.lastMessageAt,
      userProperties: packet.properties?.userProperties,
    };
    const entry = this.acks.push(packet.messageId ?? 0, packet.qos, payload.length);
    if (!this.paused && this.overLimit(1)) {
      this.paused = true;
      this.socket?.pause();
    }
    this.options.onMessage(message, () => {
      // A message from an earlier connection is redelivered on this one; its old ack is void.
      if (generation !== this.generation) return;
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
    if (this.paused && !this.overLimit(0.5) && !this.stopped) {
      this.paused = false;
      socket.resume();
    }
  }

  private overLimit(fraction: number): boolean {
    return (
      this.acks.size >= this.options.maxUnacknowledged * fraction ||
      this.acks.bytes >= this.options.maxUnacknowledgedBytes * fraction
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
    // Unacknowledged messages stay in the broker's session and come again after the reconnect.
    this.acks = new AckQueue();
    if (wasConnected) this.emit('disconnected', { reason: 'connection closed' });
    if (this.stopped) return;
    // Jittered, so a fleet of collectors does not reconnect in step after a broker restart.
    const delay = retryDelayMs(this.attempts, this.options.reconnectMinMs, this.options.reconnectMaxMs);
    this.attempts += 1;
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
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
