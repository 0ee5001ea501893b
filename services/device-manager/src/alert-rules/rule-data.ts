import {
  flux,
  fluxDateTime,
  fluxExpression,
  fluxString,
  type ParameterizedQuery,
  type QueryApi,
} from '@influxdata/influxdb-client';
import type { Sample } from './judge.js';

const time = (ms: number) => fluxDateTime(new Date(ms).toISOString());
const stringSet = (values: readonly string[]) =>
  fluxExpression(`[${values.map((v) => fluxString(v).toString()).join(', ')}]`);

function telemetry(bucket: string, startMs: number, stopMs: number, metric: string | null) {
  const metricFilter = metric === null ? fluxExpression('') : flux` and r.metric == ${fluxString(metric)}`;
  return flux`from(bucket: ${fluxString(bucket)})
  |> range(start: ${time(startMs)}, stop: ${time(stopMs)})
  |> filter(fn: (r) => r._measurement == "iot_telemetry" and r._field == "value"${metricFilter})`;
}

const onlyDevices = (ids: readonly string[] | undefined) =>
  ids === undefined
    ? fluxExpression('')
    : flux`|> filter(fn: (r) => contains(value: r.device_id, set: ${stringSet(ids)}))`;

/**
 * A metric's samples per device, oldest first, in one query for all devices: those from `startMs`
 * (of `devices`, when given), and for the `late` devices also those from `late.startMs` on (a device
 * backfilling after an outage).
 */
export async function querySamples(
  query: QueryApi,
  bucket: string,
  request: {
    metric: string;
    startMs: number;
    stopMs: number;
    devices?: readonly string[];
    late?: { startMs: number; devices: readonly string[] };
  },
): Promise<Map<string, Sample[]>> {
  const { metric, startMs, stopMs } = request;
  const recent = flux`${telemetry(bucket, startMs, stopMs, metric)}
  ${onlyDevices(request.devices)}`;
  const late =
    request.late && request.late.devices.length > 0 && request.late.startMs < startMs
      ? request.late
      : undefined;
  const tables: ParameterizedQuery = late
    ? flux`union(tables: [
  ${recent},
  ${telemetry(bucket, late.startMs, startMs, metric)} ${onlyDevices(late.devices)},
])`
    : recent;
  const script = flux`${tables}
  |> keep(columns: ["_time", "_value", "device_id"])
  |> group(columns: ["device_id"])
  |> sort(columns: ["_time"])`;
  const byDevice = new Map<string, Sample[]>();
  const rows = await query.collectRows(script, (values, meta) => ({
    device: values[meta.column('device_id').index] ?? '',
    sample: {
      time: Date.parse(values[meta.column('_time').index] ?? ''),
      value: Number(values[meta.column('_value').index]),
    },
  }));
  for (const { device, sample } of rows) {
    const list = byDevice.get(device);
    if (list) list.push(sample);
    else byDevice.set(device, [sample]);
  }
  return byDevice;
}

/** Each device's newest sample time from `startMs` on (of `metric`, or any). */
export async function queryLastSampleTimes(
  query: QueryApi,
  bucket: string,
  request: { metric: string | null; startMs: number; stopMs: number; devices?: readonly string[] },
): Promise<Map<string, number>> {
  const script = flux`${telemetry(bucket, request.startMs, request.stopMs, request.metric)}
  ${onlyDevices(request.devices)}
  |> last()
  |> keep(columns: ["_time", "_value", "device_id"])
  |> group(columns: ["device_id"])
  |> sort(columns: ["_time"])
  |> last()`;
  const rows = await query.collectRows(
    script,
    (values, meta) =>
      [
        values[meta.column('device_id').index] ?? '',
        Date.parse(values[meta.column('_time').index] ?? ''),
      ] as const,
  );
  return new Map(rows);
}
