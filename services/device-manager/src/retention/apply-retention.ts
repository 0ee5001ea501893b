import type { Client } from 'minio';
import type { RetentionConfig } from './retention-config.js';

const DAY_SECONDS = 86_400;

/** Sets the time series bucket's retention (0 days: keep forever). The bucket must exist. */
export async function applyTimeSeriesRetention(
  influx: Pick<RetentionConfig, 'INFLUX_URL' | 'INFLUX_TOKEN' | 'INFLUX_ORG' | 'INFLUX_BUCKET'>,
  days: number,
): Promise<void> {
  const headers = { authorization: `Token ${influx.INFLUX_TOKEN}`, 'content-type': 'application/json' };
  const query = new URLSearchParams({ name: influx.INFLUX_BUCKET, org: influx.INFLUX_ORG });
  const found = await fetch(new URL(`/api/v2/buckets?${query}`, influx.INFLUX_URL), { headers });
  if (!found.ok) throw new Error(`InfluxDB: listing buckets answered ${found.status}: ${await found.text()}`);
  const bucket = ((await found.json()) as { buckets: { id: string }[] }).buckets[0];
  if (!bucket) throw new Error(`InfluxDB: no bucket ${influx.INFLUX_BUCKET} in org ${influx.INFLUX_ORG}`);
  // everySeconds 0 is InfluxDB's "forever" (an empty list would leave the rule as it was).
  const retentionRules = [{ type: 'expire', everySeconds: days * DAY_SECONDS }];
  const patched = await fetch(new URL(`/api/v2/buckets/${bucket.id}`, influx.INFLUX_URL), {
    method: 'PATCH',
    headers,
    body: JSON.stringify({ retentionRules }),
  });
  if (!patched.ok) throw new Error(`InfluxDB: updating ${influx.INFLUX_BUCKET} answered ${patched.status}`);
}

/**
 * Expires the raw archive (`raw/`) and the quarantine (`quarantine/`) after their days through the
 * bucket's lifecycle (0: keep); creates the bucket when the collectors have not yet.
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
