import { describe, expect, it } from 'vitest';
import { createRateLimiter } from './rate-limiter.js';

describe('rate limiter', () => {
  it('allows the burst, then refills at the sustained rate', () => {
    const limiter = createRateLimiter({ perSecond: 2, burst: 3 });
    const at = 1_000_000;
    expect([1, 2, 3, 4].map(() => limiter.take('k', at).ok)).toEqual([true, true, true, false]);
    expect(limiter.take('k', at)).toEqual({ ok: false, retryAfterSeconds: 1 });
    expect(limiter.take('k', at + 500).ok).toBe(true);
    expect(limiter.take('k', at + 500).ok).toBe(false);
    expect(limiter.take('other', at).ok).toBe(true);
  });

  it('says how long to wait when the rate is below one per second', () => {
    const limiter = createRateLimiter({ perSecond: 0.1, burst: 1 });
    expect(limiter.take('k', 0).ok).toBe(true);
    expect(limiter.take('k', 0)).toEqual({ ok: false, retryAfterSeconds: 10 });
  });
});
