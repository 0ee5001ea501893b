import type { Database, Logger } from '@iot-meter/common';
import type { MiddlewareHandler } from 'hono';
import type { Kysely } from 'kysely';
import { ApiError } from '../http/api-errors.js';
import type { ReadCache } from '../http/read-cache.js';
import type { AppEnv } from '../http/router.js';
import { apiKeyPrefix, hashApiKey, sameHash } from './api-key-secret.js';
import { findActiveApiKeyByPrefix, touchApiKey } from './api-keys.repository.js';
import { hasRole, type Principal, type Role } from './principal.js';

const TOUCH_EVERY_MS = 60_000;

export type Authenticator = {
  middleware: MiddlewareHandler<AppEnv>;
  /** Forgets cached keys, after a revocation. */
  forget(): void;
};

// Thrown by a lookup that found no key, so the cache keeps only keys that verified: made-up tokens
// can neither fill it nor push real keys out of it.
const NOT_A_KEY = new Error('not a key');

/**
 * Bearer API keys: the bootstrap admin key from `API_ADMIN_KEY`, or a key from `api_keys`. Sets
 * `principal`; answers 401 otherwise.
 */
export function createAuthenticator(options: {
  db: Kysely<Database>;
  adminKey?: string;
  logger: Logger;
  /**
   * Where verified keys are remembered (a third of the cost of an authenticated cached read,
   * measured); it must be cleared on every revocation, on every replica (read-caches.ts).
   */
  cache: ReadCache;
}): Authenticator {
  const adminHash = options.adminKey ? hashApiKey(options.adminKey) : undefined;
  const touched = new Map<number, number>();

  async function resolve(key: string): Promise<Principal | undefined> {
    const hash = hashApiKey(key);
    try {
      // By hash: the cache holds no secrets and a fixed size per key.
      return await options.cache.get(hash, async () => {
        const principal = await verify(key, hash);
        if (!principal) throw NOT_A_KEY;
        return principal;
      });
    } catch (err) {
      if (err === NOT_A_KEY) return undefined;
      throw err;
    }
  }

  async function verify(key: string, hash: string): Promise<Principal | undefined> {
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
    forget: () => options.cache.clear(),
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
