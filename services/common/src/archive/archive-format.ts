// The raw archive's object format: many messages per object, each kept byte-exact. A record is a
// one-line JSON header followed by exactly `bytes` payload bytes and a newline, so any payload
// (binary, invalid UTF-8, containing newlines) survives and a reader never has to guess.

/** What the archive keeps about one message besides its bytes. */
export type ArchiveHeader = {
  topic: string;
  /** Receive time at the collector, RFC 3339 with milliseconds. */
  received_at: string;
  /** The collector's MQTT client id and the broker's packet id on that connection. */
  client_id: string;
  packet_id: number | null;
  qos: number;
  /** Set by the broker on a redelivery: the same message may also be in an earlier object. */
  dup: boolean;
  retain: boolean;
  bytes: number;
  /** Quarantined messages only: the stable reason code and a short explanation. */
  reason?: string;
  detail?: string;
};

export type ArchiveRecord = { header: ArchiveHeader; payload: Uint8Array };

const NEWLINE = 0x0a;

const NEWLINE_BUFFER = Buffer.from([NEWLINE]);

/** One record as the pieces to write in order (header line, payload, newline), without copying the payload. */
export function encodeArchiveRecord({ header, payload }: ArchiveRecord): Uint8Array[] {
  return [
    Buffer.from(`${JSON.stringify({ ...header, bytes: payload.byteLength })}\n`),
    payload,
    NEWLINE_BUFFER,
  ];
}

/** Serialises records back to back. */
export function encodeArchiveRecords(records: readonly ArchiveRecord[]): Buffer {
  return Buffer.concat(records.flatMap(encodeArchiveRecord));
}

/** Parses records from an object (or a byte range of one that starts at a record). */
export function* readArchiveRecords(data: Uint8Array): Generator<ArchiveRecord> {
  const buffer = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  let offset = 0;
  while (offset < buffer.length) {
    const end = buffer.indexOf(NEWLINE, offset);
    if (end < 0) throw new Error(`archive record header at byte ${offset} has no end`);
    const header = JSON.parse(buffer.toString('utf8', offset, end)) as ArchiveHeader;
    const payloadStart = end + 1;
    const payloadEnd = payloadStart + header.bytes;
    if (payloadEnd >= buffer.length + 1 || buffer[payloadEnd] !== NEWLINE) {
      throw new Error(`archive record at byte ${offset} is truncated`);
    }
    yield { header, payload: buffer.subarray(payloadStart, payloadEnd) };
    offset = payloadEnd + 1;
  }
}
