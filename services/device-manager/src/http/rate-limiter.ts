/**
 * Token buckets by name (an API key, a client address): `perSecond` sustained, `burst` at once.
 * In memory, per replica. Returns the seconds to wait when a request is over the limit.
 */
export function createRateLimiter(options: { perSecond: number; burst: number; maxBuckets?: number }) {
  const buckets = new Map<string, { tokens: number; at: number }>();
  const maxBuckets = options.maxBuckets ?? 100_000;
  return {
    take(name: string, nowMs = Date.now()): { ok: true } | { ok: false; retryAfterSeconds: number } {
      const bucket = buckets.get(name) ?? { tokens: options.burst, at: nowMs };
      bucket.tokens = Math.min(
        options.burst,
        bucket.tokens + ((nowMs - bucket.at) / 1000) * options.perSecond,
      );
      bucket.at = nowMs;
      // Bounded memory: when full, forget every bucket (a full bucket is what a new one gets anyway).
      if (!buckets.has(name) && buckets.size >= maxBuckets) buckets.clear();
      buckets.set(name, bucket);
      if (bucket.tokens >= 1) {
        bucket.tokens -= 1;
        return { ok: true };
      }
      return { ok: false, retryAfterSeconds: Math.ceil((1 - bucket.tokens) / options.perSecond) };
    },
  };
}
