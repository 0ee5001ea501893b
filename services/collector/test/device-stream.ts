import type { MqttClient } from 'mqtt';

const BASE_MS = Date.parse('2026-01-01T00:00:00.000Z');

/** The v2 telemetry message with sequence number `seq`: one sample at a time derived from seq. */
export function telemetry(deviceId: string, seq: number): string {
  const ts = new Date(BASE_MS + seq * 1000).toISOString();
  return JSON.stringify({
    v: 2,
    device_id: deviceId,
    ts,
    seq,
    msg_type: 'telemetry',
    measurements: [{ ts, type: 'energy', val: seq, unit: 'Wh' }],
  });
}

/** The original (v1) telemetry message for `seq`: its temperature is seq, its time derived from seq. */
export function v1Telemetry(deviceId: string, seq: number): string {
  return JSON.stringify({
    timestamp: new Date(BASE_MS + seq * 1000).toISOString(),
    device_id: deviceId,
    temperature: seq,
    unit: 'celsius',
  });
}

/** The seq a telemetry message of either format carries (its value), for reading the archive. */
export function seqOf(payload: Uint8Array): number {
  const body = JSON.parse(Buffer.from(payload).toString()) as { seq?: number; temperature?: number };
  return body.seq ?? body.temperature ?? Number.NaN;
}

export type StreamOptions = {
  /** Publishing waits while the gate is closed. */
  gate?: Gate;
  format?: 'v1' | 'v2';
  /** Called with each seq the broker acknowledged, as the PUBACK arrives. */
  onAck?: (seq: number) => void;
  /** Stops publishing early (the messages already sent are still awaited). */
  stop?: () => boolean;
  /**
   * A PUBACK with reason 0x10 "No matching subscribers" (MQTT 5) says nobody will store the
   * message: after a broker restart Mosquitto 2.0 has no shared subscription until the collectors
   * subscribe again. Called with its seq; with `resendUnrouted` the message is sent again until routed.
   */
  onUnrouted?: (seq: number) => void;
  resendUnrouted?: boolean;
};

const NO_MATCHING_SUBSCRIBERS = 0x10;

/**
 * Publishes at QoS 1 and resolves with whether the broker routed the message to a subscriber (MQTT.js
 * treats 0x10 as success and keeps the reason code to itself, so it is read off the PUBACK).
 */
function publishRouted(client: MqttClient, topic: string, payload: string): Promise<boolean> {
  let unrouted = unroutedIds.get(client);
  if (!unrouted) {
    const ids = new Set<number>();
    unrouted = ids;
    unroutedIds.set(client, ids);
    client.on('packetreceive', (packet) => {
      if (packet.cmd === 'puback' && packet.reasonCode === NO_MATCHING_SUBSCRIBERS)
        ids.add(packet.messageId ?? 0);
    });
  }
  const ids = unrouted;
  return client.publishAsync(topic, payload, { qos: 1 }).then((sent) => {
    const id = sent?.messageId ?? 0;
    const routed = !ids.has(id);
    ids.delete(id);
    return routed;
  });
}
const unroutedIds = new WeakMap<MqttClient, Set<number>>();

/**
 * Publishes messages seq 0..count-1 at QoS 1 at about `perSecond`, and resolves with the sequence
 * numbers the broker acknowledged and routed (all of them, unless the publisher gave up).
 */
export async function publishStream(
  client: MqttClient,
  deviceId: string,
  count: number,
  perSecond: number,
  { gate = new Gate(), format = 'v2', onAck, stop, onUnrouted, resendUnrouted = false }: StreamOptions = {},
): Promise<number[]> {
  const message = format === 'v1' ? v1Telemetry : telemetry;
  const acked: number[] = [];
  const pending: Promise<void>[] = [];
  let started = Date.now();
  for (let seq = 0; seq < count && !stop?.(); seq += 1) {
    if (gate.closed) {
      const pausedAt = Date.now();
      await gate.opened();
      started += Date.now() - pausedAt;
    }
    const send = async (): Promise<void> => {
      if (await publishRouted(client, `iot/${deviceId}/telemetry`, message(deviceId, seq))) {
        acked.push(seq);
        onAck?.(seq);
        return;
      }
      onUnrouted?.(seq);
      if (!resendUnrouted) return;
      await new Promise((r) => setTimeout(r, 500));
      await send();
    };
    pending.push(send());
    const wait = started + ((seq + 1) * 1000) / perSecond - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
  await Promise.all(pending);
  return acked.sort((a, b) => a - b);
}

/** Holds a stream's publishing while closed (the stream resumes at its rate when reopened). */
export class Gate {
  closed = false;
  private waiters: (() => void)[] = [];

  close(): void {
    this.closed = true;
  }

  open(): void {
    this.closed = false;
    for (const wake of this.waiters.splice(0)) wake();
  }

  opened(): Promise<void> {
    return this.closed ? new Promise((resolve) => this.waiters.push(resolve)) : Promise.resolve();
  }
}
