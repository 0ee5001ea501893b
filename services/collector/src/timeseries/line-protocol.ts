import type { Sample } from '@iot-meter/common/protocol';

/** The measurement every sample goes to (architecture §3). */
export const MEASUREMENT = 'iot_telemetry';

// Tag values escape commas, equals signs and spaces; device ids and metric names cannot contain
// them, but units are free text.
function escapeTag(value: string): string {
  return value.replace(/[,= \\]/g, (c) => `\\${c}`).replace(/\n/g, '\\n');
}

// The same few devices, metrics and units make up every line: each is escaped once. Bounded, since
// a fleet is large and units are free text.
const MAX_CACHED = 10_000;
const seriesPrefixes = new Map<string, string>();
const metricTags = new Map<string, string>();
const unitTags = new Map<string, string>();

function cached(cache: Map<string, string>, key: string, make: (key: string) => string): string {
  let value = cache.get(key);
  if (value === undefined) {
    value = make(key);
    if (cache.size >= MAX_CACHED) cache.clear();
    cache.set(key, value);
  }
  return value;
}

const seriesPrefix = (deviceId: string) => `${MEASUREMENT},device_id=${escapeTag(deviceId)},metric=`;
const unitTag = (unit: string) => `,unit=${escapeTag(unit)}`;

/**
 * The samples' lines, joined by newlines: one line per sample, timestamped in nanoseconds with the
 * sample's own time, so writing a redelivered message again overwrites the same points instead of
 * adding new ones.
 */
export function toLineProtocol(deviceId: string, samples: readonly Sample[]): string {
  const prefix = cached(seriesPrefixes, deviceId, seriesPrefix);
  let lines = '';
  for (const s of samples) {
    const unit = s.unit === undefined ? '' : cached(unitTags, s.unit, unitTag);
    const metric = cached(metricTags, s.metric, escapeTag);
    lines += `${lines === '' ? '' : '\n'}${prefix}${metric}${unit} value=${s.value} ${s.timeNs}`;
  }
  return lines;
}
