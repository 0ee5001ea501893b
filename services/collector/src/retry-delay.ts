/** Exponential backoff with full jitter: a random delay up to min(max, min · 2^attempt). */
export function retryDelayMs(attempt: number, minMs: number, maxMs: number, random = Math.random): number {
  return random() * Math.min(maxMs, minMs * 2 ** Math.min(attempt, 30));
}
