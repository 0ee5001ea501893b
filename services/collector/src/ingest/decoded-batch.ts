import type { DecodeResult } from '@iot-meter/common/protocol';
import { type CommandAck, type DeviceActivity, foldActivity } from '../devices/device-activity.js';
import { toLineProtocol } from '../timeseries/line-protocol.js';
import type { Rejection } from './batch.js';
import { ByteArena } from './byte-arena.js';

const NEWLINE = 0x0a;

/** What decoding a batch's messages gave, in the form a worker thread can send back. */
export type DecodedBatchData = {
  lines: Uint8Array;
  lineEnds: number[];
  pointCounts: number[];
  rejections: Map<number, Rejection>;
  activity: Map<string, DeviceActivity>;
  acks: CommandAck[];
};

/**
 * The decoded side of a batch: each telemetry message's points as line protocol in one byte arena
 * (one slot per message in `lineEnds`, empty for the others), quarantine verdicts by index, and what
 * the messages say about their devices.
 */
export class DecodedBatch {
  readonly rejections: Map<number, Rejection>;
  readonly activity: Map<string, DeviceActivity>;
  readonly acks: CommandAck[];
  private readonly lines: ByteArena;
  private readonly lineEnds: number[];
  private readonly pointCounts: number[];

  constructor(data?: DecodedBatchData) {
    this.lines = data ? ByteArena.of(data.lines) : new ByteArena();
    this.lineEnds = data?.lineEnds ?? [];
    this.pointCounts = data?.pointCounts ?? [];
    this.rejections = data?.rejections ?? new Map();
    this.activity = data?.activity ?? new Map();
    this.acks = data?.acks ?? [];
  }

  /** Records the next message's verdict (messages are recorded in index order). */
  record(index: number, result: DecodeResult, message: { receivedAtMs: number; retain: boolean }): void {
    let points = 0;
    if (result.ok) {
      const decoded = result.message;
      foldActivity(this.activity, this.acks, decoded, message);
      if (decoded.kind === 'telemetry') {
        this.lines.appendString(toLineProtocol(decoded.deviceId, decoded.samples));
        this.lines.appendByte(NEWLINE);
        points = decoded.samples.length;
      }
    } else {
      this.rejections.set(index, { reason: result.reason, detail: result.detail });
    }
    this.lineEnds.push(this.lines.length);
    this.pointCounts.push(points);
  }

  pointsOf(index: number): number {
    return this.rejections.has(index) ? 0 : (this.pointCounts[index] ?? 0);
  }

  /** Line protocol of the given messages (ascending indices), one line per point. */
  linesOf(indices: readonly number[]): Buffer {
    const views: Buffer[] = [];
    let runStart = -1;
    let runEnd = -1;
    for (const index of indices) {
      const start = index === 0 ? 0 : (this.lineEnds[index - 1] ?? 0);
      const end = this.lineEnds[index] ?? start;
      if (start !== runEnd) {
        if (runStart >= 0) views.push(this.lines.view(runStart, runEnd));
        runStart = start;
      }
      runEnd = end;
    }
    if (runStart >= 0) views.push(this.lines.view(runStart, runEnd));
    return views.length === 1 ? (views[0] as Buffer) : Buffer.concat(views);
  }

  data(): DecodedBatchData {
    return {
      lines: this.lines.view(0, this.lines.length),
      lineEnds: this.lineEnds,
      pointCounts: this.pointCounts,
      rejections: this.rejections,
      activity: this.activity,
      acks: this.acks,
    };
  }
}
