import {
  flux,
  fluxDateTime,
  fluxDuration,
  fluxExpression,
  fluxInteger,
  fluxString,
  type QueryApi,
} from '@influxdata/influxdb-client';
import { tracedCall } from '../observability/traced-call.js';

export const AGGREGATES = ['mean', 'min', 'max', 'sum', 'count', 'last'] as const;
export type Aggregate = (typeof AGGREGATES)[number];

export type MetricPoint = { time: string; device_id: string; metric: string; value: number; unit?: string };

type Row = { _time: string; _value: number; metric: string; unit?: string };

/**
 * Reads a device's points from `iot_telemetry`, ordered by time across metrics, optionally
 * aggregated per window. Returns at most `maxPoints + 1` points, so the caller can tell the answer
 * was cut. Every value reaches Flux through the client's escaping.
 *
 * With `history`, an aggregate whose window is a multiple of the downsampling window reads the
 * windows before the time series bucket's retention `horizon` from the downsampled bucket (mean
 * weighted by count, min, max, count, sum, last) and the rest from the time series bucket.
 */
export async function findMetricPoints(
  query: QueryApi,
  bucket: string,
  request: {
    deviceId: string;
    start: Date;
    stop: Date;
    metric?: string;
    aggregate?: { fn: Aggregate; everyMs: number };
    maxPoints: number;
    history?: { bucket: string; everyMs: number; horizon: Date };
  },
): Promise<MetricPoint[]> {
  const { start, stop, aggregate, history } = request;
  const metricFilter = request.metric
    ? flux`|> filter(fn: (r) => r.metric == ${fluxString(request.metric)})`
    : fluxExpression('');
  const time = (date: Date) => fluxDateTime(date.toISOString());
  const points = (from: Date) => flux`from(bucket: ${fluxString(bucket)})
  |> range(start: ${time(from)}, stop: ${time(stop)})
  |> filter(fn: (r) => r._measurement == "iot_telemetry" and r._field == "value" and r.device_id == ${fluxString(request.deviceId)})
  ${metricFilter}
  ${aggregate ? flux`|> aggregateWindow(every: ${fluxDuration(`${aggregate.everyMs}ms`)}, fn: ${fluxExpression(aggregate.fn)}, createEmpty: false)` : fluxExpression('')}`;
  const end = flux`|> group()
  |> sort(columns: ["_time", "metric"])
  |> limit(n: ${fluxInteger(request.maxPoints + 1)})`;

  let script = flux`${points(start)}
  ${end}`;
  const windowMs = aggregate?.everyMs ?? 0;
  if (aggregate && history && windowMs % history.everyMs === 0 && start < history.horizon) {
    // Windows that end past the horizon come whole from the downsampled bucket.
    const until = new Date(
      Math.min(stop.getTime(), Math.ceil(history.horizon.getTime() / windowMs) * windowMs),
    );
    const old = downsampledAggregate(request.deviceId, metricFilter, aggregate.fn, {
      bucket: history.bucket,
      everyMs: history.everyMs,
      windowMs,
      start,
      until,
    });
    script =
      until < stop
        ? flux`union(tables: [${old}, ${points(until)} |> keep(columns: ["_time", "_value", "metric", "unit"])])
  ${end}`
        : flux`${old}
  ${end}`;
  }
  const rows = await tracedCall('influxdb query', { 'db.system': 'influxdb', 'db.namespace': bucket }, () =>
    query.collectRows<Row>(flux`import "date"
import "math"
${script}`),
  );
  return rows.map((r) => ({
    time: r._time,
    device_id: request.deviceId,
    metric: r.metric,
    value: Number(r._value),
    ...(r.unit ? { unit: r.unit } : {}),
  }));
}

const FROM_DOWNSAMPLED: Record<Aggregate, string> = {
  mean: 'r.total / r.n',
  sum: 'r.total',
  count: 'int(v: r.n)',
  min: 'r.lo',
  max: 'r.hi',
  last: 'r._value',
};

/**
 * One aggregate per window over [start, until) from the downsampled bucket, whose points are timed
 * at the end of their (smaller) window: each is moved to its window's start, then the windows are
 * combined (the mean weighted by each one's count, the last one's last value) and timed at their
 * end, as aggregateWindow does.
 */
function downsampledAggregate(
  deviceId: string,
  metricFilter: ReturnType<typeof flux>,
  fn: Aggregate,
  range: { bucket: string; everyMs: number; windowMs: number; start: Date; until: Date },
) {
  const time = (ms: number) => fluxDateTime(new Date(ms).toISOString());
  const every = fluxDuration(`${range.everyMs}ms`);
  const until = time(range.until.getTime());
  const window = flux`|> window(every: ${fluxDuration(`${range.windowMs}ms`)}, createEmpty: false)`;
  const combine =
    fn === 'last'
      ? flux`|> filter(fn: (r) => r._field == "last")
  ${window}
  |> last()`
      : flux`|> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")
  ${window}
  |> reduce(
    identity: {total: 0.0, n: 0.0, lo: math.mInf(sign: 1), hi: math.mInf(sign: -1)},
    fn: (r, accumulator) => ({
      total: accumulator.total + r.mean * float(v: r.count),
      n: accumulator.n + float(v: r.count),
      lo: if r.min < accumulator.lo then r.min else accumulator.lo,
      hi: if r.max > accumulator.hi then r.max else accumulator.hi,
    }),
  )`;
  return flux`from(bucket: ${fluxString(range.bucket)})
  |> range(start: ${time(range.start.getTime())}, stop: ${time(range.until.getTime() + range.everyMs)})
  |> filter(fn: (r) => r._measurement == "iot_telemetry" and r.device_id == ${fluxString(deviceId)} and r._time >= ${time(range.start.getTime() + range.everyMs)})
  ${metricFilter}
  |> map(fn: (r) => ({r with _time: date.sub(d: ${every}, from: r._time)}))
  ${combine}
  |> map(fn: (r) => ({r with _value: ${fluxExpression(FROM_DOWNSAMPLED[fn])}, _time: if r._stop > ${until} then ${until} else r._stop}))
  |> keep(columns: ["_time", "_value", "metric", "unit"])`;
}

/** Each metric's newest point in the last 30 days. */
export async function findLatestValues(query: QueryApi, bucket: string, deviceId: string) {
  const rows = await tracedCall('influxdb query', { 'db.system': 'influxdb', 'db.namespace': bucket }, () =>
    query.collectRows<Row>(flux`from(bucket: ${fluxString(bucket)})
  |> range(start: -30d)
  |> filter(fn: (r) => r._measurement == "iot_telemetry" and r._field == "value" and r.device_id == ${fluxString(deviceId)})
  |> last()
  |> group()
  |> sort(columns: ["metric"])`),
  );
  return rows.map((r) => ({
    metric: r.metric,
    value: Number(r._value),
    time: r._time,
    ...(r.unit ? { unit: r.unit } : {}),
  }));
}
