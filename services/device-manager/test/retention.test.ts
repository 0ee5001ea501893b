import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  createInflux,
  createObjectStore,
  findBucket,
  influxEnv,
  influxRequest,
  loadConfig,
  orgId,
  s3Env,
} from '@iot-meter/common';
import { createTestInfluxBucket, type TestInfluxBucket } from '@iot-meter/common/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

// The chart's retention Job, run as the compiled entry point against the stack's InfluxDB and MinIO.
const env = inject('stackEnv');
const influx = loadConfig(influxEnv, env);
const store = createObjectStore(loadConfig(s3Env, env));
const bucket = `retention-${randomBytes(4).toString('hex')}`;
let series: TestInfluxBucket;
let downsampled = '';

beforeAll(async () => {
  series = await createTestInfluxBucket(influx, 'retention');
});
afterAll(async () => {
  const made = await findBucket(influx, downsampled);
  if (made) await influxRequest(influx, 'DELETE', `/api/v2/buckets/${made.id}`);
  await series.drop();
  if (await store.bucketExists(bucket)) await store.removeBucket(bucket);
});

async function applyRetention(
  days: { series: number; archive: number; quarantine: number },
  downsample: Record<string, string> = {},
) {
  await promisify(execFile)(
    process.execPath,
    [fileURLToPath(new URL('../dist/bin/configure-retention.js', import.meta.url))],
    {
      env: {
        ...env,
        INFLUX_BUCKET: series.name,
        S3_BUCKET: bucket,
        RETENTION_TIME_SERIES_DAYS: String(days.series),
        RETENTION_ARCHIVE_DAYS: String(days.archive),
        RETENTION_QUARANTINE_DAYS: String(days.quarantine),
        ...downsample,
        LOG_LEVEL: 'warn',
      },
    },
  );
}

const seriesRetention = async () => (await findBucket(influx, series.name))?.retentionRules;

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

    // Shorter than the bucket's week-long shard groups, which InfluxDB refuses unless they shrink too.
    await applyRetention({ series: 1, archive: 0, quarantine: 0 });
    expect(await seriesRetention()).toMatchObject([
      { type: 'expire', everySeconds: 86_400, shardGroupDurationSeconds: 3600 },
    ]);

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

describe('downsampling', () => {
  type Task = { id: string; name: string; every: string; status: string };
  const tasks = async () => {
    const query = new URLSearchParams({
      orgID: await orgId(influx),
      name: `iot-meter-downsample ${series.name}`,
    });
    return (await influxRequest<{ tasks: Task[] }>(influx, 'GET', `/api/v2/tasks?${query}`)).tasks;
  };
  async function write(lines: string[]) {
    const query = new URLSearchParams({ org: influx.INFLUX_ORG, bucket: series.name, precision: 's' });
    const written = await fetch(new URL(`/api/v2/write?${query}`, influx.INFLUX_URL), {
      method: 'POST',
      headers: { authorization: `Token ${influx.INFLUX_TOKEN}` },
      body: lines.join('\n'),
    });
    expect(written.status).toBe(204);
  }
  /** Runs the task as InfluxDB would at `scheduledFor`, and waits for the run to end. */
  async function runTask(task: Task, scheduledFor: Date) {
    const run = await influxRequest<{ id: string }>(influx, 'POST', `/api/v2/tasks/${task.id}/runs`, {
      scheduledFor: scheduledFor.toISOString(),
    });
    await expect
      .poll(
        async () =>
          (await influxRequest<{ status: string }>(influx, 'GET', `/api/v2/tasks/${task.id}/runs/${run.id}`))
            .status,
        { timeout: 20_000, interval: 250 },
      )
      .toBe('success');
  }
  const aggregates = async () =>
    (
      await createInflux(influx)
        .getQueryApi(influx.INFLUX_ORG)
        .collectRows<{ _time: string; _field: string; _value: number; device_id: string; metric: string }>(
          `from(bucket: "${downsampled}") |> range(start: 0)`,
        )
    )
      .map((r) => [r._time, r._field, r._value, r.device_id, r.metric])
      .sort((a, b) => `${a[0]} ${a[1]}`.localeCompare(`${b[0]} ${b[1]}`));

  it('fills a bucket of its own with mean, min, max, count and last per window, folds late points in, and stops', async () => {
    downsampled = `${series.name}-1h`;
    await applyRetention(
      { series: 30, archive: 0, quarantine: 0 },
      {
        INFLUX_DOWNSAMPLE_BUCKET: downsampled,
        INFLUX_DOWNSAMPLE_EVERY: '1h',
        RETENTION_DOWNSAMPLE_LATE_WINDOWS: '3',
        RETENTION_DOWNSAMPLE_DAYS: '400',
      },
    );
    expect((await findBucket(influx, downsampled))?.retentionRules).toMatchObject([
      { type: 'expire', everySeconds: 400 * 86_400 },
    ]);
    const [task, ...others] = await tasks();
    expect(others).toEqual([]);
    expect(task).toMatchObject({ every: '1h', status: 'active' });

    // The run at T + 1 min aggregates the three complete hours before T.
    const hour = 3600;
    const t = Math.floor(Date.now() / 1000 / hour) * hour - hour;
    const at = (seconds: number) => new Date((t + seconds) * 1000).toISOString().replace('.000Z', 'Z');
    const point = (seconds: number, value: number) =>
      `iot_telemetry,device_id=ds-1,metric=power,unit=W value=${value} ${t + seconds}`;
    await write([
      point(-4 * hour + 60, 1000), // before the look-back: left alone
      point(-2 * hour + 600, 1),
      point(-2 * hour + 700, 2),
      point(-2 * hour + 800, 3),
      point(-hour + 300, 10),
      point(-hour + 400, 20),
      point(30, 100), // the hour still running at T: left for the next run
    ]);
    await runTask(task as Task, new Date((t + 60) * 1000));
    const expected = (lastHour: { mean: number; min: number; max: number; count: number; last: number }) => [
      [at(-hour), 'count', 3, 'ds-1', 'power'],
      [at(-hour), 'last', 3, 'ds-1', 'power'],
      [at(-hour), 'max', 3, 'ds-1', 'power'],
      [at(-hour), 'mean', 2, 'ds-1', 'power'],
      [at(-hour), 'min', 1, 'ds-1', 'power'],
      [at(0), 'count', lastHour.count, 'ds-1', 'power'],
      [at(0), 'last', lastHour.last, 'ds-1', 'power'],
      [at(0), 'max', lastHour.max, 'ds-1', 'power'],
      [at(0), 'mean', lastHour.mean, 'ds-1', 'power'],
      [at(0), 'min', lastHour.min, 'ds-1', 'power'],
    ];
    expect(await aggregates()).toEqual(expected({ mean: 15, min: 10, max: 20, count: 2, last: 20 }));

    // A point that arrives late, then the same run again: its hour is aggregated anew, nothing twice.
    await write([point(-hour + 500, 60)]);
    await runTask(task as Task, new Date((t + 60) * 1000));
    expect(await aggregates()).toEqual(expected({ mean: 30, min: 10, max: 60, count: 3, last: 60 }));

    // Applied again with other settings: the same task, updated; then off: the task goes, the points stay.
    await applyRetention(
      { series: 30, archive: 0, quarantine: 0 },
      { INFLUX_DOWNSAMPLE_BUCKET: downsampled, INFLUX_DOWNSAMPLE_EVERY: '15m' },
    );
    expect((await tasks()).map((x) => [x.id, x.every])).toEqual([[task?.id, '15m']]);
    expect((await findBucket(influx, downsampled))?.retentionRules).toMatchObject([
      { type: 'expire', everySeconds: 0 },
    ]);
    await applyRetention({ series: 30, archive: 0, quarantine: 0 });
    expect(await tasks()).toEqual([]);
    expect(await aggregates()).toHaveLength(10);
  });

  it('refuses a window that is not a duration, naming the variable', async () => {
    await expect(
      applyRetention(
        { series: 0, archive: 0, quarantine: 0 },
        { INFLUX_DOWNSAMPLE_BUCKET: 'x', INFLUX_DOWNSAMPLE_EVERY: '90s' },
      ),
    ).rejects.toThrow(/INFLUX_DOWNSAMPLE_EVERY: must be a duration in minutes, hours or days/);
  });
});
