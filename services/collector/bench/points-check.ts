import type { QueryApi } from '@influxdata/influxdb-client';

/** The points to compare: the devices whose ids start with `devicePrefix`, between `start` and `stop`. */
export type PointsScope = {
  devicePrefix: string;
  start: string;
  stop: string;
  /** Devices whose points are compared column by column, tags Flux was not asked about included. */
  sampleDevices: readonly string[];
};

type Row = Record<string, unknown>;

/**
 * Fails loudly unless two buckets hold the same points in `scope`: per series (device, metric, unit,
 * field) the same count, sum and first and last time, and every column of the sample devices'
 * points alike. Returns how many points were compared.
 */
export async function assertSamePoints(
  query: QueryApi,
  expectedBucket: string,
  actualBucket: string,
  scope: PointsScope,
): Promise<number> {
  const [expected, actual] = await Promise.all([
    seriesSummaries(query, expectedBucket, scope),
    seriesSummaries(query, actualBucket, scope),
  ]);
  const differences = [...new Set([...expected.keys(), ...actual.keys()])]
    .filter((series) => expected.get(series) !== actual.get(series))
    .map(
      (series) =>
        `${series}: ${expectedBucket} ${expected.get(series)}, ${actualBucket} ${actual.get(series)}`,
    );
  for (const device of scope.sampleDevices) {
    const [want, got] = await Promise.all([
      devicePoints(query, expectedBucket, device, scope),
      devicePoints(query, actualBucket, device, scope),
    ]);
    const at = Array.from({ length: Math.max(want.length, got.length) }, (_, i) => i).find(
      (i) => want[i] !== got[i],
    );
    if (at !== undefined)
      differences.push(`${device}, point ${at}: ${want[at] ?? 'none'} against ${got[at] ?? 'none'}`);
  }
  if (differences.length > 0)
    throw new Error(
      `the points of ${actualBucket} differ from those of ${expectedBucket}:\n${differences.slice(0, 10).join('\n')}`,
    );
  return [...expected.values()].reduce((sum, summary) => sum + Number(summary.split(' ')[0]), 0);
}

const range = (bucket: string, scope: PointsScope) =>
  `from(bucket: ${JSON.stringify(bucket)}) |> range(start: ${scope.start}, stop: ${scope.stop})`;

/** "count sum first last" for each series; the sum adds each series' values in time order in both buckets. */
async function seriesSummaries(query: QueryApi, bucket: string, scope: PointsScope) {
  const rows = await query.collectRows<Row>(`${range(bucket, scope)}
    |> filter(fn: (r) => r._measurement == "iot_telemetry" and r.device_id =~ /^${scope.devicePrefix}/)
    |> group(columns: ["device_id", "metric", "unit", "_field"])
    |> reduce(
      identity: {n: 0, sum: 0.0, first: 2100-01-01T00:00:00Z, last: 1970-01-01T00:00:00Z},
      fn: (r, accumulator) => ({
        n: accumulator.n + 1,
        sum: accumulator.sum + r._value,
        first: if r._time < accumulator.first then r._time else accumulator.first,
        last: if r._time > accumulator.last then r._time else accumulator.last,
      }),
    )`);
  return new Map(
    rows.map((r) => [
      `${r.device_id} ${r.metric} ${r.unit ?? '(no unit)'} ${r._field}`,
      `${r.n} ${r.sum} ${r.first} ${r.last}`,
    ]),
  );
}

/** A device's points in time order, each as JSON of all its columns but the query's own. */
async function devicePoints(query: QueryApi, bucket: string, device: string, scope: PointsScope) {
  const rows = await query.collectRows<Row>(`${range(bucket, scope)}
    |> filter(fn: (r) => r.device_id == ${JSON.stringify(device)})
    |> group()
    |> sort(columns: ["_time", "_measurement", "metric", "_field"])`);
  return rows.map(({ result, table, _start, _stop, ...point }) =>
    JSON.stringify(Object.fromEntries(Object.entries(point).sort(([a], [b]) => a.localeCompare(b)))),
  );
}
