import { type ArchiveHeader, readArchiveRecords } from '@iot-meter/common';
import type { Client } from 'minio';
import { tracedCall } from '../observability/traced-call.js';
import type { Segment } from './archive-segments.repository.js';

/** A raw message as the API shows it: its archive header and its payload, text or base64. */
export type RawMessage = Omit<ArchiveHeader, 'bytes'> & {
  bytes: number;
  /** The payload as text when it is valid UTF-8… */
  payload?: string;
  /** …otherwise its exact bytes in base64. */
  payload_base64?: string;
};

const utf8 = new TextDecoder('utf-8', { fatal: true });

function toRawMessage(header: ArchiveHeader, payload: Uint8Array): RawMessage {
  try {
    return { ...header, payload: utf8.decode(payload) };
  } catch {
    return { ...header, payload_base64: Buffer.from(payload).toString('base64') };
  }
}

/** Reads one segment's byte range (only this device's records) and yields its messages in [start, stop). */
export async function* readSegment(
  store: Client,
  bucket: string,
  segment: Segment,
  range: { start?: Date; stop?: Date },
): AsyncGenerator<RawMessage> {
  const bytes = await tracedCall(
    's3 get range',
    { 'aws.s3.bucket': bucket, 'aws.s3.key': segment.object_key },
    async () => {
      const stream = await store.getPartialObject(
        bucket,
        segment.object_key,
        Number(segment.byte_offset),
        Number(segment.byte_length),
      );
      const chunks: Buffer[] = [];
      for await (const chunk of stream) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks);
    },
  );
  for (const { header, payload } of readArchiveRecords(bytes)) {
    const at = Date.parse(header.received_at);
    if ((range.start && at < range.start.getTime()) || (range.stop && at >= range.stop.getTime())) continue;
    yield toRawMessage(header, payload);
  }
}
