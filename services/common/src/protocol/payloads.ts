import { z } from 'zod';

// The device payloads of architecture §2: v1 (the original flat object, §8) and the v2 envelope. The
// collector validates with these schemas and the simulator builds its messages from the same types.

/** A metric name: also an InfluxDB tag value, so kept to a safe alphabet. */
export const METRIC_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_.:-]{0,63}$/;
/** `seq` is a per-device uint32 counter across all message types; it wraps to 0 after 2^32−1. */
export const SEQ_MAX = 2 ** 32 - 1;
/** The v2 spec's cap on samples per telemetry message. */
export const MAX_MEASUREMENTS = 200;

const timestamp = z.string().max(64);
const deviceId = z.string().max(128);
const seq = z.number().int().min(0).max(SEQ_MAX);
const unit = z.string().min(1).max(32);

export const measurementSchema = z.object({
  ts: timestamp.optional(),
  type: z.string().regex(METRIC_NAME_PATTERN, 'must be a metric name'),
  val: z.number(),
  unit: unit.optional(),
});

const envelope = {
  v: z.literal(2),
  device_id: deviceId,
  ts: timestamp,
  seq,
};

export const telemetryV2Schema = z.object({
  ...envelope,
  msg_type: z.literal('telemetry'),
  measurements: z.array(measurementSchema).min(1).max(MAX_MEASUREMENTS),
});

export const helloV2Schema = z.object({
  ...envelope,
  msg_type: z.literal('hello'),
  fw_version: z.string().min(1).max(64),
  uptime_s: z.number().int().min(0),
  broker_connections: z.number().int().min(0).optional(),
  buf_usage_pct: z.number().min(0).max(100).optional(),
  temp_internal: z.number().optional(),
});

// The original devices send status without seq or msg_type (architecture §8); both are accepted when present.
export const statusV2Schema = z.object({
  v: z.literal(2),
  device_id: deviceId,
  ts: timestamp.optional(),
  seq: seq.optional(),
  msg_type: z.literal('status').optional(),
  status: z.enum(['online', 'offline']),
});

export const COMMAND_ACK_RESULTS = ['accepted', 'rejected', 'error', 'unsupported', 'success'] as const;

export const commandAckV2Schema = z.object({
  ...envelope,
  msg_type: z.literal('command_ack'),
  cmd_id: z.string().min(1).max(64),
  result: z.enum(COMMAND_ACK_RESULTS),
  detail: z.string().max(1024).optional(),
});

export type MeasurementV2 = z.infer<typeof measurementSchema>;
export type TelemetryV2 = z.infer<typeof telemetryV2Schema>;
export type HelloV2 = z.infer<typeof helloV2Schema>;
export type StatusV2 = z.infer<typeof statusV2Schema>;
export type CommandAckV2 = z.infer<typeof commandAckV2Schema>;

/** v1 keys that are not measurements. */
export const V1_RESERVED_KEYS = new Set(['timestamp', 'device_id', 'unit', 'v', 'seq', 'msg_type', 'ts']);

/** A v1 telemetry message: `timestamp`, `device_id`, `unit` and numeric measurements by key. */
export type TelemetryV1 = {
  timestamp?: string;
  device_id?: string;
  unit?: string;
  [measurement: string]: string | number | undefined;
};
