import type { Database, Logger } from '@iot-meter/common';
import type { MiddlewareHandler } from 'hono';
import type { Kysely } from 'kysely';
import { ApiError } from '../http/api-errors.js';
import type { AppEnv } from '../http/router.js';
import { apiKeyPrefix, hashApiKey, sameHash } from './api-key-secret.js';
import { findActiveApiKeyByPrefix, touchApiKey } from './api-keys.repository.js';
import { hasRole, type Principal, type Role } from './principal.js';

// A verified key is remembered this long, so a request costs no database lookup and no hashing (a
// third of an authenticated cached read, measured). A key revoked through another replica stops
// working here within this time (at once on the replica revoking it).
const CACHE_MS = 30_000;
const TOUCH_EVERY_MS = 60_000;

export type Authenticator = {
  middleware: MiddlewareHandler<AppEnv>;
  /** Forgets cached keys, after a revocation. */
  forget(): void;
};

/**
 * Bearer API keys: the bootstrap admin key from `API_ADMIN_KEY`, or a key from `api_keys`. Sets
 * `principal`; answers 401 otherwise.
 */
export function createAuthenticator(options: {
  db: Kysely<Database>;
  adminKey?: string;
  logger: Logger;
}): Authenticator {
  const adminHash = options.adminKey ? hashApiKey(options.adminKey) : undefined;
  const cache = new Map<string, { principal: Principal; until: number }>();
  const touched = new Map<number, number>();

  async function resolve(key: string): Promise<Principal | undefined> {
    const cached = cache.get(key);
    if (cached && cached.until > Date.now()) return cached.principal;
    const principal = await verify(key);
    if (principal) {
      if (cache.size > 10_000) cache.clear();
      cache.set(key, { principal, until: Date.now() + CACHE_MS });
    }
    return principal;
  }

  async function verify(key: string): Promise<Principal | undefined> {
    const hash = hashApiKey(key);
    if (adminHash && sameHash(hash, adminHash))
      return { keyId: null, name: 'bootstrap-admin', role: 'admin' };
    const prefix = apiKeyPrefix(key);
    if (!prefix) return undefined;
    const row = await findActiveApiKeyByPrefix(options.db, prefix);
    if (!row || !sameHash(hash, row.key_hash)) return undefined;
    return { keyId: row.id, name: row.name, role: row.role as Role };
  }

  function touch(keyId: number) {
    const now = Date.now();
    if ((touched.get(keyId) ?? 0) > now - TOUCH_EVERY_MS) return;
    touched.set(keyId, now);
    touchApiKey(options.db, keyId).catch((err: unknown) =>
      options.logger.warn({ err, keyId }, 'could not record key use'),
    );
  }

  return {
    forget: () => cache.clear(),
    middleware: async (c, next) => {
      const header = c.req.header('authorization') ?? '';
      const match = /^Bearer\s+(\S+)$/i.exec(header);
      const principal = match?.[1] ? await resolve(match[1]) : undefined;
      if (!principal) {
        c.header('WWW-Authenticate', 'Bearer');
        throw new ApiError('unauthorized', 'missing or invalid API key');
      }
      if (principal.keyId !== null) touch(principal.keyId);
      c.set('principal', principal);
      await next();
    },
  };
}

/** Lets the request through only for `role` or a stronger one (403 otherwise). */
export function requireRole(role: Role): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (!hasRole(c.get('principal'), role)) {
      throw new ApiError('forbidden', `this needs the ${role} role`);
    }
    await next();
  };
}
