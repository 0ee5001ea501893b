import { type DeviceTopicKind, MAX_MEASUREMENTS } from '@iot-meter/common';
import type { Sample } from './device-models.js';

// The JSON a simulated device publishes (architecture §2; the shared schemas in services/common
// accept every one of them).

export type Outgoing = { kind: DeviceTopicKind; payload: string; retain?: boolean };

const iso = (ms: number) => new Date(ms).toISOString();

/** v2 telemetry: each sample's values with the sample's own time. */
export function telemetryV2(
  deviceId: string,
  seq: number,
  nowMs: number,
  samples: readonly Sample[],
): Outgoing {
  const measurements = samples.flatMap((s) => {
    const ts = iso(s.ts);
    return s.measurements.map((m) => ({ ts, type: m.type, val: m.val, ...(m.unit ? { unit: m.unit } : {}) }));
  });
  return {
    kind: 'telemetry',
    payload: JSON.stringify({
      v: 2,
      device_id: deviceId,
      ts: iso(nowMs),
      seq,
      msg_type: 'telemetry',
      measurements,
    }),
  };
}

/** How many samples of `perSample` measurements fit one v2 message. */
export function samplesPerMessage(perSample: number): number {
  return Math.max(1, Math.floor(MAX_MEASUREMENTS / Math.max(1, perSample)));
}

/** v1 telemetry (the original flat object, architecture §8): one sample; `unit` only when all its values share one. */
export function telemetryV1(deviceId: string, sample: Sample): Outgoing {
  const units = new Set(sample.measurements.map((m) => m.unit));
  const [unit] = units;
  return {
    kind: 'telemetry',
    payload: JSON.stringify({
      timestamp: iso(sample.ts),
      device_id: deviceId,
      ...Object.fromEntries(sample.measurements.map((m) => [m.type, m.val])),
      ...(units.size === 1 && unit ? { unit } : {}),
    }),
  };
}

export function hello(
  deviceId: string,
  seq: number,
  nowMs: number,
  facts: { fw_version: string; uptime_s: number; buf_usage_pct: number },
): Outgoing {
  return {
    kind: 'hello',
    payload: JSON.stringify({
      v: 2,
      device_id: deviceId,
      ts: iso(nowMs),
      seq,
      msg_type: 'hello',
      ...facts,
      broker_connections: 1,
    }),
  };
}

/**
 * The retained presence message. Without a time for the Last Will, which is written at connect
 * and sent by the broker whenever the connection is lost; status carries no `seq` (as in the original format),
 * since a retained copy is replayed long after.
 */
export function status(deviceId: string, value: 'online' | 'offline', nowMs?: number): Outgoing {
  return {
    kind: 'status',
    retain: true,
    payload: JSON.stringify({
      v: 2,
      device_id: deviceId,
      status: value,
      ...(nowMs === undefined ? {} : { ts: iso(nowMs) }),
    }),
  };
}

export type AckResult = 'accepted' | 'rejected' | 'error' | 'unsupported' | 'success';

export function commandAck(
  deviceId: string,
  seq: number,
  nowMs: number,
  ack: { cmdId: string; result: AckResult; detail: string },
): Outgoing {
  return {
    kind: 'command/ack',
    payload: JSON.stringify({
      v: 2,
      device_id: deviceId,
      ts: iso(nowMs),
      seq,
      msg_type: 'command_ack',
      cmd_id: ack.cmdId,
      result: ack.result,
      detail: ack.detail,
    }),
  };
}
