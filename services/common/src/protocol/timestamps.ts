// ISO 8601 / RFC 3339 date-times with up to nanosecond fractions. A time without a zone is UTC,
// as the original devices send it. Times are kept as integer nanoseconds since the epoch (bigint),
// so a device's sub-millisecond sample times survive into InfluxDB.
const ISO_8601 =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,9}))?(Z|z|[+-]\d{2}:?\d{2})?$/;

// Devices send many times within the same second (a v2 message's samples), so the last validated
// calendar second is remembered: parsing is on the collector's hot path.
let lastSecond = '';
let lastSecondMs = 0;

/** Nanoseconds since the epoch for an ISO 8601 date-time, or undefined if it is not one. */
export function parseTimestampNs(text: string): bigint | undefined {
  return parseUtcMillisecondsNs(text) ?? parseAnyTimestampNs(text);
}

const ZERO = 48;

// What devices send nearly always, `2026-01-01T00:00:00Z` or `…00.123Z` in the second seen last,
// read without the regular expression and its capture strings; undefined for anything else (the
// general parser decides).
function parseUtcMillisecondsNs(text: string): bigint | undefined {
  const length = text.length;
  if ((length !== 20 && length !== 24) || text.charCodeAt(length - 1) !== 90 /* Z */) return undefined;
  if (length === 24 && text.charCodeAt(19) !== 46 /* . */) return undefined;
  // Only within the second last validated: its calendar checks are done.
  if (text.slice(0, 19) !== lastSecond) return undefined;
  let ms = 0;
  if (length === 24) {
    for (let i = 20; i < 23; i += 1) {
      const digit = text.charCodeAt(i) - ZERO;
      if (digit < 0 || digit > 9) return undefined;
      ms = ms * 10 + digit;
    }
  }
  return BigInt(lastSecondMs + ms) * 1_000_000n;
}

function parseAnyTimestampNs(text: string): bigint | undefined {
  const match = ISO_8601.exec(text);
  if (!match) return undefined;
  const [, y, mo, d, h, mi, s, fraction = '', zone = 'Z'] = match;
  const second = text.slice(0, 19);
  let ms = lastSecondMs;
  if (second !== lastSecond) {
    ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
    const date = new Date(ms);
    // Date.UTC rolls 2026-02-30 over to March; a real calendar date survives the round trip.
    if (
      date.getUTCFullYear() !== Number(y) ||
      date.getUTCMonth() !== Number(mo) - 1 ||
      date.getUTCDate() !== Number(d) ||
      Number(h) > 23 ||
      Number(mi) > 59 ||
      Number(s) > 59
    ) {
      return undefined;
    }
    lastSecond = second;
    lastSecondMs = ms;
  }
  const offsetMinutes = zoneOffsetMinutes(zone);
  if (offsetMinutes === undefined) return undefined;
  // Whole milliseconds stay exact in a double; only the sub-millisecond digits need bigint.
  const digits = fraction.padEnd(9, '0');
  const wholeMs = ms - offsetMinutes * 60_000 + Number(digits.slice(0, 3));
  const subMs = digits.slice(3);
  return BigInt(wholeMs) * 1_000_000n + (subMs === '000000' ? 0n : BigInt(subMs));
}

function zoneOffsetMinutes(zone: string): number | undefined {
  if (zone === 'Z' || zone === 'z') return 0;
  const digits = zone.replace(':', '');
  const hours = Number(digits.slice(1, 3));
  const minutes = Number(digits.slice(3, 5));
  if (hours > 23 || minutes > 59) return undefined;
  return (zone.startsWith('-') ? -1 : 1) * (hours * 60 + minutes);
}

/** Milliseconds to nanoseconds, for receive times. */
export function msToNs(ms: number): bigint {
  return BigInt(ms) * 1_000_000n;
}

/** RFC 3339 text in UTC with nanoseconds, trailing zeros trimmed. */
export function formatTimestampNs(ns: bigint): string {
  const ms = ns / 1_000_000n;
  const iso = new Date(Number(ms)).toISOString(); // …T16:00:00.000Z
  const fraction = (ns % 1_000_000_000n).toString().padStart(9, '0').replace(/0+$/, '');
  return `${iso.slice(0, 19)}${fraction ? `.${fraction}` : ''}Z`;
}
