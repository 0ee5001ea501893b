import type { Database } from '@iot-meter/common';
import { type Kysely, sql } from 'kysely';
import type { Role } from './principal.js';

const PUBLIC_COLUMNS = [
  'id',
  'name',
  'role',
  'key_prefix',
  'created_by',
  'created_at',
  'last_used_at',
  'revoked_at',
] as const;

export async function insertApiKey(
  db: Kysely<Database>,
  key: { name: string; role: Role; prefix: string; hash: string; createdBy: string },
) {
  return db
    .insertInto('api_keys')
    .values({
      name: key.name,
      role: key.role,
      key_prefix: key.prefix,
      key_hash: key.hash,
      created_by: key.createdBy,
    })
    .returning(PUBLIC_COLUMNS)
    .executeTakeFirstOrThrow();
}

export async function findApiKeys(db: Kysely<Database>, options: { includeRevoked: boolean }) {
  let query = db.selectFrom('api_keys').select(PUBLIC_COLUMNS).orderBy('id');
  if (!options.includeRevoked) query = query.where('revoked_at', 'is', null);
  return query.execute();
}

/** The live key with this prefix, with its hash, for authentication. */
export async function findActiveApiKeyByPrefix(db: Kysely<Database>, prefix: string) {
  return db
    .selectFrom('api_keys')
    .select(['id', 'name', 'role', 'key_hash'])
    .where('key_prefix', '=', prefix)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
}

/** Revokes a key; undefined when there is no such key. Revoking twice keeps the first time. */
export async function revokeApiKey(db: Kysely<Database>, id: number) {
  return db
    .updateTable('api_keys')
    .set({ revoked_at: sql<Date>`coalesce(revoked_at, now())` })
    .where('id', '=', id)
    .returning(PUBLIC_COLUMNS)
    .executeTakeFirst();
}

export async function touchApiKey(db: Kysely<Database>, id: number): Promise<void> {
  await db.updateTable('api_keys').set({ last_used_at: new Date() }).where('id', '=', id).execute();
}
