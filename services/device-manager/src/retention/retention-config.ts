import { influxEnv, s3Env } from '@iot-meter/common';
import { z } from 'zod';

const days = z.coerce.number().int().min(0);

/** A downsampling window: a whole number of minutes, hours or days (a Flux duration literal). */
export const WINDOW = /^[1-9]\d*[mhd]$/;

const UNIT_MS = { m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** A WINDOW's length in milliseconds. */
export const windowMs = (window: string) =>
  Number.parseInt(window, 10) * UNIT_MS[window.slice(-1) as keyof typeof UNIT_MS];

/**
 * The downsampled bucket, read by the retention Job (which fills it) and the API (which reads
 * aggregates past the time series bucket's retention from it); unset: no downsampling.
 */
export const downsampleEnv = z.object({
  INFLUX_DOWNSAMPLE_BUCKET: z.string().optional(),
  INFLUX_DOWNSAMPLE_EVERY: z
    .string()
    .regex(WINDOW, 'must be a duration in minutes, hours or days, like 15m, 1h or 1d')
    .default('1h'),
});

/** What `bin/configure-retention.ts` reads: the stores and how long each kind of data is kept (0: forever). */
export const retentionConfig = influxEnv
  .extend(s3Env.shape)
  .extend(downsampleEnv.shape)
  .extend({
    RETENTION_TIME_SERIES_DAYS: days.default(0),
    RETENTION_ARCHIVE_DAYS: days.default(0),
    RETENTION_QUARANTINE_DAYS: days.default(0),
    // Each run aggregates again this many complete windows, so points that arrive late are folded in.
    RETENTION_DOWNSAMPLE_LATE_WINDOWS: z.coerce.number().int().min(1).max(1000).default(6),
    RETENTION_DOWNSAMPLE_DAYS: days.default(0),
  });

export type RetentionConfig = z.output<typeof retentionConfig>;
