import { createLogger } from '@iot-meter/common';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { runEvery } from './run-every.js';

const logger = createLogger('test', 'silent');

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('runEvery', () => {
  it('runs at once, then an interval after each pass ends, never two at once, and stops after the running pass', async () => {
    const starts: number[] = [];
    let running = 0;
    let overlapped = false;
    const pass = async () => {
      starts.push(Date.now());
      running += 1;
      overlapped ||= running > 1;
      await new Promise((resolve) => setTimeout(resolve, 4000)); // a slow pass
      running -= 1;
    };
    const t0 = Date.now();
    const stop = runEvery(15_000, pass, logger);
    await vi.advanceTimersByTimeAsync(0);
    expect(starts).toEqual([t0]);
    await vi.advanceTimersByTimeAsync(19_000);
    expect(starts).toEqual([t0, t0 + 19_000]);
    await vi.advanceTimersByTimeAsync(19_000);
    expect(starts).toEqual([t0, t0 + 19_000, t0 + 38_000]);

    let stopped = false;
    void stop().then(() => {
      stopped = true;
    });
    await vi.advanceTimersByTimeAsync(3999);
    expect(stopped).toBe(false); // the pass in flight is awaited
    await vi.advanceTimersByTimeAsync(1);
    expect(stopped).toBe(true);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(starts).toHaveLength(3);
    expect(overlapped).toBe(false);
  });

  it('keeps going after a pass fails', async () => {
    let calls = 0;
    const stop = runEvery(
      1000,
      async () => {
        calls += 1;
        throw new Error('store down');
      },
      logger,
    );
    await vi.advanceTimersByTimeAsync(2500);
    expect(calls).toBe(3);
    await stop();
  });
});
