import type { DecodedMessage } from '@iot-meter/common/protocol';
import type { Batch } from '../ingest/batch.js';
import type { InboundMessage } from '../mqtt/session-consumer.js';

/** What one batch says about each device, folded in receive order. */
export type DeviceActivity = {
  deviceId: string;
  lastSeenMs: number;
  /** The newest status in the batch: a status message, or "online" implied by any other message. */
  status?: { connectionStatus: 'online' | 'offline'; atMs: number };
  hello?: { fwVersion: string; uptimeS: number };
  seqs: number[];
};

export type CommandAck = {
  deviceId: string;
  cmdId: string;
  result: string;
  detail: string | null;
  receivedAtMs: number;
};

/**
 * Folds one decoded message into its batch's activity (by device, in receive order) and command
 * acks. A message InfluxDB later refuses (quarantined) still counts: the device was heard.
 */
export function foldActivity(
  devices: Map<string, DeviceActivity>,
  acks: CommandAck[],
  decoded: DecodedMessage,
  message: Pick<InboundMessage, 'receivedAtMs' | 'retain'>,
): void {
  let activity = devices.get(decoded.deviceId);
  if (!activity) {
    activity = { deviceId: decoded.deviceId, lastSeenMs: message.receivedAtMs, seqs: [] };
    devices.set(decoded.deviceId, activity);
  }
  activity.lastSeenMs = Math.max(activity.lastSeenMs, message.receivedAtMs);
  if (decoded.seq !== undefined) activity.seqs.push(decoded.seq);
  // A retained status is a replay of the broker's last copy: it counts at the time it was sent.
  const atMs = message.retain ? Number(decoded.sentAtNs / 1_000_000n) : message.receivedAtMs;
  const connectionStatus = decoded.kind === 'status' ? decoded.status : 'online';
  if (!activity.status || atMs >= activity.status.atMs) activity.status = { connectionStatus, atMs };
  if (decoded.kind === 'hello') activity.hello = { fwVersion: decoded.fwVersion, uptimeS: decoded.uptimeS };
  if (decoded.kind === 'command_ack') {
    acks.push({
      deviceId: decoded.deviceId,
      cmdId: decoded.cmdId,
      result: decoded.result,
      detail: decoded.detail ?? null,
      receivedAtMs: message.receivedAtMs,
    });
  }
}

/** A batch's devices in id order, and its command acks. */
export function summariseActivity(batch: Batch): { devices: DeviceActivity[]; acks: CommandAck[] } {
  const devices = [...batch.activity.values()].sort((a, b) => a.deviceId.localeCompare(b.deviceId));
  return { devices, acks: batch.acks };
}
