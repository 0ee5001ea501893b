import {
  DEVICE_TOPIC_KINDS,
  type DecodedMessage,
  type DecodeResult,
  type DeviceTopic,
  type RejectReason,
} from '@iot-meter/common/protocol';
import type { CommandAck, DeviceActivity } from '../devices/device-activity.js';
import type { InboundMessage, Settle } from '../mqtt/session-consumer.js';
import { ByteArena } from './byte-arena.js';
import { DecodedBatch } from './decoded-batch.js';

/** Decode rejections, plus a message whose points InfluxDB refused. */
export type QuarantineReason = RejectReason | 'timeseries_rejected';
export type Rejection = { reason: QuarantineReason; detail: string };
export type MessageKind = DecodedMessage['kind'];

const KIND_OF_TOPIC: Record<(typeof DEVICE_TOPIC_KINDS)[number], MessageKind> = {
  telemetry: 'telemetry',
  hello: 'hello',
  status: 'status',
  'command/ack': 'command_ack',
};
// Flags beside the QoS in the low two bits.
export const DUP = 4;
export const RETAIN = 8;
// Traces a batch's span links to, at most (batch-tracing.ts).
const MAX_TRACEPARENTS = 128;

/** A batch's received messages as a decode worker takes them (ingest/decode-worker.ts). */
export type RawBatchData = {
  payloads: Uint8Array;
  payloadEnds: number[];
  receivedAt: number[];
  flags: number[];
  devices: string[];
  deviceOfMessage: number[];
  topicKinds: number[];
  otherTopics: Map<number, string>;
};

/**
 * Messages stored together and acknowledged together: payloads copied into one byte arena, points
 * (once decoded) as line protocol into another, the rest in arrays of numbers, one slot per message
 * in receive order. Per-message objects kept for the batch's lifetime were most of the collector's
 * garbage-collection time. Messages are decoded as they are added, or all at once by a worker
 * thread when the batch closes. Each stage records that it is done, so a retry after a failure
 * repeats only what did not finish (every stage is idempotent anyway).
 */
export class Batch {
  readonly createdAtMs: number;
  /** Its flush interval has passed: store it as soon as a slot is free. */
  due = false;
  timeseriesDone = false;
  archiveDone = false;
  indexDone = false;
  /** Set by the archive stage, consumed by the index stage. */
  segments: ArchiveSegment[] = [];
  /** Set by the index stage: what sequence tracking found in this batch. */
  sequences: { duplicates: number; gaps: number; resets: number } = { duplicates: 0, gaps: 0, resets: 0 };

  /** `traceparent` user properties of the first messages that carried one. */
  readonly traceparents: string[] = [];
  /** Set while its messages wait for a worker to decode them. */
  awaitingDecode = false;
  private decoded = new DecodedBatch();

  private readonly settles: Settle[] = [];
  private readonly receivedAt: number[] = [];
  private readonly packetIds: number[] = [];
  // qos | DUP | RETAIN
  private readonly flags: number[] = [];
  private readonly devices: string[] = [];
  private readonly deviceIndex = new Map<string, number>();
  private readonly deviceOfMessage: number[] = [];
  // Index into DEVICE_TOPIC_KINDS, or -1 for a topic that is not a device's (kept in otherTopics).
  private readonly topicKinds: number[] = [];
  private readonly otherTopics = new Map<number, string>();
  private readonly payloads = new ByteArena();
  private readonly payloadEnds: number[] = [];

  constructor(
    readonly id: string,
    nowMs: number,
    /** The messages at which the ingestor stores it (fewer while it starts). */
    readonly sizeLimit = Number.POSITIVE_INFINITY,
  ) {
    this.createdAtMs = nowMs;
  }

  get size(): number {
    return this.settles.length;
  }

  /**
   * Adds a received message with its verdict, or without one for a worker to decode when the batch
   * closes. The payload is copied: the caller's may be reused.
   */
  add(message: InboundMessage, settle: Settle, topic: DeviceTopic | undefined, result?: DecodeResult): void {
    const index = this.settles.length;
    this.settles.push(settle);
    this.receivedAt.push(message.receivedAtMs);
    this.packetIds.push(message.packetId ?? -1);
    this.flags.push(message.qos | (message.dup ? DUP : 0) | (message.retain ? RETAIN : 0));
    this.deviceOfMessage.push(this.deviceNumber(topic?.deviceId ?? ''));
    this.topicKinds.push(topic ? DEVICE_TOPIC_KINDS.indexOf(topic.kind) : -1);
    if (!topic) this.otherTopics.set(index, message.topic);
    this.payloadEnds.push(this.payloads.append(message.payload));
    const traceparent = message.userProperties?.traceparent;
    if (typeof traceparent === 'string' && this.traceparents.length < MAX_TRACEPARENTS) {
      this.traceparents.push(traceparent);
    }
    if (result) this.decoded.record(index, result, message);
    else this.awaitingDecode = true;
  }

  /** The messages for a decode worker. */
  raw(): RawBatchData {
    return {
      payloads: this.payloads.view(0, this.payloads.length),
      payloadEnds: this.payloadEnds,
      receivedAt: this.receivedAt,
      flags: this.flags,
      devices: this.devices,
      deviceOfMessage: this.deviceOfMessage,
      topicKinds: this.topicKinds,
      otherTopics: this.otherTopics,
    };
  }

  /** Takes a worker's verdicts on every message. */
  decodedBy(decoded: DecodedBatch): void {
    this.decoded = decoded;
    this.awaitingDecode = false;
  }

  /** What the batch says about each device (presence, hello, sequence numbers). */
  get activity(): Map<string, DeviceActivity> {
    return this.decoded.activity;
  }

  get acks(): CommandAck[] {
    return this.decoded.acks;
  }

  /** Messages quarantined, by index. */
  get rejections(): Map<number, Rejection> {
    return this.decoded.rejections;
  }

  /** Quarantines a message that was decoded but could not be stored (e.g. InfluxDB refused it). */
  reject(index: number, reason: QuarantineReason, detail: string): void {
    this.decoded.rejections.set(index, { reason, detail });
  }

  /** Lets the consumer acknowledge every message: the batch is durable. */
  settleAll(): void {
    for (const settle of this.settles) settle();
  }

  /** The kind of a message kept (not quarantined). */
  kindOf(index: number): MessageKind | undefined {
    if (this.rejections.has(index)) return undefined;
    const topicKind = DEVICE_TOPIC_KINDS[this.topicKinds[index] ?? -1];
    return topicKind === undefined ? undefined : KIND_OF_TOPIC[topicKind];
  }

  /** Points of a telemetry message (0 for any other). */
  pointsOf(index: number): number {
    return this.decoded.pointsOf(index);
  }

  /** Line protocol of the given messages (ascending indices), one line per point. */
  linesOf(indices: readonly number[]): Buffer {
    return this.decoded.linesOf(indices);
  }

  payloadOf(index: number): Buffer {
    return this.payloads.view(
      index === 0 ? 0 : (this.payloadEnds[index - 1] ?? 0),
      this.payloadEnds[index] ?? 0,
    );
  }

  topicOf(index: number): string {
    const kind = DEVICE_TOPIC_KINDS[this.topicKinds[index] ?? -1];
    return kind === undefined ? (this.otherTopics.get(index) ?? '') : `iot/${this.deviceOf(index)}/${kind}`;
  }

  /** The device named by the topic ('' when the topic is not one of ours). */
  deviceOf(index: number): string {
    return this.devices[this.deviceOfMessage[index] ?? 0] ?? '';
  }

  receivedAtOf(index: number): number {
    return this.receivedAt[index] ?? 0;
  }

  /** The broker's packet id (none for QoS 0). */
  packetIdOf(index: number): number | null {
    const id = this.packetIds[index] ?? -1;
    return id < 0 ? null : id;
  }

  qosOf(index: number): number {
    return (this.flags[index] ?? 0) & 3;
  }

  dupOf(index: number): boolean {
    return ((this.flags[index] ?? 0) & DUP) !== 0;
  }

  retainOf(index: number): boolean {
    return ((this.flags[index] ?? 0) & RETAIN) !== 0;
  }

  private deviceNumber(deviceId: string): number {
    let number = this.deviceIndex.get(deviceId);
    if (number === undefined) {
      number = this.devices.push(deviceId) - 1;
      this.deviceIndex.set(deviceId, number);
    }
    return number;
  }
}

/** The byte range of one device's records in one archive object. */
export type ArchiveSegment = {
  kind: 'raw' | 'quarantine';
  deviceId: string;
  objectKey: string;
  byteOffset: number;
  byteLength: number;
  messageCount: number;
  firstReceivedAtMs: number;
  lastReceivedAtMs: number;
};
