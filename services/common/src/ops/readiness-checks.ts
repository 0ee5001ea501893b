import { type Kysely, sql } from 'kysely';
import type { Client as ObjectStore } from 'minio';
import type { ReadinessCheck } from './ops-routes.js';

/** How long a readiness check waits for its dependency before it counts as not ready. */
export const READINESS_TIMEOUT_MS = 2000;

type Timeout = { timeoutMs?: number };

/** PostgreSQL answers `select 1` on the service's own pool. */
export function createPostgresReadiness<DB>(db: Kysely<DB>, options: Timeout = {}): ReadinessCheck {
  return timed('postgres', options, async () => void (await sql`select 1`.execute(db)));
}

/** InfluxDB's `/health` answers 200. */
export function createInfluxReadiness(influxUrl: string, options: Timeout = {}): ReadinessCheck {
  return timed('influxdb', options, async (signal) => {
    const response = await fetch(new URL('/health', influxUrl), { signal });
    if (!response.ok) throw new Error(`health ${response.status}`);
  });
}

/**
 * The object store answers for `bucket`; with `requireBucket`, the bucket must also exist (a
 * reader is ready without it: until a writer creates it there is nothing to read).
 */
export function createObjectStoreReadiness(
  store: ObjectStore,
  bucket: string,
  options: Timeout & { requireBucket?: boolean } = {},
): ReadinessCheck {
  return timed('object_store', options, async () => {
    const exists = await store.bucketExists(bucket);
    if (options.requireBucket && !exists) throw new Error(`no bucket ${bucket}`);
  });
}

/**
 * The service's own broker connection is up (`connected`, read at each check). It reads state the
 * client keeps, so it answers at once: a broker that does not answer shows as not connected.
 */
export function createMqttReadiness(options: {
  connected: () => boolean;
  /** Named `mqtt` unless told; `reason` is what a failed check says. */
  name?: string;
  reason?: string;
}): ReadinessCheck {
  const { connected, name = 'mqtt', reason = 'not connected' } = options;
  return {
    name,
    check: async () => {
      if (!connected()) throw new Error(reason);
    },
  };
}

// A check that has not answered within its timeout fails with "timed out after N ms"; any other
// failure says why in a word (the driver's error code when it has one), the driver's error as cause.
function timed(
  name: string,
  options: Timeout,
  probe: (signal: AbortSignal) => Promise<void>,
): ReadinessCheck {
  const timeoutMs = options.timeoutMs ?? READINESS_TIMEOUT_MS;
  return {
    name,
    check: async () => {
      const abort = new AbortController();
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          const err = new Error(`timed out after ${timeoutMs} ms`);
          abort.abort(err);
          reject(err);
        }, timeoutMs);
      });
      try {
        await Promise.race([
          probe(abort.signal).catch((err: unknown) => {
            if (abort.signal.aborted) return;
            throw new Error(failureReason(err), { cause: err });
          }),
          timeout,
        ]);
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

function failureReason(err: unknown): string {
  for (let at: unknown = err; at instanceof Error; ) {
    const code = (at as { code?: unknown }).code;
    if (typeof code === 'string' && code !== '') return code;
    at = at instanceof AggregateError ? at.errors[0] : at.cause;
  }
  return err instanceof Error ? err.message : String(err);
}
