import { type Database, findKeysetPage, type Keyset, selectFromKey } from '@iot-meter/common';
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

type KeyedSegment = Segment & { key: string };

// Receive order: first receive time, ties broken by id; `key` is the time as PostgreSQL's text.
const receiveOrder = (descending: boolean): Keyset<KeyedSegment> => ({
  columns: [
    { column: 'first_received_at', type: 'timestamptz', value: (row) => row.key },
    { column: 'id', type: 'bigint', value: (row) => row.id },
  ],
  descending,
});

const selectKeyedSegments = (db: Kysely<Database>, q: SegmentQuery) =>
  selectSegments(db, q).select(sql<string>`first_received_at::text`.as('key'));

/** One page of a device's archive segments, newest first. */
export async function findSegmentPage(
  db: Kysely<Database>,
  q: SegmentQuery,
  page: { limit: number; cursor?: string },
) {
  return findKeysetPage(selectKeyedSegments(db, q), receiveOrder(true), page);
}

/** A device's segments in receive order, from the segment `from` names on (for reading messages). */
export async function findSegmentsInOrder(
  db: Kysely<Database>,
  q: SegmentQuery,
  from?: { at: string; id: string },
) {
  return selectFromKey(selectKeyedSegments(db, q), receiveOrder(false), from && [from.at, from.id]).execute();
}
