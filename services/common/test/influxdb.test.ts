import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { influxEnv, loadConfig } from '../src/index.js';
import { createInflux } from '../src/storage/influx.js';

const config = loadConfig(influxEnv, inject('stackEnv'));
const influx = createInflux(config);
// A measurement of its own per run keeps runs apart in the shared bucket.
const measurement = `vitest_${randomBytes(4).toString('hex')}`;
const writer = influx.getWriteApi(config.INFLUX_ORG, config.INFLUX_BUCKET, 'ms');

afterAll(async () => {
  await writer.close();
});

describe('InfluxDB 2 through @influxdata/influxdb-client', () => {
  it('writes line protocol and reads the points back with Flux', async () => {
    const t0 = Date.parse('2026-11-01T12:00:00.000Z');
    writer.writeRecords([
      `${measurement},device_id=device-001,metric=temperature,unit=celsius value=23.5 ${t0}`,
      `${measurement},device_id=device-001,metric=temperature,unit=celsius value=23.75 ${t0 + 1000}`,
      `${measurement},device_id=device-002,metric=humidity value=41 ${t0}`,
      // The same series and time again: InfluxDB keeps one point, so a redelivery is harmless.
      `${measurement},device_id=device-001,metric=temperature,unit=celsius value=23.5 ${t0}`,
    ]);
    await writer.flush();

    const rows = await influx.getQueryApi(config.INFLUX_ORG).collectRows<Record<string, unknown>>(`
      from(bucket: "${config.INFLUX_BUCKET}")
        |> range(start: 2026-11-01T00:00:00Z, stop: 2026-11-02T00:00:00Z)
        |> filter(fn: (r) => r._measurement == "${measurement}")
        |> group()
        |> sort(columns: ["device_id", "_time"])`);
    expect(rows.map((r) => [r.device_id, r.metric, r.unit, r._time, r._value])).toEqual([
      ['device-001', 'temperature', 'celsius', '2026-11-01T12:00:00Z', 23.5],
      ['device-001', 'temperature', 'celsius', '2026-11-01T12:00:01Z', 23.75],
      // Flux's CSV gives a tag a series lacks as an empty string.
      ['device-002', 'humidity', '', '2026-11-01T12:00:00Z', 41],
    ]);
  });
});
