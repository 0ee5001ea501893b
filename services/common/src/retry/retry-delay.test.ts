import { afterEach, describe, expect, it, vi } from 'vitest';
import { createRandom } from '../random/seeded-random.js';
import { createBackoff, retryDelayMs, retryUntilDone } from './retry-delay.js';

describe('retryDelayMs', () => {
  it('doubles the ceiling per attempt up to the maximum', () => {
    const top = () => 1;
    expect([0, 1, 2, 3, 4, 5, 40].map((attempt) => retryDelayMs(attempt, 100, 1000, top))).toEqual([
      100, 200, 400, 800, 1000, 1000, 1000,
    ]);
  });

  it('draws the delay anywhere below the ceiling (full jitter)', () => {
    const draws = [0, 0.25, 0.5];
    const random = () => draws.shift() ?? Number.NaN;
    expect([retryDelayMs(3, 100, 1000, random), retryDelayMs(3, 100, 1000, random)]).toEqual([0, 200]);
    expect(retryDelayMs(9, 100, 1000, random)).toBe(500);
  });

  it('draws its jitter from the random it is given (a seeded one repeats)', () => {
    const random = createRandom('backoff');
    const delays = [0, 1, 2, 3, 4].map((attempt) => retryDelayMs(attempt, 100, 1000, () => random.next()));
    expect(delays.map(Math.round)).toEqual([18, 126, 355, 101, 788]);
  });
});

describe('createBackoff', () => {
  it('grows with each failure and starts over after a reset', () => {
    const backoff = createBackoff({ minMs: 50, maxMs: 300, random: () => 1 });
    expect([backoff.next(), backoff.next(), backoff.next(), backoff.next()]).toEqual([50, 100, 200, 300]);
    backoff.reset();
    expect([backoff.next(), backoff.next()]).toEqual([50, 100]);
  });

  it('never waits less than half the first delay', () => {
    const draws = [0, 0.1, 0.5];
    const backoff = createBackoff({ minMs: 100, maxMs: 1000, random: () => draws.shift() ?? Number.NaN });
    expect([backoff.next(), backoff.next(), backoff.next()]).toEqual([50, 50, 200]);
  });
});

describe('retryUntilDone', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('tries again after each failure, waiting the backoff, and returns the first success', async () => {
    vi.useFakeTimers();
    const tried: number[] = [];
    const failures: [string, number][] = [];
    const done = retryUntilDone(
      async (attempt) => {
        tried.push(Date.now());
        if (attempt < 3) throw new Error(`down ${attempt}`);
        return 'stored';
      },
      {
        minMs: 100,
        maxMs: 300,
        random: () => 1,
        onFailure: (err, attempt) => failures.push([(err as Error).message, attempt]),
      },
    );
    const start = Date.now();
    await vi.advanceTimersByTimeAsync(0);
    expect(tried).toEqual([start]);
    await vi.advanceTimersByTimeAsync(99);
    expect(tried).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1 + 200 + 300);
    expect(await done).toBe('stored');
    expect(tried.map((t) => t - start)).toEqual([0, 100, 300, 600]);
    expect(failures).toEqual([
      ['down 0', 0],
      ['down 1', 1],
      ['down 2', 2],
    ]);
  });
});
