import { ApiError } from '../http/api-errors.js';

// `start` and `stop` as the original API takes them (`-1h`, `now()`), plus absolute RFC 3339 times and
// weeks; resolved here to absolute times, so nothing a client writes reaches a Flux query as code.
const RELATIVE = /^(-?)(\d{1,9})(ms|s|m|h|d|w)$/;
const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)$/i;
const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/** A time parameter as an absolute time, relative ones counted from `nowMs`; 400 naming `field` otherwise. */
export function resolveTime(value: string, field: string, nowMs: number): Date {
  if (value === 'now()') return new Date(nowMs);
  const relative = RELATIVE.exec(value);
  if (relative) {
    const [, sign, amount, unit] = relative;
    const ms = Number(amount) * (UNIT_MS[unit ?? 's'] ?? 1000);
    return new Date(nowMs + (sign === '-' ? -ms : ms));
  }
  const time = RFC3339.test(value) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(time)) {
    throw new ApiError(
      'invalid_request',
      `${field}: must be a relative time like -1h, now(), or an RFC 3339 time`,
      field,
    );
  }
  return new Date(time);
}

/** A window length for aggregation, like `1m`, in milliseconds. */
export function parseWindow(value: string): number | undefined {
  const match = RELATIVE.exec(value);
  if (!match || match[1] === '-') return undefined;
  const ms = Number(match[2]) * (UNIT_MS[match[3] ?? 's'] ?? 1000);
  return ms > 0 ? ms : undefined;
}
