import { describe, expect, it } from 'vitest';
import { parseWindow, resolveTime } from './time-range.js';

const NOW = Date.parse('2026-11-29T12:00:00Z');

describe('metrics time range', () => {
  it('resolves the original API’s relative times, weeks and RFC 3339 times', () => {
    const at = (value: string) => resolveTime(value, 'start', NOW).toISOString();
    expect(at('-1h')).toBe('2026-11-29T11:00:00.000Z');
    expect(at('-24h')).toBe('2026-11-28T12:00:00.000Z');
    expect(at('now()')).toBe('2026-11-29T12:00:00.000Z');
    expect(at('-2w')).toBe('2026-11-15T12:00:00.000Z');
    expect(at('30s')).toBe('2026-11-29T12:00:30.000Z');
    expect(at('2026-11-29T10:00:00+02:00')).toBe('2026-11-29T08:00:00.000Z');
    expect(at('2026-11-29T10:00:00.250Z')).toBe('2026-11-29T10:00:00.250Z');
  });

  it('refuses anything else, naming the parameter', () => {
    for (const value of ['yesterday', '-1.5h', '1y', '2026-11-29', 'now', '-1h) |> drop()', '']) {
      expect(() => resolveTime(value, 'stop', NOW)).toThrow(
        expect.objectContaining({ code: 'invalid_request', field: 'stop' }),
      );
    }
  });

  it('reads aggregation windows', () => {
    expect([parseWindow('1m'), parseWindow('10s'), parseWindow('1d')]).toEqual([60_000, 10_000, 86_400_000]);
    expect([parseWindow('-1m'), parseWindow('0s'), parseWindow('1 m'), parseWindow('m')]).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
  });
});
