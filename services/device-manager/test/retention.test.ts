import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createObjectStore, influxEnv, loadConfig, s3Env } from '@iot-meter/common';
import { createTestInfluxBucket, type TestInfluxBucket } from '@iot-meter/common/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

// The chart's retention Job, run as the compiled entry point against the stack's InfluxDB and MinIO.
const env = inject('stackEnv');
const influx = loadConfig(influxEnv, env);
const store = createObjectStore(loadConfig(s3Env, env));
const bucket = `retention-${randomBytes(4).toString('hex')}`;
let series: TestInfluxBucket;

beforeAll(async () => {
  series = await createTestInfluxBucket(influx, 'retention');
});
afterAll(async () => {
  await series.drop();
  if (await store.bucketExists(bucket)) await store.removeBucket(bucket);
});

async function applyRetention(days: { series: number; archive: number; quarantine: number }) {
  await promisify(execFile)(
    process.execPath,
    [fileURLToPath(new URL('../dist/apply-retention.js', import.meta.url))],
    {
      env: {
        ...env,
        INFLUX_BUCKET: series.name,
        S3_BUCKET: bucket,
        RETENTION_TIME_SERIES_DAYS: String(days.series),
        RETENTION_ARCHIVE_DAYS: String(days.archive),
        RETENTION_QUARANTINE_DAYS: String(days.quarantine),
        LOG_LEVEL: 'warn',
      },
    },
  );
}

async function seriesRetention() {
  const query = new URLSearchParams({ name: series.name, org: influx.INFLUX_ORG });
  const response = await fetch(new URL(`/api/v2/buckets?${query}`, influx.INFLUX_URL), {
    headers: { authorization: `Token ${influx.INFLUX_TOKEN}` },
  });
  const [found] = ((await response.json()) as { buckets: { retentionRules: unknown[] }[] }).buckets;
  return found?.retentionRules;
}

const lifecycle = () => store.getBucketLifecycle(bucket).catch(() => null);

describe('retention', () => {
  it('sets the time series bucket’s retention and the archive’s lifecycle, and takes them back', async () => {
    await applyRetention({ series: 30, archive: 365, quarantine: 90 });
    expect(await seriesRetention()).toMatchObject([{ type: 'expire', everySeconds: 30 * 86_400 }]);
    expect(await lifecycle()).toMatchObject({
      Rule: [
        { ID: 'iot-meter-raw', Status: 'Enabled', Filter: { Prefix: 'raw/' }, Expiration: { Days: 365 } },
        {
          ID: 'iot-meter-quarantine',
          Status: 'Enabled',
          Filter: { Prefix: 'quarantine/' },
          Expiration: { Days: 90 },
        },
      ],
    });

    await applyRetention({ series: 0, archive: 0, quarantine: 7 });
    expect(await seriesRetention()).toMatchObject([{ type: 'expire', everySeconds: 0 }]);
    // The client parses a single rule as an object, several as an array.
    expect([(await lifecycle())?.Rule].flat()).toMatchObject([
      { ID: 'iot-meter-quarantine', Expiration: { Days: 7 } },
    ]);

    await applyRetention({ series: 0, archive: 0, quarantine: 0 });
    expect(await lifecycle()).toBeNull();
  });
});
