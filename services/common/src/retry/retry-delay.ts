/** Bounds of a backoff: the first delay is up to `minMs`, each failure doubles it, up to `maxMs`. */
export type Backoff = { minMs: number; maxMs: number; random?: () => number };

/** Exponential backoff with full jitter: a random delay up to min(max, min · 2^attempt). */
export function retryDelayMs(attempt: number, minMs: number, maxMs: number, random = Math.random): number {
  return random() * Math.min(maxMs, minMs * 2 ** Math.min(attempt, 30));
}

/**
 * Counts failed attempts: `next()` is the delay before the next try, `reset()` follows a success.
 * Never below half of `minMs`: a reconnect loop against a peer that accepts and drops at once
 * must not spin, and a dropped connection stays visibly down for a moment.
 */
export function createBackoff(backoff: Backoff): { next(): number; reset(): void } {
  let attempt = 0;
  return {
    next: () =>
      Math.max(backoff.minMs / 2, retryDelayMs(attempt++, backoff.minMs, backoff.maxMs, backoff.random)),
    reset: () => {
      attempt = 0;
    },
  };
}

/**
 * Runs `work` until it succeeds, waiting a jittered, growing delay after each failure, which
 * `onFailure` hears first (attempts count from 0). For work that must happen however long its
 * store is away: a batch the broker is still waiting to see acknowledged, a start-up step.
 */
export async function retryUntilDone<T>(
  work: (attempt: number) => Promise<T>,
  options: Backoff & { onFailure(err: unknown, attempt: number): void },
): Promise<T> {
  const delays = createBackoff(options);
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await work(attempt);
    } catch (err) {
      options.onFailure(err, attempt);
      await new Promise((resolve) => setTimeout(resolve, delays.next()));
    }
  }
}
