import type { z } from 'zod';
import {
  type COMMAND_ACK_RESULTS,
  commandAckV2Schema,
  helloV2Schema,
  MAX_MEASUREMENTS,
  METRIC_NAME_PATTERN,
  SEQ_MAX,
  statusV2Schema,
  type TelemetryV2,
  telemetryV2Schema,
  V1_RESERVED_KEYS,
} from './payloads.js';
import { msToNs, parseTimestampNs } from './timestamps.js';
import { type DeviceTopic, type DeviceTopicKind, parseDeviceTopic } from './topics.js';

/** Why a message was quarantined. These codes are stable: metrics, alerts and the archive use them. */
export const REJECT_REASONS = [
  'unknown_topic',
  'payload_too_large',
  'invalid_utf8',
  'invalid_json',
  'not_an_object',
  'unknown_version',
  'invalid_schema',
  'non_finite_number',
  'device_mismatch',
  'topic_mismatch',
  'timestamp_invalid',
  'timestamp_in_future',
  'no_measurements',
] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

/** One sample: a point of `iot_telemetry` in InfluxDB. */
export type Sample = { metric: string; value: number; unit?: string; timeNs: bigint };

type Common = { deviceId: string; version: 1 | 2; seq?: number; sentAtNs: bigint };
export type DecodedMessage =
  | (Common & { kind: 'telemetry'; samples: Sample[] })
  | (Common & { kind: 'hello'; fwVersion: string; uptimeS: number })
  | (Common & { kind: 'status'; status: 'online' | 'offline' })
  | (Common & {
      kind: 'command_ack';
      cmdId: string;
      result: (typeof COMMAND_ACK_RESULTS)[number];
      detail?: string;
    });

export type DecodeResult =
  | { ok: true; message: DecodedMessage }
  | { ok: false; reason: RejectReason; detail: string; deviceId?: string };

export type DecodeOptions = {
  /** When the collector received the message; stamps messages that carry no time of their own. */
  receivedAtMs: number;
  maxPayloadBytes: number;
  /** How far ahead of the receive time a device clock may run. */
  maxFutureSkewMs: number;
};

const utf8 = new TextDecoder('utf-8', { fatal: true });

class Rejection extends Error {
  constructor(
    readonly reason: RejectReason,
    readonly detail: string,
  ) {
    super(detail);
  }
}

function reject(reason: RejectReason, detail: string): never {
  throw new Rejection(reason, detail);
}

/**
 * Decodes and validates one device message; never throws, whatever the bytes. A caller that has
 * parsed the topic already passes it along.
 */
export function decodeDeviceMessage(
  topic: string,
  payload: Uint8Array,
  options: DecodeOptions,
  parsedTopic: DeviceTopic | undefined = parseDeviceTopic(topic),
): DecodeResult {
  if (!parsedTopic) return { ok: false, reason: 'unknown_topic', detail: `unexpected topic ${topic}` };
  try {
    return { ok: true, message: decodeBody(parsedTopic.deviceId, parsedTopic.kind, payload, options) };
  } catch (err) {
    if (err instanceof Rejection) {
      return { ok: false, reason: err.reason, detail: err.detail, deviceId: parsedTopic.deviceId };
    }
    // JSON.parse throws SyntaxError; a pathological document may exhaust the stack (RangeError).
    return {
      ok: false,
      reason: 'invalid_json',
      detail: err instanceof Error ? err.message.slice(0, 200) : 'unparseable',
      deviceId: parsedTopic.deviceId,
    };
  }
}

function decodeBody(
  deviceId: string,
  kind: DeviceTopicKind,
  payload: Uint8Array,
  options: DecodeOptions,
): DecodedMessage {
  if (payload.byteLength > options.maxPayloadBytes) {
    reject('payload_too_large', `${payload.byteLength} bytes, limit ${options.maxPayloadBytes}`);
  }
  let text: string;
  try {
    text = utf8.decode(payload);
  } catch {
    reject('invalid_utf8', 'payload is not valid UTF-8');
  }
  // Devices' Last Will is often the bare word.
  if (kind === 'status' && (text === 'online' || text === 'offline')) {
    return { kind: 'status', deviceId, version: 1, status: text, sentAtNs: msToNs(options.receivedAtMs) };
  }
  const body: unknown = JSON.parse(text);
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    reject('not_an_object', 'payload must be a JSON object');
  }
  const record = body as Record<string, unknown>;
  if (MAY_OVERFLOW.test(text)) rejectNonFinite(record, '');
  if (record.device_id !== undefined && record.device_id !== deviceId) {
    reject(
      'device_mismatch',
      `payload device_id ${JSON.stringify(record.device_id)} differs from the topic's`,
    );
  }
  if (record.v === undefined || record.v === 1) {
    if (kind !== 'telemetry') reject('unknown_version', `a ${kind} message must be a v2 envelope`);
    return decodeTelemetryV1(deviceId, record, options);
  }
  if (record.v !== 2) reject('unknown_version', `unsupported version ${JSON.stringify(record.v)}`);
  return decodeV2(deviceId, kind, record, options);
}

// JSON.parse yields a non-finite number only from a literal of at least 1.8e308: with an exponent of
// up to two digits that takes 210 integer digits in a row, else an exponent of three or more digits.
// Text with neither needs no walk through the document.
const MAY_OVERFLOW = /[eE][+-]?\d{3}|\d{210}/;

// JSON.parse turns 1e999 into Infinity; such a number is not a measurement anyone sent.
function rejectNonFinite(value: unknown, path: string): void {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) reject('non_finite_number', `${path || 'value'} is not a finite number`);
  } else if (typeof value === 'object' && value !== null) {
    for (const [key, child] of Object.entries(value)) rejectNonFinite(child, path ? `${path}.${key}` : key);
  }
}

/** The sample or message time: its own when given (validated), else the receive time. */
function timeOf(text: unknown, field: string, options: DecodeOptions): bigint {
  if (text === undefined) return msToNs(options.receivedAtMs);
  if (typeof text !== 'string') reject('invalid_schema', `${field}: expected an ISO 8601 string`);
  const ns = parseTimestampNs(text);
  if (ns === undefined || ns < 0n)
    reject('timestamp_invalid', `${field}: ${JSON.stringify(text.slice(0, 64))}`);
  if (ns > msToNs(options.receivedAtMs + options.maxFutureSkewMs)) {
    reject('timestamp_in_future', `${field}: ${text} is ahead of the receive time`);
  }
  return ns;
}

// Metric names seen valid, so the pattern runs once per name rather than once per sample; bounded,
// since any device may send any names.
const validMetricNames = new Set<string>();

function isMetricName(name: string): boolean {
  if (validMetricNames.has(name)) return true;
  if (!METRIC_NAME_PATTERN.test(name)) return false;
  if (validMetricNames.size >= 10_000) validMetricNames.clear();
  validMetricNames.add(name);
  return true;
}

function decodeTelemetryV1(
  deviceId: string,
  record: Record<string, unknown>,
  options: DecodeOptions,
): DecodedMessage {
  if (record.unit !== undefined && (typeof record.unit !== 'string' || record.unit.length > 32)) {
    reject('invalid_schema', 'unit: expected a string of at most 32 characters');
  }
  const timeNs = timeOf(record.timestamp, 'timestamp', options);
  const unit = record.unit as string | undefined;
  const samples: Sample[] = [];
  for (const key of Object.keys(record)) {
    if (V1_RESERVED_KEYS.has(key)) continue;
    const value = record[key];
    if (typeof value !== 'number') reject('invalid_schema', `${key}: expected a number`);
    if (!isMetricName(key)) reject('invalid_schema', `${key}: not a valid metric name`);
    samples.push(unit === undefined ? { metric: key, value, timeNs } : { metric: key, value, unit, timeNs });
  }
  if (samples.length === 0) reject('no_measurements', 'no numeric measurement fields');
  return { kind: 'telemetry', deviceId, version: 1, sentAtNs: timeNs, samples };
}

const MSG_TYPE_OF_KIND: Record<DeviceTopicKind, string> = {
  telemetry: 'telemetry',
  hello: 'hello',
  status: 'status',
  'command/ack': 'command_ack',
};

function decodeV2(
  deviceId: string,
  kind: DeviceTopicKind,
  record: Record<string, unknown>,
  options: DecodeOptions,
): DecodedMessage {
  if (record.msg_type !== undefined && record.msg_type !== MSG_TYPE_OF_KIND[kind]) {
    reject('topic_mismatch', `msg_type ${JSON.stringify(record.msg_type)} on a ${kind} topic`);
  }
  switch (kind) {
    case 'telemetry': {
      const m = isTelemetryV2(record) ? record : parse(telemetryV2Schema, record);
      const sentAtNs = timeOf(m.ts, 'ts', options);
      const samples = m.measurements.map((s, i): Sample => {
        const timeNs = s.ts === undefined ? sentAtNs : timeOf(s.ts, `measurements.${i}.ts`, options);
        return s.unit === undefined
          ? { metric: s.type, value: s.val, timeNs }
          : { metric: s.type, value: s.val, unit: s.unit, timeNs };
      });
      return { kind: 'telemetry', deviceId, version: 2, seq: m.seq, sentAtNs, samples };
    }
    case 'hello': {
      const m = parse(helloV2Schema, record);
      const sentAtNs = timeOf(m.ts, 'ts', options);
      return {
        kind: 'hello',
        deviceId,
        version: 2,
        seq: m.seq,
        sentAtNs,
        fwVersion: m.fw_version,
        uptimeS: m.uptime_s,
      };
    }
    case 'status': {
      const m = parse(statusV2Schema, record);
      const sentAtNs = timeOf(m.ts, 'ts', options);
      const common = { kind: 'status', deviceId, version: 2, sentAtNs, status: m.status } as const;
      return m.seq === undefined ? common : { ...common, seq: m.seq };
    }
    case 'command/ack': {
      const m = parse(commandAckV2Schema, record);
      const sentAtNs = timeOf(m.ts, 'ts', options);
      const common = {
        kind: 'command_ack',
        deviceId,
        version: 2,
        seq: m.seq,
        sentAtNs,
        cmdId: m.cmd_id,
        result: m.result,
      } as const;
      return m.detail === undefined ? common : { ...common, detail: m.detail };
    }
  }
}

// The schema's rules, checked by hand for the message that is nearly all traffic (zod took most of a
// v2 message's CPU); anything this does not accept goes through the schema, which names the error.
function isTelemetryV2(record: Record<string, unknown>): record is TelemetryV2 {
  const { device_id, ts, seq, msg_type, measurements } = record;
  if (
    typeof device_id !== 'string' ||
    device_id.length > 128 ||
    typeof ts !== 'string' ||
    ts.length > 64 ||
    !Number.isInteger(seq) ||
    (seq as number) < 0 ||
    (seq as number) > SEQ_MAX ||
    msg_type !== 'telemetry' ||
    !Array.isArray(measurements) ||
    measurements.length < 1 ||
    measurements.length > MAX_MEASUREMENTS
  ) {
    return false;
  }
  for (const m of measurements as unknown[]) {
    if (typeof m !== 'object' || m === null || Array.isArray(m)) return false;
    const { ts, type, val, unit } = m as Record<string, unknown>;
    if (ts !== undefined && (typeof ts !== 'string' || ts.length > 64)) return false;
    if (typeof type !== 'string' || !isMetricName(type)) return false;
    if (typeof val !== 'number' || !Number.isFinite(val)) return false;
    if (unit !== undefined && (typeof unit !== 'string' || unit.length < 1 || unit.length > 32)) return false;
  }
  return true;
}

function parse<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  reject('invalid_schema', `${issue?.path.join('.') || '(message)'}: ${issue?.message ?? 'invalid'}`);
}
