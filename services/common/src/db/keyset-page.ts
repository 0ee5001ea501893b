import { type SelectQueryBuilder, sql } from 'kysely';
import { AppError } from '../errors/app-error.js';

// Lists page by keyset: the cursor is the last row's sort key, opaque to clients (base64url JSON).

/** The `AppError` code of a cursor that no list returned. */
export const INVALID_CURSOR = 'invalid_cursor';

export type CursorKey = (string | number)[];

/** The PostgreSQL type a cursor value is cast to. */
export type CursorValueType = 'timestamptz' | 'int' | 'bigint' | 'text';

// A value the cast would refuse is a cursor no list returned (400), never a database error (500).
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d{1,6})?([+-]\d{2}(:?\d{2})?|Z)?$/;
const FITS: Record<CursorValueType, (value: string | number) => boolean> = {
  timestamptz: (v) => typeof v === 'string' && TIMESTAMP.test(v) && Number.isFinite(Date.parse(v)),
  int: (v) => Number.isSafeInteger(v) && Math.abs(v as number) <= 2 ** 31 - 1,
  bigint: (v) => (typeof v === 'string' ? /^-?\d{1,18}$/.test(v) : Number.isSafeInteger(v)),
  text: (v) => typeof v === 'string',
};

/** A page of rows and the cursor of the next page (undefined on the last one). */
export type Page<T> = { items: T[]; next: string | undefined };

/** One sort column of a keyset: its SQL reference, the type a cursor value is cast to, its value in a row. */
export type KeysetColumn<Row> = {
  column: string;
  type: CursorValueType;
  /** Timestamps as PostgreSQL's text (`created_at::text`): a JavaScript Date drops the microseconds. */
  value: (row: Row) => string | number;
};

/** The sort of a keyset-paged list: its columns, most significant first, all in one direction. */
export type Keyset<Row> = { columns: readonly KeysetColumn<Row>[]; descending: boolean };

/**
 * The creation order of rows with a `created_at` and an integer `id` (ties broken by id), read as
 * `created_at::text` into `created_at_key`; `table` qualifies the columns in a join.
 */
export function creationOrder<Row extends { created_at_key: string; id: number }>(
  descending: boolean,
  table?: string,
): Keyset<Row> {
  const column = (name: string) => (table ? `${table}.${name}` : name);
  return {
    columns: [
      { column: column('created_at'), type: 'timestamptz', value: (row) => row.created_at_key },
      { column: column('id'), type: 'int', value: (row) => row.id },
    ],
    descending,
  };
}

/** Encodes a row's sort key as an opaque cursor. */
export function encodeCursor(key: readonly (string | number)[]): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

/** Decodes a cursor of values of `types`; a cursor no list returned throws `AppError(INVALID_CURSOR)`. */
export function decodeCursor(cursor: string, types: readonly CursorValueType[]): CursorKey {
  try {
    const key: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (
      Array.isArray(key) &&
      key.length === types.length &&
      key.every((v, i) => (typeof v === 'string' || typeof v === 'number') && FITS[types[i] ?? 'text'](v))
    ) {
      return key;
    }
  } catch {}
  throw new AppError(INVALID_CURSOR, 'cursor: not a cursor this list returned');
}

/** Splits the `limit + 1` rows a keyset query fetched into the page and the next page's cursor. */
export function toPage<T>(rows: T[], limit: number, keyOf: (row: T) => CursorKey): Page<T> {
  const items = rows.slice(0, limit);
  const last = items.at(-1);
  return { items, next: rows.length > limit && last !== undefined ? encodeCursor(keyOf(last)) : undefined };
}

// Rows on the far side of `key` in the keyset's order (`strict`: the key's own row excluded).
function fromKey<DB, TB extends keyof DB, Row>(
  query: SelectQueryBuilder<DB, TB, Row>,
  keyset: Keyset<Row>,
  key: CursorKey,
  strict: boolean,
): SelectQueryBuilder<DB, TB, Row> {
  const { columns, descending } = keyset;
  const refs = sql.join(columns.map((c) => sql.ref(c.column)));
  const values = sql.join(columns.map((c, i) => sql`${key[i]}::${sql.raw(c.type)}`));
  const op = (descending ? '<' : '>') + (strict ? '' : '=');
  return query.where(sql<boolean>`(${refs}) ${sql.raw(op)} (${values})`);
}

function orderBy<DB, TB extends keyof DB, Row>(
  query: SelectQueryBuilder<DB, TB, Row>,
  { columns, descending }: Keyset<Row>,
): SelectQueryBuilder<DB, TB, Row> {
  let ordered = query;
  for (const c of columns) ordered = ordered.orderBy(sql.ref(c.column), descending ? 'desc' : 'asc');
  return ordered;
}

/** Orders `query` by the keyset, keeps the rows after the cursor's, and fetches one more than a page. */
export function selectKeysetPage<DB, TB extends keyof DB, Row>(
  query: SelectQueryBuilder<DB, TB, Row>,
  keyset: Keyset<Row>,
  page: { limit: number; cursor?: string | undefined },
): SelectQueryBuilder<DB, TB, Row> {
  const after = page.cursor
    ? fromKey(
        query,
        keyset,
        decodeCursor(
          page.cursor,
          keyset.columns.map((c) => c.type),
        ),
        true,
      )
    : query;
  return orderBy(after, keyset).limit(page.limit + 1);
}

/**
 * Orders `query` by the keyset and keeps the rows from `key` on, its own row included: for a reader
 * that resumes part-way through the row its cursor names (a decoded key, checked by `decodeCursor`).
 */
export function selectFromKey<DB, TB extends keyof DB, Row>(
  query: SelectQueryBuilder<DB, TB, Row>,
  keyset: Keyset<Row>,
  key?: CursorKey,
): SelectQueryBuilder<DB, TB, Row> {
  return orderBy(key ? fromKey(query, keyset, key, false) : query, keyset);
}

/** Runs `query` for one page of the keyset: the rows after `page.cursor`, and the next page's cursor. */
export async function findKeysetPage<DB, TB extends keyof DB, Row>(
  query: SelectQueryBuilder<DB, TB, Row>,
  keyset: Keyset<Row>,
  page: { limit: number; cursor?: string | undefined },
): Promise<Page<Row>> {
  const rows = await selectKeysetPage(query, keyset, page).execute();
  return toPage(rows, page.limit, (row) => keyset.columns.map((c) => c.value(row)));
}
