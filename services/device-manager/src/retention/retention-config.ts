import { influxEnv, s3Env } from '@iot-meter/common';
import { z } from 'zod';

const days = z.coerce.number().int().min(0);

/** What `apply-retention` reads: the stores, and how long each kind of data is kept (0: forever). */
export const retentionConfig = influxEnv.extend(s3Env.shape).extend({
  RETENTION_TIME_SERIES_DAYS: days.default(0),
  RETENTION_ARCHIVE_DAYS: days.default(0),
  RETENTION_QUARANTINE_DAYS: days.default(0),
});

export type RetentionConfig = z.output<typeof retentionConfig>;
