import { describe, expect, it } from 'vitest';
import { type ArchiveHeader, encodeArchiveRecords, readArchiveRecords } from './archive-format.js';

const header: ArchiveHeader = {
  topic: 'iot/d1/telemetry',
  received_at: '2026-02-12T16:00:00.000Z',
  client_id: 'collector-0',
  packet_id: 7,
  qos: 1,
  dup: false,
  retain: false,
  bytes: 0,
};

describe('archive records', () => {
  it('round-trip any bytes exactly, newlines and invalid UTF-8 included', () => {
    const payloads = [
      Buffer.from('{"temperature":23.5}'),
      Buffer.from([0xff, 0x0a, 0x00, 0x0a]),
      Buffer.alloc(0),
      Buffer.from('line one\nline two\n'),
    ];
    const encoded = encodeArchiveRecords(payloads.map((payload) => ({ header, payload })));
    const decoded = [...readArchiveRecords(encoded)];
    expect(decoded.map((r) => Buffer.from(r.payload))).toEqual(payloads);
    expect(decoded.map((r) => r.header.bytes)).toEqual([20, 4, 0, 18]);
    expect(decoded[0]?.header).toEqual({ ...header, bytes: 20 });
  });

  it('refuses a truncated object instead of returning partial bytes', () => {
    const encoded = encodeArchiveRecords([{ header, payload: Buffer.from('abcdef') }]);
    expect(() => [...readArchiveRecords(encoded.subarray(0, encoded.length - 3))]).toThrow(
      'archive record at byte 0 is truncated',
    );
  });
});
