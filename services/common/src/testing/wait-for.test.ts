import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { waitFor } from './wait-for.js';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('waitFor', () => {
  it('asks once per interval and resolves at the first true answer', async () => {
    const asked: number[] = [];
    const started = Date.now();
    const waiting = waitFor(
      async () => {
        asked.push(Date.now() - started);
        return asked.length === 3;
      },
      'the third answer',
      { intervalMs: 40 },
    );
    await vi.advanceTimersByTimeAsync(80);
    await expect(waiting).resolves.toBeUndefined();
    expect(asked).toEqual([0, 40, 80]);
  });

  it('gives up after the timeout, asking one last time, with an error naming what it waited for', async () => {
    let asked = 0;
    const waiting = waitFor(
      () => {
        asked += 1;
        return false;
      },
      'the broker',
      { timeoutMs: 1000, intervalMs: 250 },
    );
    const failed = expect(waiting).rejects.toThrow(
      new Error('timed out after 1000 ms waiting for the broker'),
    );
    await vi.advanceTimersByTimeAsync(1000);
    await failed;
    expect(asked).toBe(5); // at 0, 250, 500, 750 and 1000 ms
  });

  it('gives up at the timeout even while a condition has not answered', async () => {
    const waiting = waitFor(() => new Promise<boolean>(() => {}), 'a request that hangs', {
      timeoutMs: 500,
    });
    const failed = expect(waiting).rejects.toThrow(
      new Error('timed out after 500 ms waiting for a request that hangs'),
    );
    await vi.advanceTimersByTimeAsync(500);
    await failed;
  });

  it('describes what it waited for as of the timeout, when told how', async () => {
    let output = 'starting';
    const waiting = waitFor(
      () => false,
      () => `the service (output: ${output})`,
      { timeoutMs: 200 },
    );
    const failed = expect(waiting).rejects.toThrow(
      new Error('timed out after 200 ms waiting for the service (output: port in use)'),
    );
    output = 'port in use';
    await vi.advanceTimersByTimeAsync(200);
    await failed;
  });

  it('ends at once with the error of a condition that throws', async () => {
    let asked = 0;
    const waiting = waitFor(() => {
      asked += 1;
      if (asked === 2) throw new Error('process exited with code 1');
      return false;
    }, 'the process');
    const failed = expect(waiting).rejects.toThrow(new Error('process exited with code 1'));
    await vi.advanceTimersByTimeAsync(100);
    await failed;
    expect(asked).toBe(2);
  });
});
