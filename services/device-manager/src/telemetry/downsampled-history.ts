import { findBucket, type InfluxEnv } from '@iot-meter/common';

/**
 * The downsampled bucket (the retention Job's InfluxDB task fills it with each series' mean, min,
 * max and count per window), from which aggregates reach back past the time series bucket's
 * retention.
 */
export type History = {
  bucket: string;
  /** The downsampling window. */
  everyMs: number;
  /** Where the time series bucket's points end (its retention), or undefined when it keeps all. */
  horizon(now: number): Promise<Date | undefined>;
};

/** Reads the time series bucket's retention from InfluxDB, at most once a minute. */
export function createHistory(influx: InfluxEnv, downsampled: { bucket: string; everyMs: number }): History {
  let retention: { seconds: number; readAt: number } | undefined;
  return {
    ...downsampled,
    async horizon(now) {
      if (!retention || now - retention.readAt > 60_000) {
        const bucket = await findBucket(influx, influx.INFLUX_BUCKET);
        const rule = bucket?.retentionRules.find((r) => r.type === 'expire');
        retention = { seconds: rule?.everySeconds ?? 0, readAt: now };
      }
      return retention.seconds > 0 ? new Date(now - retention.seconds * 1000) : undefined;
    },
  };
}
