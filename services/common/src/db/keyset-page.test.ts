import { DummyDriver, Kysely, PostgresAdapter, PostgresIntrospector, PostgresQueryCompiler } from 'kysely';
import { describe, expect, it } from 'vitest';
import { AppError } from '../errors/app-error.js';
import {
  type CursorValueType,
  decodeCursor,
  encodeCursor,
  INVALID_CURSOR,
  type Keyset,
  selectKeysetPage,
  toPage,
} from './keyset-page.js';

type Row = { id: number; device_id: string; created_at_key: string };

// Compiles without a connection: the queries' text and parameters are what this module decides.
const db = new Kysely<{ events: Row }>({
  dialect: {
    createAdapter: () => new PostgresAdapter(),
    createDriver: () => new DummyDriver(),
    createIntrospector: (k) => new PostgresIntrospector(k),
    createQueryCompiler: () => new PostgresQueryCompiler(),
  },
});
const events = () => db.selectFrom('events').selectAll();

const newestFirst: Keyset<Row> = {
  columns: [
    { column: 'created_at', type: 'timestamptz', value: (r) => r.created_at_key },
    { column: 'id', type: 'int', value: (r) => r.id },
  ],
  descending: true,
};

function expectInvalid(cursor: string, types: CursorValueType[]) {
  let thrown: unknown;
  try {
    decodeCursor(cursor, types);
  } catch (err) {
    thrown = err;
  }
  expect(thrown).toBeInstanceOf(AppError);
  expect(thrown).toMatchObject({
    code: 'invalid_cursor',
    message: 'cursor: not a cursor this list returned',
  });
}

describe('keyset cursors', () => {
  it('round-trips a key through an opaque base64url cursor', () => {
    const cursor = encodeCursor(['2024-05-01 10:00:00.123456+00', 42]);
    expect(cursor).toBe('WyIyMDI0LTA1LTAxIDEwOjAwOjAwLjEyMzQ1NiswMCIsNDJd');
    expect(decodeCursor(cursor, ['timestamptz', 'int'])).toEqual(['2024-05-01 10:00:00.123456+00', 42]);
    expect(decodeCursor(encodeCursor(['9007199254740993', 'a']), ['bigint', 'text'])).toEqual([
      '9007199254740993',
      'a',
    ]);
  });

  it('refuses what no list returned with the shared error type', () => {
    expect(INVALID_CURSOR).toBe('invalid_cursor');
    expectInvalid('abc', ['text', 'text']); // not JSON
    expectInvalid(encodeCursor(['x']), ['text', 'text']); // wrong length
    expectInvalid(Buffer.from('{"a":1}').toString('base64url'), ['text']); // not an array
    expectInvalid(Buffer.from('[true]').toString('base64url'), ['text']); // not a string or number
  });

  it('refuses values the database would not cast, so a forged cursor is never a database error', () => {
    expectInvalid(encodeCursor(['1', 1]), ['timestamptz', 'int']); // Date.parse takes '1' as 2001
    expectInvalid(encodeCursor(['2024-13-01 10:00:00+00', 1]), ['timestamptz', 'int']);
    expectInvalid(encodeCursor(['2024-05-01 10:00:00+00', 2 ** 31]), ['timestamptz', 'int']);
    expectInvalid(encodeCursor(['2024-05-01 10:00:00+00', 1.5]), ['timestamptz', 'int']);
    expectInvalid(encodeCursor(['2024-05-01 10:00:00+00', '1; drop']), ['timestamptz', 'bigint']);
    expectInvalid(encodeCursor([1]), ['text']);
  });

  it('splits limit + 1 rows into a page and the cursor of its last row', () => {
    const rows = [{ k: 'a' }, { k: 'b' }, { k: 'c' }];
    expect(toPage(rows, 2, (r) => [r.k])).toEqual({
      items: [{ k: 'a' }, { k: 'b' }],
      next: encodeCursor(['b']),
    });
    expect(toPage(rows, 3, (r) => [r.k])).toEqual({ items: rows, next: undefined });
    expect(toPage([], 3, (r: { k: string }) => [r.k])).toEqual({ items: [], next: undefined });
  });
});

describe('selectKeysetPage', () => {
  it('orders by the keyset and fetches one row more than the page', () => {
    const q = selectKeysetPage(events(), newestFirst, { limit: 10 }).compile();
    expect(q.sql).toBe('select * from "events" order by "created_at" desc, "id" desc limit $1');
    expect(q.parameters).toEqual([11]);
  });

  it('keeps the rows after the cursor, casting its values to the columns’ types', () => {
    const cursor = encodeCursor(['2024-05-01 10:00:00.123456+00', 42]);
    const q = selectKeysetPage(events().where('device_id', '=', 'd-1'), newestFirst, {
      limit: 2,
      cursor,
    }).compile();
    expect(q.sql).toBe(
      'select * from "events" where "device_id" = $1 and ("created_at", "id") < ($2::timestamptz, $3::int) order by "created_at" desc, "id" desc limit $4',
    );
    expect(q.parameters).toEqual(['d-1', '2024-05-01 10:00:00.123456+00', 42, 3]);
  });

  it('pages ascending with a single qualified column', () => {
    const byDeviceId: Keyset<Row> = {
      columns: [{ column: 'e.device_id', type: 'text', value: (r) => r.device_id }],
      descending: false,
    };
    const q = selectKeysetPage(db.selectFrom('events as e').selectAll('e'), byDeviceId, {
      limit: 5,
      cursor: encodeCursor(['d-9']),
    }).compile();
    expect(q.sql).toBe(
      'select "e".* from "events" as "e" where ("e"."device_id") > ($1::text) order by "e"."device_id" asc limit $2',
    );
    expect(q.parameters).toEqual(['d-9', 6]);
  });

  it('throws on a cursor of another keyset’s length before building the query', () => {
    expect(() =>
      selectKeysetPage(events(), newestFirst, { limit: 1, cursor: encodeCursor(['d-9']) }),
    ).toThrow(new AppError(INVALID_CURSOR, 'cursor: not a cursor this list returned'));
  });
});
