import type { ColumnType, Generated } from 'kysely';

// The tables the services share, as kysely sees them. Only migrations change the schema.

type Timestamp = ColumnType<Date, Date | string, Date | string>;
// pg returns bigint columns as strings; offsets and lengths stay far below 2^53.
type BigIntColumn = ColumnType<string, number | bigint | string, number | bigint | string>;

export type ArchiveSegmentsTable = {
  id: Generated<BigIntColumn>;
  kind: 'raw' | 'quarantine';
  device_id: string;
  object_key: string;
  byte_offset: BigIntColumn;
  byte_length: BigIntColumn;
  message_count: number;
  first_received_at: Timestamp;
  last_received_at: Timestamp;
  created_at: Generated<Timestamp>;
};

export type Database = {
  archive_segments: ArchiveSegmentsTable;
};
