import { SEQ_MAX } from '@iot-meter/common';

const MODULUS = SEQ_MAX + 1;

/** How far behind the highest seq a message may arrive (from another collector, say) before its absence counts as a gap. */
export const REORDER_WINDOW = 16_384;

/** A device's sequence tracking, as kept in `device_sequences`. */
export type SequenceState = {
  high: number;
  missing: Set<number>;
  received: number;
  duplicates: number;
  gaps: number;
  resets: number;
};

/** What one seq did to the state; the state is updated in place. */
export type SequenceEvent = 'first' | 'next' | 'late' | 'duplicate' | 'reset';

export function newSequenceState(seq: number): SequenceState {
  return { high: seq, missing: new Set(), received: 1, duplicates: 0, gaps: 0, resets: 0 };
}

/**
 * Applies one seq. Seqs count modulo 2^32 (the counter wraps), a jump back to 0 or far behind is a
 * device reboot, and a seq missing when it falls REORDER_WINDOW behind the highest is a gap.
 * Messages arrive spread over several collectors, so "missing" is only final after the window.
 */
export function applySeq(state: SequenceState, seq: number): SequenceEvent {
  state.received += 1;
  const ahead = (seq - state.high + MODULUS) % MODULUS;
  if (ahead === 0) {
    state.duplicates += 1;
    return 'duplicate';
  }
  if (ahead < MODULUS / 2) {
    // Forward: the seqs skipped over wait in `missing` while they are inside the window.
    const skipped = ahead - 1;
    const tracked = Math.min(skipped, REORDER_WINDOW);
    state.gaps += skipped - tracked;
    for (let back = 1; back <= tracked; back += 1) state.missing.add((seq - back + MODULUS) % MODULUS);
    state.high = seq;
    for (const missing of state.missing) {
      if ((seq - missing + MODULUS) % MODULUS > REORDER_WINDOW) {
        state.missing.delete(missing);
        state.gaps += 1;
      }
    }
    return 'next';
  }
  if (state.missing.delete(seq)) return 'late';
  const behind = MODULUS - ahead;
  if (seq === 0 || behind > REORDER_WINDOW) {
    // A reboot: what was still missing from the previous boot is lost.
    state.gaps += state.missing.size;
    state.missing.clear();
    state.high = seq;
    state.resets += 1;
    return 'reset';
  }
  state.duplicates += 1;
  return 'duplicate';
}
