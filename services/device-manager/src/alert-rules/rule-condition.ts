/**
 * A threshold rule's comparison. A value `fires` when it breaks the limit; once firing, the alert
 * clears only when a value `clears` — past the clear threshold when there is one, so a value
 * hovering at the limit does not flap.
 */
export type Condition =
  | { op: '>' | '>=' | '<' | '<='; value: number; clear?: number }
  | { op: 'outside' | 'inside'; low: number; high: number; clear_low?: number; clear_high?: number };

export function fires(condition: Condition, v: number): boolean {
  switch (condition.op) {
    case '>':
      return v > condition.value;
    case '>=':
      return v >= condition.value;
    case '<':
      return v < condition.value;
    case '<=':
      return v <= condition.value;
    case 'outside':
      return v < condition.low || v > condition.high;
    case 'inside':
      return v >= condition.low && v <= condition.high;
  }
}

export function clears(condition: Condition, v: number): boolean {
  switch (condition.op) {
    case '>':
    case '>=':
      return condition.clear === undefined ? !fires(condition, v) : v <= condition.clear;
    case '<':
    case '<=':
      return condition.clear === undefined ? !fires(condition, v) : v >= condition.clear;
    case 'outside':
      return v >= (condition.clear_low ?? condition.low) && v <= (condition.clear_high ?? condition.high);
    case 'inside':
      return v < (condition.clear_low ?? condition.low) || v > (condition.clear_high ?? condition.high);
  }
}

/** The limit a message names as `{{threshold}}`: the value, or the range as `low..high`. */
export function thresholdText(condition: Condition): string {
  return 'value' in condition ? String(condition.value) : `${condition.low}..${condition.high}`;
}

/**
 * Why a clear threshold cannot work, naming the field: it must lie on the side where the condition
 * does not hold, or the alert could never clear (or would clear while still breaking the limit).
 */
export function clearThresholdProblem(condition: Condition): { field: string; message: string } | undefined {
  if ('value' in condition) {
    if (condition.clear === undefined) return undefined;
    const below = condition.op === '>' || condition.op === '>=';
    if (below ? condition.clear > condition.value : condition.clear < condition.value) {
      return {
        field: 'clear',
        message: `must be ${below ? 'at most' : 'at least'} value (${condition.value})`,
      };
    }
    if (fires(condition, condition.clear))
      return { field: 'clear', message: 'must be a value that does not fire' };
    return undefined;
  }
  if (condition.low > condition.high) return { field: 'high', message: 'must be at least low' };
  const { clear_low = condition.low, clear_high = condition.high } = condition;
  if (clear_low > clear_high) return { field: 'clear_high', message: 'must be at least clear_low' };
  const inward = condition.op === 'outside';
  if (inward ? clear_low < condition.low : clear_low > condition.low) {
    return {
      field: 'clear_low',
      message: `must be ${inward ? 'at least' : 'at most'} low (${condition.low})`,
    };
  }
  if (inward ? clear_high > condition.high : clear_high < condition.high) {
    return {
      field: 'clear_high',
      message: `must be ${inward ? 'at most' : 'at least'} high (${condition.high})`,
    };
  }
  return undefined;
}
