import { describe, expect, it } from 'vitest';
import { applySeq, newSequenceState, REORDER_WINDOW, type SequenceState } from './sequence-tracker.js';

function track(seqs: number[]): { state: SequenceState; events: string[] } {
  const [first = 0, ...rest] = seqs;
  const state = newSequenceState(first);
  const events = rest.map((seq) => applySeq(state, seq));
  return { state, events };
}

const counters = ({ state }: { state: SequenceState }) => ({
  high: state.high,
  missing: [...state.missing].sort((a, b) => a - b),
  received: state.received,
  duplicates: state.duplicates,
  gaps: state.gaps,
  resets: state.resets,
});

describe('sequence tracking', () => {
  it('counts a steady stream with nothing missing', () => {
    expect(counters(track([0, 1, 2, 3, 4]))).toEqual({
      high: 4,
      missing: [],
      received: 5,
      duplicates: 0,
      gaps: 0,
      resets: 0,
    });
  });

  it('accepts messages out of order, as two collectors deliver them, without a gap', () => {
    const result = track([1, 3, 5, 2, 4, 6]);
    expect(result.events).toEqual(['next', 'next', 'late', 'late', 'next']);
    expect(counters(result)).toMatchObject({ high: 6, missing: [], gaps: 0, duplicates: 0 });
  });

  it('counts redelivered messages as duplicates', () => {
    expect(counters(track([5, 6, 6, 5, 7]))).toMatchObject({ high: 7, duplicates: 2, gaps: 0 });
  });

  it('declares a missing seq a gap once it falls out of the reordering window', () => {
    const result = track([0, 2]);
    expect(counters(result)).toMatchObject({ missing: [1], gaps: 0 });
    // Seq 1 is now more than a window behind; the seqs skipped on the way stay pending.
    applySeq(result.state, 2 + REORDER_WINDOW);
    expect(result.state.gaps).toBe(1);
    expect(result.state.missing.size).toBe(REORDER_WINDOW - 1);
    expect(result.state.missing.has(1)).toBe(false);
  });

  it('counts a jump beyond the window as that many gaps at once', () => {
    expect(counters(track([10, 10 + REORDER_WINDOW + 101]))).toMatchObject({
      gaps: 100,
      missing: expect.any(Array),
    });
    expect(track([10, 10 + REORDER_WINDOW + 101]).state.missing.size).toBe(REORDER_WINDOW);
  });

  it('follows the counter across its wrap at 2^32', () => {
    const result = track([4294967294, 4294967295, 0, 1]);
    expect(result.events).toEqual(['next', 'next', 'next']);
    expect(counters(result)).toMatchObject({ high: 1, gaps: 0, resets: 0, duplicates: 0 });
  });

  it('starts a new boot when a device restarts its counter, losing what the old one still missed', () => {
    const result = track([500, 502, 0, 1, 2]);
    expect(result.events).toEqual(['next', 'reset', 'next', 'next']);
    expect(counters(result)).toMatchObject({ high: 2, resets: 1, gaps: 1, missing: [] });
    expect(counters(track([100_000, 100_001, 7, 8]))).toMatchObject({ high: 8, resets: 1, gaps: 0 });
  });
});
