import {
  flux,
  fluxDateTime,
  fluxDuration,
  fluxExpression,
  fluxInteger,
  fluxString,
  type QueryApi,
} from '@influxdata/influxdb-client';
import { tracedCall } from '../telemetry/traced-call.js';

export const AGGREGATES = ['mean', 'min', 'max', 'sum', 'count', 'last'] as const;
export type Aggregate = (typeof AGGREGATES)[number];

export type MetricPoint = { time: string; device_id: string; metric: string; value: number; unit?: string };

type Row = { _time: string; _value: number; metric: string; unit?: string };

/**
 * Reads a device's points from `iot_telemetry`, ordered by time across metrics, optionally
 * aggregated per window. Returns at most `maxPoints + 1` points, so the caller can tell the answer
 * was cut. Every value reaches Flux through the client's escaping.
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
  },
): Promise<MetricPoint[]> {
  const metricFilter = request.metric
    ? flux`|> filter(fn: (r) => r.metric == ${fluxString(request.metric)})`
    : fluxExpression('');
  const window = request.aggregate
    ? flux`|> aggregateWindow(every: ${fluxDuration(`${request.aggregate.everyMs}ms`)}, fn: ${fluxExpression(request.aggregate.fn)}, createEmpty: false)`
    : fluxExpression('');
  const rows = await tracedCall('influxdb query', { 'db.system': 'influxdb', 'db.namespace': bucket }, () =>
    query.collectRows<Row>(flux`from(bucket: ${fluxString(bucket)})
  |> range(start: ${fluxDateTime(request.start.toISOString())}, stop: ${fluxDateTime(request.stop.toISOString())})
  |> filter(fn: (r) => r._measurement == "iot_telemetry" and r._field == "value" and r.device_id == ${fluxString(request.deviceId)})
  ${metricFilter}
  ${window}
  |> group()
  |> sort(columns: ["_time", "metric"])
  |> limit(n: ${fluxInteger(request.maxPoints + 1)})`),
  );
  return rows.map((r) => ({
    time: r._time,
    device_id: request.deviceId,
    metric: r.metric,
    value: Number(r._value),
    ...(r.unit ? { unit: r.unit } : {}),
  }));
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
