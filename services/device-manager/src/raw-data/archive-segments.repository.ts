import { type Database, findKeysetPage } from '@iot-meter/common';
import { type Kysely, sql } from 'kysely';

export type SegmentQuery = {
  deviceId: string;
  kind: 'raw' | 'quarantine';
  start?: Date;
  stop?: Date;
  prefix?: string;
};

const COLUMNS = [
  'id',
  'kind',
  'object_key',
  'byte_offset',
  'byte_length',
  'message_count',
  'first_received_at',
  'last_received_at',
] as const;

// Segments whose receive-time span overlaps [start, stop): the index answers without listing the bucket.
function selectSegments(db: Kysely<Database>, q: SegmentQuery) {
  let query = db
    .selectFrom('archive_segments')
    .select(COLUMNS)
    .where('device_id', '=', q.deviceId)
    .where('kind', '=', q.kind);
  if (q.start) query = query.where('last_received_at', '>=', q.start);
  if (q.stop) query = query.where('first_received_at', '<', q.stop);
  if (q.prefix) query = query.where('object_key', 'like', `${q.prefix.replace(/[\\%_]/g, '\\$&')}%`);
  return query;
}

export type Segment = Awaited<ReturnType<ReturnType<typeof selectSegments>['execute']>>[number];

/** One page of a device's archive segments, newest first. */
export async function findSegmentPage(
  db: Kysely<Database>,
  q: SegmentQuery,
  page: { limit: number; cursor?: string },
) {
  return findKeysetPage(
    selectSegments(db, q).select(sql<string>`first_received_at::text`.as('key')),
    {
      columns: [
        { column: 'first_received_at', type: 'timestamptz', value: (row) => row.key },
        { column: 'id', type: 'bigint', value: (row) => row.id },
      ],
      descending: true,
    },
    page,
  );
}

/** A device's segments in receive order, from the segment `afterId` on (for reading messages). */
export async function findSegmentsInOrder(
  db: Kysely<Database>,
  q: SegmentQuery,
  from?: { at: string; id: string },
) {
  let query = selectSegments(db, q).select(sql<string>`first_received_at::text`.as('key'));
  if (from)
    query = query.where(
      sql<boolean>`(first_received_at, id) >= (${from.at}::timestamptz, ${from.id}::bigint)`,
    );
  return query.orderBy('first_received_at').orderBy('id').execute();
}
