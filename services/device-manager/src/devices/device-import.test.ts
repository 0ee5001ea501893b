import { describe, expect, it } from 'vitest';
import { readImportFile } from './device-import.js';

describe('device import files', () => {
  it('reads NDJSON lines, skipping blank ones and reporting bad ones by line', () => {
    expect(
      readImportFile('application/x-ndjson', '{"device_id":"a"}\n\nnot json\n[1]\n{"device_id":"b"}\n'),
    ).toEqual([
      { line: 1, fields: { device_id: 'a' } },
      { line: 3, error: 'line is not valid JSON' },
      { line: 4, error: 'line is not a JSON object' },
      { line: 5, fields: { device_id: 'b' } },
    ]);
  });

  it('reads CSV with a header, quoted fields and JSON metadata; empty cells are not given', () => {
    const csv = [
      'device_id,device_name,location,metadata',
      'a,"Sensor, A",,"{""rack"":""r1""}"',
      '',
      'b,B,Hall 2,',
    ].join('\r\n');
    expect(readImportFile('text/csv', `\uFEFF${csv}`)).toEqual([
      { line: 2, fields: { device_id: 'a', device_name: 'Sensor, A', metadata: '{"rack":"r1"}' } },
      { line: 4, fields: { device_id: 'b', device_name: 'B', location: 'Hall 2' } },
    ]);
  });

  it('refuses a CSV file it cannot read as a whole', () => {
    expect(() => readImportFile('text/csv', 'device_id,device_name\n"a,b\n')).toThrow(
      expect.objectContaining({ code: 'invalid_request' }),
    );
  });
});
