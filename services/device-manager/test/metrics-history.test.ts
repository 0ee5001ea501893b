import { expireAfterDays, findBucket, influxEnv, influxRequest, loadConfig } from '@iot-meter/common';
import { createTestInfluxBucket, type TestInfluxBucket } from '@iot-meter/common/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createHistory } from '../src/telemetry/downsampled-history.js';
import { ApiHarness } from './api-harness.js';

// Aggregates that reach back past the time series bucket's retention: the windows before it come
// from the downsampled bucket (written here as the retention Job's task writes it: mean, min, max
// and count per hour, timed at the hour's end), the rest from the time series bucket. The horizon
// is given (our own interface); where InfluxDB's retention puts it is tested at the end.
const env = inject('stackEnv');
const influx = loadConfig(influxEnv, env);
const api = new ApiHarness(env);
const HOUR = 3_600_000;
// A past hour that is a multiple of two hours, so 1 h and 2 h windows both end on it.
const T = Math.floor(Date.now() / (2 * HOUR)) * 2 * HOUR - 2 * HOUR;
const horizon = new Date(T - 2.5 * HOUR);
let downsampled: TestInfluxBucket;

const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');

beforeAll(async () => {
  downsampled = await createTestInfluxBucket(influx, 'ds');
  await api.start({}, { history: { bucket: downsampled.name, everyMs: HOUR, horizon: async () => horizon } });
  await api.call('POST', '/api/devices', { json: { device_id: 'hist-1', device_name: 'History' } });
  const hourly = (end: number, mean: number, count: number, min: number, max: number, last: number) =>
    `iot_telemetry,device_id=hist-1,metric=power,unit=W mean=${mean},count=${count}i,min=${min},max=${max},last=${last} ${end}`;
  await api.writePoints(
    [
      hourly(T - 5 * HOUR, 10, 1, 9, 11, 12),
      hourly(T - 4 * HOUR, 20, 3, 15, 25, 22),
      hourly(T - 3 * HOUR, 30, 2, 28, 33, 31),
      hourly(T - 2 * HOUR, 40, 2, 38, 41, 39),
      hourly(T - HOUR, 999, 1, 999, 999, 999), // after the horizon: the time series bucket answers
    ],
    downsampled.name,
  );
  const point = (at: number, value: number) =>
    `iot_telemetry,device_id=hist-1,metric=power,unit=W value=${value} ${at}`;
  await api.writePoints([
    point(T - 3 * HOUR + 600_000, 1000), // before the horizon's window: not read for aggregates
    point(T - 2 * HOUR + 600_000, 50),
    point(T - 2 * HOUR + 1_200_000, 70),
    point(T - HOUR + 300_000, 90),
  ]);
});

afterAll(async () => {
  await api.dispose();
  await downsampled.drop();
});

async function series(query: string) {
  const response = await api.call(
    'GET',
    `/api/devices/hist-1/metrics?start=${iso(T - 6 * HOUR)}&stop=${iso(T)}&${query}`,
  );
  expect(response.status).toBe(200);
  return (response.json as { time: string; value: number; metric: string; unit: string }[]).map((p) => [
    p.time,
    p.value,
  ]);
}
const at = (hoursBefore: number) => iso(T - hoursBefore * HOUR);

describe('aggregates past the retention', () => {
  it('read hourly windows before the horizon from the downsampled bucket, the rest from the points', async () => {
    expect(await series('aggregate=mean&every=1h')).toEqual([
      [at(5), 10],
      [at(4), 20],
      [at(3), 30],
      [at(2), 40],
      [at(1), 60],
      [at(0), 90],
    ]);
    expect(await series('aggregate=count&every=1h')).toEqual([
      [at(5), 1],
      [at(4), 3],
      [at(3), 2],
      [at(2), 2],
      [at(1), 2],
      [at(0), 1],
    ]);
    expect(await series('aggregate=max&every=1h')).toEqual([
      [at(5), 11],
      [at(4), 25],
      [at(3), 33],
      [at(2), 41],
      [at(1), 70],
      [at(0), 90],
    ]);
    expect(await series('aggregate=last&every=1h')).toEqual([
      [at(5), 12],
      [at(4), 22],
      [at(3), 31],
      [at(2), 39],
      [at(1), 70],
      [at(0), 90],
    ]);
  });

  it('combine downsampled hours into larger windows: the mean weighted by count', async () => {
    expect(await series('aggregate=mean&every=2h')).toEqual([
      [at(4), 17.5],
      [at(2), 35],
      [at(0), 70],
    ]);
    expect(await series('aggregate=min&every=2h')).toEqual([
      [at(4), 9],
      [at(2), 28],
      [at(0), 50],
    ]);
    expect(await series('aggregate=sum&every=2h')).toEqual([
      [at(4), 70],
      [at(2), 140],
      [at(0), 210],
    ]);
    expect(await series('aggregate=count&every=2h')).toEqual([
      [at(4), 4],
      [at(2), 4],
      [at(0), 3],
    ]);
    expect(await series('aggregate=last&every=2h')).toEqual([
      [at(4), 22],
      [at(2), 39],
      [at(0), 90],
    ]);
  });

  it('answer from the points alone when the downsampled bucket cannot: other windows, raw points', async () => {
    expect(await series('aggregate=max&every=30m')).toEqual([
      [iso(T - 2.5 * HOUR), 1000],
      [iso(T - 1.5 * HOUR), 70],
      [iso(T - 0.5 * HOUR), 90],
    ]);
    expect((await series('')).map(([, value]) => value)).toEqual([1000, 50, 70, 90]);
  });

  it("take the horizon from the time series bucket's retention in InfluxDB", async () => {
    const history = createHistory(
      { ...influx, INFLUX_BUCKET: api.influx.name },
      { bucket: 'x', everyMs: HOUR },
    );
    const now = Date.now();
    expect(await history.horizon(now)).toBeUndefined(); // kept forever
    const bucket = await findBucket(influx, api.influx.name);
    await influxRequest(influx, 'PATCH', `/api/v2/buckets/${bucket?.id}`, {
      retentionRules: expireAfterDays(1),
    });
    const fresh = createHistory(
      { ...influx, INFLUX_BUCKET: api.influx.name },
      { bucket: 'x', everyMs: HOUR },
    );
    expect((await fresh.horizon(now))?.getTime()).toBe(now - 86_400_000);
  });
});
