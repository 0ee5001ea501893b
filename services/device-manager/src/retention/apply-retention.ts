import { expireAfterDays, findBucket, influxRequest } from '@iot-meter/common';
import type { Client } from 'minio';
import type { RetentionConfig } from './retention-config.js';

/** Sets the time series bucket's retention (0 days: keep forever). The bucket must exist. */
export async function applyTimeSeriesRetention(
  influx: Pick<RetentionConfig, 'INFLUX_URL' | 'INFLUX_TOKEN' | 'INFLUX_ORG' | 'INFLUX_BUCKET'>,
  days: number,
): Promise<void> {
  const bucket = await findBucket(influx, influx.INFLUX_BUCKET);
  if (!bucket) throw new Error(`InfluxDB: no bucket ${influx.INFLUX_BUCKET} in org ${influx.INFLUX_ORG}`);
  await influxRequest(influx, 'PATCH', `/api/v2/buckets/${bucket.id}`, {
    retentionRules: expireAfterDays(days),
  });
}

/**
 * Expires the raw archive (`raw/`) and the quarantine (`quarantine/`) after their days through the
 * bucket's lifecycle (0: keep); creates the bucket when missing (the collectors may not).
 */
export async function applyArchiveLifecycle(
  store: Client,
  bucket: string,
  keep: { archiveDays: number; quarantineDays: number },
): Promise<void> {
  if (!(await store.bucketExists(bucket))) await store.makeBucket(bucket);
  const rules = (
    [
      ['raw', keep.archiveDays],
      ['quarantine', keep.quarantineDays],
    ] as const
  )
    .filter(([, days]) => days > 0)
    .map(([prefix, days]) => ({
      ID: `iot-meter-${prefix}`,
      Status: 'Enabled',
      Filter: { Prefix: `${prefix}/` },
      Expiration: { Days: days },
    }));
  if (rules.length === 0) await store.removeBucketLifecycle(bucket);
  else await store.setBucketLifecycle(bucket, { Rule: rules });
}
