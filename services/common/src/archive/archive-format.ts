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

/**
 * The header's JSON line, newline included, with `bytes` set to the payload's length: the text
 * JSON.stringify writes for it, built directly (the collector writes one per message).
 */
export function archiveHeaderLine(header: ArchiveHeader, bytes: number): string {
  const quarantine =
    header.reason === undefined
      ? ''
      : `,"reason":${JSON.stringify(header.reason)}${header.detail === undefined ? '' : `,"detail":${JSON.stringify(header.detail)}`}`;
  return `{"topic":${JSON.stringify(header.topic)},"received_at":${JSON.stringify(header.received_at)},"client_id":${JSON.stringify(header.client_id)},"packet_id":${header.packet_id},"qos":${header.qos},"dup":${header.dup},"retain":${header.retain},"bytes":${bytes}${quarantine}}\n`;
}

/** Serialises records back to back into one buffer, each payload copied once. */
export function encodeArchiveRecords(records: readonly ArchiveRecord[]): Buffer {
  const lines = records.map(({ header, payload }) => archiveHeaderLine(header, payload.byteLength));
  let size = 0;
  for (let i = 0; i < records.length; i += 1) {
    size += Buffer.byteLength(lines[i] ?? '') + (records[i]?.payload.byteLength ?? 0) + 1;
  }
  const out = Buffer.allocUnsafe(size);
  let offset = 0;
  records.forEach(({ payload }, i) => {
    offset += out.write(lines[i] ?? '', offset);
    out.set(payload, offset);
    offset += payload.byteLength;
    out[offset] = NEWLINE;
    offset += 1;
  });
  return out;
}

/** RFC 3339 in UTC with milliseconds, as `Date#toISOString` writes it; the second is formatted once. */
export function formatReceivedAt(ms: number): string {
  const second = Math.floor(ms / 1000);
  if (second !== formattedSecond) {
    formattedSecond = second;
    secondPrefix = new Date(second * 1000).toISOString().slice(0, 20);
  }
  const millis = ms - second * 1000;
  return `${secondPrefix}${millis < 10 ? '00' : millis < 100 ? '0' : ''}${millis}Z`;
}

let formattedSecond = Number.NaN;
let secondPrefix = '';

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
