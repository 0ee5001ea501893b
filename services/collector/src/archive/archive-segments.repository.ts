import type { Database } from '@iot-meter/common';
import type { Kysely } from 'kysely';
import type { ArchiveSegment } from '../ingest/batch.js';

// 9 parameters a row; PostgreSQL allows 65,535 per statement.
const ROWS_PER_INSERT = 5000;

/** Records where the batch's messages went; a retried batch writes the same rows once. */
export async function insertArchiveSegments(db: Kysely<Database>, segments: readonly ArchiveSegment[]) {
  for (let i = 0; i < segments.length; i += ROWS_PER_INSERT) {
    await db
      .insertInto('archive_segments')
      .values(
        segments.slice(i, i + ROWS_PER_INSERT).map((s) => ({
          kind: s.kind,
          device_id: s.deviceId,
          object_key: s.objectKey,
          byte_offset: s.byteOffset,
          byte_length: s.byteLength,
          message_count: s.messageCount,
          first_received_at: new Date(s.firstReceivedAtMs),
          last_received_at: new Date(s.lastReceivedAtMs),
        })),
      )
      .onConflict((oc) => oc.columns(['object_key', 'device_id']).doNothing())
      .execute();
  }
}
