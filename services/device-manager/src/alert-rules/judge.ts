import { type Condition, clears, fires } from './rule-condition.js';

/**
 * Where a (rule, device) stands, in the data's own time (epoch milliseconds): `pending` since the
 * condition began to hold, `firing` since it began to hold (its alert open), `resolved` since it
 * cleared. No state is the same as resolved.
 */
export type RuleState = {
  state: 'pending' | 'firing' | 'resolved';
  since: number;
  value: number | null;
  /** The newest sample judged: only newer ones move the state. */
  evaluatedThrough: number;
};

/** What a judgement did: the alert to open (`fired`) or close (`resolved`), at the data's time. */
export type Transition =
  | { kind: 'fired'; at: number; startedAt: number; value: number | null }
  | { kind: 'resolved'; at: number; value: number | null };

export type Judgement = { state: RuleState | undefined; transitions: Transition[] };

export type Sample = { time: number; value: number };

/**
 * A threshold rule over a device's samples, oldest first. Fires once a breaking value has held for
 * `forMs` (judged at samples: a device that breaks the limit once and falls silent has not shown that
 * it held); pending starts over at any sample that does not break it; a firing alert resolves at the
 * first sample that clears. Samples at or before `evaluatedThrough` were judged before and are
 * skipped, so late (backfilled) samples are judged at their own times, exactly once.
 */
export function judgeSamples(
  condition: Condition,
  forMs: number,
  previous: RuleState | undefined,
  samples: readonly Sample[],
): Judgement {
  let state = previous;
  const transitions: Transition[] = [];
  for (const { time, value } of samples) {
    if (state && time <= state.evaluatedThrough) continue;
    const current: RuleState['state'] = state?.state ?? 'resolved';
    if (current === 'firing') {
      state = clears(condition, value)
        ? { state: 'resolved', since: time, value, evaluatedThrough: time }
        : { ...(state as RuleState), evaluatedThrough: time };
      if (state.state === 'resolved') transitions.push({ kind: 'resolved', at: time, value });
      continue;
    }
    if (!fires(condition, value)) {
      state =
        current === 'pending'
          ? { state: 'resolved', since: time, value, evaluatedThrough: time }
          : { ...(state ?? { state: 'resolved', since: time, value }), evaluatedThrough: time };
      continue;
    }
    const since = current === 'pending' ? (state as RuleState).since : time;
    if (time - since >= forMs) {
      state = { state: 'firing', since, value, evaluatedThrough: time };
      transitions.push({ kind: 'fired', at: time, startedAt: since, value });
    } else {
      state = {
        state: 'pending',
        since,
        value: current === 'pending' ? (state as RuleState).value : value,
        evaluatedThrough: time,
      };
    }
  }
  return { state, transitions };
}

/**
 * A condition that holds from `since` (a device silent since its last sample, or offline since it
 * went): fires once it has held `forMs` by `nowMs`, dated when the duration was reached; a firing
 * alert resolves when the condition ends, at `endedAt` (the sample that broke the silence, the
 * moment it came back online).
 */
export function judgeDuration(
  previous: RuleState | undefined,
  condition: { holds: true; since: number } | { holds: false; endedAt: number },
  forMs: number,
  nowMs: number,
): Judgement {
  const firing = previous?.state === 'firing';
  if (!condition.holds) {
    if (!previous || previous.state === 'resolved') return { state: previous, transitions: [] };
    const at = Math.max(condition.endedAt, previous.since);
    return {
      state: { state: 'resolved', since: at, value: null, evaluatedThrough: nowMs },
      transitions: firing ? [{ kind: 'resolved', at, value: null }] : [],
    };
  }
  if (firing) return { state: { ...(previous as RuleState), evaluatedThrough: nowMs }, transitions: [] };
  const due = condition.since + forMs;
  if (nowMs < due) {
    return {
      state: { state: 'pending', since: condition.since, value: null, evaluatedThrough: nowMs },
      transitions: [],
    };
  }
  return {
    state: { state: 'firing', since: condition.since, value: null, evaluatedThrough: nowMs },
    transitions: [{ kind: 'fired', at: due, startedAt: condition.since, value: null }],
  };
}
