import { describe, expect, it } from 'vitest';
import { judgeDuration, judgeSamples, type RuleState } from './judge.js';
import { type Condition, clearThresholdProblem } from './rule-condition.js';

const hot: Condition = { op: '>', value: 90, clear: 85 };
const samples = (...pairs: [number, number][]) => pairs.map(([time, value]) => ({ time, value }));

describe('judgeSamples', () => {
  it('fires once the breaking value has held for `for`, dated at the sample, started when it began', () => {
    const { state, transitions } = judgeSamples(
      hot,
      60,
      undefined,
      samples([0, 80], [10, 95], [40, 96], [70, 97], [80, 99]),
    );
    expect(transitions).toEqual([{ kind: 'fired', at: 70, startedAt: 10, value: 97 }]);
    expect(state).toEqual({ state: 'firing', since: 10, value: 97, evaluatedThrough: 80 });
  });

  it('fires nothing when the value breaks the limit for less than `for`', () => {
    const { state, transitions } = judgeSamples(
      hot,
      60,
      undefined,
      samples([0, 95], [30, 96], [50, 89], [60, 95], [100, 95]),
    );
    expect(transitions).toEqual([]);
    expect(state).toEqual({ state: 'pending', since: 60, value: 95, evaluatedThrough: 100 });
  });

  it('does not flap while the value hovers between the clear and the fire threshold', () => {
    const hovering = samples([0, 91], [10, 89], [20, 91], [30, 86], [40, 90.5], [50, 85.5], [60, 84]);
    const { state, transitions } = judgeSamples(hot, 0, undefined, hovering);
    expect(transitions).toEqual([
      { kind: 'fired', at: 0, startedAt: 0, value: 91 },
      { kind: 'resolved', at: 60, value: 84 },
    ]);
    expect(state).toEqual({ state: 'resolved', since: 60, value: 84, evaluatedThrough: 60 });
  });

  it('without a clear threshold, clears as soon as the limit is no longer broken', () => {
    const { transitions } = judgeSamples(
      { op: '<', value: 10 },
      0,
      undefined,
      samples([0, 9], [5, 10], [6, 9]),
    );
    expect(transitions.map((t) => `${t.kind}@${t.at}`)).toEqual(['fired@0', 'resolved@5', 'fired@6']);
  });

  it('judges ranges: outside fires beyond either bound and clears inside the clear range', () => {
    const band: Condition = { op: 'outside', low: 10, high: 20, clear_low: 11, clear_high: 19 };
    const { transitions } = judgeSamples(
      band,
      0,
      undefined,
      samples([0, 15], [1, 9], [2, 10.5], [3, 12], [4, 21], [5, 19.5], [6, 19]),
    );
    expect(transitions.map((t) => `${t.kind}@${t.at}`)).toEqual([
      'fired@1',
      'resolved@3',
      'fired@4',
      'resolved@6',
    ]);
    const inside: Condition = { op: 'inside', low: 10, high: 20 };
    const judged = judgeSamples(inside, 0, undefined, samples([0, 9], [1, 10], [2, 20.5]));
    expect(judged.transitions.map((t) => `${t.kind}@${t.at}`)).toEqual(['fired@1', 'resolved@2']);
  });

  it('skips samples judged before and judges late ones at their own times', () => {
    const before: RuleState = { state: 'pending', since: 100, value: 95, evaluatedThrough: 130 };
    // 120 and 130 were judged in the last pass; the backfill from 140 on arrives now.
    const { state, transitions } = judgeSamples(
      hot,
      60,
      before,
      samples([120, 20], [130, 95], [140, 95], [160, 96], [200, 50]),
    );
    expect(transitions).toEqual([
      { kind: 'fired', at: 160, startedAt: 100, value: 96 },
      { kind: 'resolved', at: 200, value: 50 },
    ]);
    expect(state?.evaluatedThrough).toBe(200);
  });

  it('keeps a resolved state quiet and only moves its watermark', () => {
    const before: RuleState = { state: 'resolved', since: 5, value: 50, evaluatedThrough: 5 };
    expect(judgeSamples(hot, 0, before, samples([6, 60], [7, 70]))).toEqual({
      state: { state: 'resolved', since: 5, value: 50, evaluatedThrough: 7 },
      transitions: [],
    });
  });
});

describe('judgeDuration', () => {
  it('goes pending, then fires when the duration is reached, dated when it was reached', () => {
    const pending = judgeDuration(undefined, { holds: true, since: 1000 }, 600, 1300);
    expect(pending).toEqual({
      state: { state: 'pending', since: 1000, value: null, evaluatedThrough: 1300 },
      transitions: [],
    });
    const fired = judgeDuration(pending.state, { holds: true, since: 1000 }, 600, 1700);
    expect(fired.transitions).toEqual([{ kind: 'fired', at: 1600, startedAt: 1000, value: null }]);
    const still = judgeDuration(fired.state, { holds: true, since: 1000 }, 600, 1800);
    expect(still.transitions).toEqual([]);
    expect(still.state).toEqual({ state: 'firing', since: 1000, value: null, evaluatedThrough: 1800 });
    const back = judgeDuration(still.state, { holds: false, endedAt: 1750 }, 600, 1900);
    expect(back).toEqual({
      state: { state: 'resolved', since: 1750, value: null, evaluatedThrough: 1900 },
      transitions: [{ kind: 'resolved', at: 1750, value: null }],
    });
  });

  it('resets a pending state without a transition when the condition ends early', () => {
    const pending: RuleState = { state: 'pending', since: 1000, value: null, evaluatedThrough: 1200 };
    expect(judgeDuration(pending, { holds: false, endedAt: 1250 }, 600, 1300)).toEqual({
      state: { state: 'resolved', since: 1250, value: null, evaluatedThrough: 1300 },
      transitions: [],
    });
    expect(judgeDuration(undefined, { holds: false, endedAt: 1250 }, 600, 1300)).toEqual({
      state: undefined,
      transitions: [],
    });
  });
});

describe('clearThresholdProblem', () => {
  it.each([
    [{ op: '>', value: 90, clear: 85 }, undefined],
    [{ op: '>', value: 90, clear: 90 }, undefined],
    [{ op: '>=', value: 90, clear: 90 }, 'clear'],
    [{ op: '>', value: 90, clear: 91 }, 'clear'],
    [{ op: '<', value: 10, clear: 12 }, undefined],
    [{ op: '<', value: 10, clear: 9 }, 'clear'],
    [{ op: 'outside', low: 0, high: 10, clear_low: 1, clear_high: 9 }, undefined],
    [{ op: 'outside', low: 0, high: 10, clear_high: 11 }, 'clear_high'],
    [{ op: 'outside', low: 0, high: 10, clear_low: 9, clear_high: 2 }, 'clear_high'],
    [{ op: 'inside', low: 0, high: 10, clear_low: -1, clear_high: 11 }, undefined],
    [{ op: 'inside', low: 0, high: 10, clear_low: 1 }, 'clear_low'],
    [{ op: 'inside', low: 3, high: 1 }, 'high'],
  ] as [Condition, string | undefined][])('%o: %s', (condition, field) => {
    expect(clearThresholdProblem(condition)?.field).toBe(field);
  });
});
