import type { Sample } from '@iot-meter/common';

/** The measurement every sample goes to (architecture §3). */
export const MEASUREMENT = 'iot_telemetry';

// Tag values escape commas, equals signs and spaces; device ids and metric names cannot contain
// them, but units are free text.
function escapeTag(value: string): string {
  return value.replace(/[,= \\]/g, (c) => `\\${c}`).replace(/\n/g, '\\n');
}

/**
 * One line per sample, timestamped in nanoseconds with the sample's own time, so writing a
 * redelivered message again overwrites the same points instead of adding new ones.
 */
export function toLineProtocol(deviceId: string, samples: readonly Sample[]): string[] {
  const device = escapeTag(deviceId);
  return samples.map((s) => {
    const unit = s.unit === undefined ? '' : `,unit=${escapeTag(s.unit)}`;
    return `${MEASUREMENT},device_id=${device},metric=${escapeTag(s.metric)}${unit} value=${s.value} ${s.timeNs}`;
  });
}
