import { parse } from 'csv-parse/sync';
import { ApiError } from '../http/api-errors.js';
import { describeIssue } from '../http/describe-issue.js';
import type { ImportedDevice } from './devices.repository.js';
import { importDeviceRow } from './devices.schema.js';

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

/**
 * Reads and validates an import file: the devices to apply, one per `device_id`, and every row
 * refused (unreadable, invalid, or repeating an earlier row's `device_id`), in line order.
 */
export function parseImportFile(
  type: (typeof IMPORT_TYPES)[number],
  text: string,
): { devices: ImportedDevice[]; errors: ImportError[] } {
  const errors: ImportError[] = [];
  const lineById = new Map<string, number>();
  const devices: ImportedDevice[] = [];
  for (const row of readImportFile(type, text)) {
    if (!('fields' in row)) {
      errors.push(row);
      continue;
    }
    const parsed = importDeviceRow.safeParse(row.fields);
    if (!parsed.success) {
      const { field, message } = describeIssue(parsed.error);
      errors.push({ line: row.line, error: message, field });
      continue;
    }
    const earlier = lineById.get(parsed.data.device_id);
    if (earlier !== undefined) {
      errors.push({ line: row.line, error: `device_id repeats line ${earlier}`, field: 'device_id' });
      continue;
    }
    lineById.set(parsed.data.device_id, row.line);
    devices.push(parsed.data);
  }
  return { devices, errors: errors.sort((a, b) => a.line - b.line) };
}

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
