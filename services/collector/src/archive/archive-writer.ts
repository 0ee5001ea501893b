import { type ArchiveRecord, encodeArchiveRecords, formatReceivedAt } from '@iot-meter/common';
import type { Client } from 'minio';
import type { ArchiveSegment, Batch, Entry } from '../ingest/batch.js';

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
      const raw = batch.entries.filter((e) => e.decoded !== undefined);
      const quarantined = batch.entries.filter((e) => e.rejection !== undefined);
      const objects = [
        layOut('raw', raw, batch, clientId),
        layOut('quarantine', quarantined, batch, clientId),
      ].filter((o) => o !== undefined);
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

function layOut(kind: 'raw' | 'quarantine', entries: Entry[], batch: Batch, clientId: string) {
  if (entries.length === 0) return undefined;
  const hour = new Date(batch.createdAtMs).toISOString().slice(0, 13).replace(/[-T]/g, '/');
  const key = `${kind}/${hour}/${clientId}/${batch.id}.records`;
  const byDevice = new Map<string, Entry[]>();
  for (const entry of entries) {
    const list = byDevice.get(entry.deviceId);
    if (list) list.push(entry);
    else byDevice.set(entry.deviceId, [entry]);
  }
  const records: ArchiveRecord[] = [];
  for (const deviceEntries of byDevice.values()) {
    for (const entry of deviceEntries) records.push(toRecord(entry, clientId));
  }
  const ends: number[] = [];
  const body = encodeArchiveRecords(records, ends);
  const segments: ArchiveSegment[] = [];
  let record = 0;
  for (const [deviceId, deviceEntries] of byDevice) {
    const start = record === 0 ? 0 : (ends[record - 1] ?? 0);
    record += deviceEntries.length;
    const first = deviceEntries[0]?.message.receivedAtMs ?? 0;
    const last = deviceEntries.at(-1)?.message.receivedAtMs ?? first;
    segments.push({
      kind,
      deviceId,
      objectKey: key,
      byteOffset: start,
      byteLength: (ends[record - 1] ?? 0) - start,
      messageCount: deviceEntries.length,
      firstReceivedAtMs: Math.min(first, last),
      lastReceivedAtMs: Math.max(first, last),
    });
  }
  return { key, body, segments };
}

function toRecord({ message, rejection }: Entry, clientId: string): ArchiveRecord {
  return {
    header: {
      topic: message.topic,
      received_at: formatReceivedAt(message.receivedAtMs),
      client_id: clientId,
      packet_id: message.packetId ?? null,
      qos: message.qos,
      dup: message.dup,
      retain: message.retain,
      bytes: message.payload.length,
      ...(rejection ? { reason: rejection.reason, detail: rejection.detail } : {}),
    },
    payload: message.payload,
  };
}
