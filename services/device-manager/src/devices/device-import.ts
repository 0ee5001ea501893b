import { parse } from 'csv-parse/sync';
import { ApiError } from '../http/api-errors.js';

/** One row of an import file, as written (validation comes after), with its line number. */
export type ImportRow = { line: number; fields: Record<string, unknown> };

export const IMPORT_TYPES = ['application/x-ndjson', 'text/csv'] as const;

/**
 * Reads an NDJSON file (one device object per line) or a CSV file with a header row (the device
 * fields as columns; `metadata` as JSON text). Empty CSV cells mean "not given". A file that cannot
 * be read at all is one 400; a bad row is that row's error only.
 */
export function readImportFile(
  type: (typeof IMPORT_TYPES)[number],
  text: string,
): (ImportRow | ImportError)[] {
  return type === 'text/csv' ? readCsv(text) : readNdjson(text);
}

export type ImportError = { line: number; error: string; field?: string };

function readNdjson(text: string): (ImportRow | ImportError)[] {
  const rows: (ImportRow | ImportError)[] = [];
  text.split('\n').forEach((raw, index) => {
    const line = index + 1;
    if (raw.trim() === '') return;
    try {
      const value: unknown = JSON.parse(raw);
      if (value === null || typeof value !== 'object' || Array.isArray(value)) {
        rows.push({ line, error: 'line is not a JSON object' });
      } else {
        rows.push({ line, fields: value as Record<string, unknown> });
      }
    } catch {
      rows.push({ line, error: 'line is not valid JSON' });
    }
  });
  return rows;
}

function readCsv(text: string): ImportRow[] {
  let records: { record: Record<string, string>; info: { lines: number } }[];
  try {
    records = parse(text, { columns: true, skip_empty_lines: true, trim: true, info: true, bom: true });
  } catch (err) {
    throw new ApiError('invalid_request', `CSV: ${err instanceof Error ? err.message : 'unreadable'}`);
  }
  return records.map(({ record, info }) => ({
    line: info.lines,
    fields: Object.fromEntries(Object.entries(record).filter(([, value]) => value !== '')),
  }));
}
