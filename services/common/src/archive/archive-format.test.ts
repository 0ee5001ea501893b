import { describe, expect, it } from 'vitest';
import {
  type ArchiveHeader,
  archiveHeaderLine,
  encodeArchiveRecords,
  formatReceivedAt,
  readArchiveRecords,
} from './archive-format.js';

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

  it('writes the header line JSON.stringify would, quarantine fields and odd topics included', () => {
    const odd = { ...header, topic: 'iot/"quoted"\\é/telemetry', packet_id: null, dup: true };
    const quarantined = { ...header, reason: 'invalid_json', detail: 'Unexpected token "x"\nat 3' };
    for (const h of [header, odd, quarantined]) {
      expect(archiveHeaderLine(h, 42)).toBe(`${JSON.stringify({ ...h, bytes: 42 })}\n`);
    }
  });
});

describe('formatReceivedAt', () => {
  it('writes what Date#toISOString does, across seconds and for small milliseconds', () => {
    const base = Date.parse('2026-02-12T16:00:59.000Z');
    for (const ms of [base, base + 7, base + 42, base + 999, base + 1000, base + 1003, 0, 86_399_999]) {
      expect(formatReceivedAt(ms)).toBe(new Date(ms).toISOString());
    }
  });
});
