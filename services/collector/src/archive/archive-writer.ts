import { archiveHeaderLine, formatReceivedAt } from '@iot-meter/common';
import type { Client } from 'minio';
import type { ArchiveSegment, Batch } from '../ingest/batch.js';
import { ByteArena } from '../ingest/byte-arena.js';

export type ArchiveWriter = {
  /** Writes the batch's accepted messages under raw/ and its rejected ones under quarantine/. */
  write(batch: Batch): Promise<ArchiveSegment[]>;
};

/**
 * One object per batch and kind, with each device's records contiguous, so that the index can
 * point at one device's byte range. Keys carry the receive hour and the collector's client id.
 */
export function createArchiveWriter(store: Client, bucket: string, clientId: string): ArchiveWriter {
  return {
    async write(batch) {
      const objects = [layOut('raw', batch, clientId), layOut('quarantine', batch, clientId)].filter(
        (o) => o !== undefined,
      );
      await Promise.all(
        objects.map((o) =>
          store.putObject(bucket, o.key, o.body, o.body.length, {
            'content-type': 'application/octet-stream',
          }),
        ),
      );
      return objects.flatMap((o) => o.segments);
    },
  };
}

const NEWLINE = 0x0a;

function layOut(kind: 'raw' | 'quarantine', batch: Batch, clientId: string) {
  const quarantine = kind === 'quarantine';
  // The messages of this kind, by device in the order devices first appear.
  const byDevice = new Map<string, number[]>();
  let payloadBytes = 0;
  for (let i = 0; i < batch.size; i += 1) {
    if (batch.rejections.has(i) !== quarantine) continue;
    const deviceId = batch.deviceOf(i);
    const list = byDevice.get(deviceId);
    if (list) list.push(i);
    else byDevice.set(deviceId, [i]);
    payloadBytes += batch.payloadOf(i).byteLength;
  }
  if (byDevice.size === 0) return undefined;
  const hour = new Date(batch.createdAtMs).toISOString().slice(0, 13).replace(/[-T]/g, '/');
  const key = `${kind}/${hour}/${clientId}/${batch.id}.records`;
  // Room for the payloads and typical headers up front, so the body is rarely copied as it grows.
  const body = new ByteArena(payloadBytes + 256 * batch.size);
  const segments: ArchiveSegment[] = [];
  for (const [deviceId, indices] of byDevice) {
    const start = body.length;
    for (const i of indices) {
      const payload = batch.payloadOf(i);
      const rejection = batch.rejections.get(i);
      body.appendString(
        archiveHeaderLine(
          {
            topic: batch.topicOf(i),
            received_at: formatReceivedAt(batch.receivedAtOf(i)),
            client_id: clientId,
            packet_id: batch.packetIdOf(i),
            qos: batch.qosOf(i),
            dup: batch.dupOf(i),
            retain: batch.retainOf(i),
            bytes: payload.byteLength,
            ...(rejection ? { reason: rejection.reason, detail: rejection.detail } : {}),
          },
          payload.byteLength,
        ),
      );
      body.append(payload);
      body.appendByte(NEWLINE);
    }
    const first = batch.receivedAtOf(indices[0] ?? 0);
    const last = batch.receivedAtOf(indices.at(-1) ?? 0);
    segments.push({
      kind,
      deviceId,
      objectKey: key,
      byteOffset: start,
      byteLength: body.length - start,
      messageCount: indices.length,
      firstReceivedAtMs: Math.min(first, last),
      lastReceivedAtMs: Math.max(first, last),
    });
  }
  return { key, body: body.view(0, body.length), segments };
}
