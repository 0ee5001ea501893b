import { describe, expect, it } from 'vitest';
import { parseImportFile, readImportFile } from './device-import.js';

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

  it('keeps the first row of each device_id and reports the rest, every refusal in line order', () => {
    const ndjson = [
      '{"device_id":"a","device_name":"A","metadata":"{\\"rack\\":\\"r1\\"}"}',
      '{"device_id":"bad id","device_name":"X"}',
      'not json',
      '{"device_id":"b","device_name":"B","status":"inactive"}',
      '{"device_id":"a","device_name":"A again"}',
      '{"device_id":"c"}',
    ].join('\n');
    expect(parseImportFile('application/x-ndjson', ndjson)).toEqual({
      devices: [
        { device_id: 'a', device_name: 'A', metadata: { rack: 'r1' } },
        { device_id: 'b', device_name: 'B', status: 'inactive' },
      ],
      errors: [
        {
          line: 2,
          error:
            'device_id: must be 1 to 128 characters of A-Z a-z 0-9 _ . : - starting with a letter or digit',
          field: 'device_id',
        },
        { line: 3, error: 'line is not valid JSON' },
        { line: 5, error: 'device_id repeats line 1', field: 'device_id' },
        {
          line: 6,
          error: 'device_name: Invalid input: expected string, received undefined',
          field: 'device_name',
        },
      ],
    });
  });

  it('counts an invalid row as no device, so a later row of its id is applied', () => {
    const csv = 'device_id,device_name\nz,\nz,Zed\n';
    expect(parseImportFile('text/csv', csv)).toEqual({
      devices: [{ device_id: 'z', device_name: 'Zed' }],
      errors: [
        {
          line: 2,
          error: 'device_name: Invalid input: expected string, received undefined',
          field: 'device_name',
        },
      ],
    });
  });
});
