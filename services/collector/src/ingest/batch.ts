import type { DecodedMessage, RejectReason } from '@iot-meter/common';
import type { InboundMessage, Settle } from '../mqtt/session-consumer.js';

/** Decode rejections, plus a message whose points InfluxDB refused. */
export type QuarantineReason = RejectReason | 'timeseries_rejected';

/** A received message with its verdict: decoded (to store) or rejected (to quarantine). */
export type Entry = {
  message: InboundMessage;
  settle: Settle;
  decoded?: DecodedMessage;
  rejection?: { reason: QuarantineReason; detail: string };
  /** The device named by the topic, when the topic is one of ours. */
  deviceId: string;
};

/**
 * Messages stored together and acknowledged together. Each stage records that it is done, so a
 * retry after a failure repeats only what did not finish (every stage is idempotent anyway).
 */
export class Batch {
  readonly entries: Entry[] = [];
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

  constructor(
    readonly id: string,
    nowMs: number,
  ) {
    this.createdAtMs = nowMs;
  }

  get size(): number {
    return this.entries.length;
  }

  /** Quarantines an entry that was decoded but could not be stored (e.g. InfluxDB refused it). */
  reject(entry: Entry, reason: QuarantineReason, detail: string): void {
    delete entry.decoded;
    entry.rejection = { reason, detail };
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
