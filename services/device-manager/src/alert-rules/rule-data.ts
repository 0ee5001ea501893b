import {
  type FluxTableMetaData,
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

/** Samples as a table per device, oldest first: what the judgement walks through. */
const byDeviceInTimeOrder = (tables: ParameterizedQuery) => flux`${tables}
  |> keep(columns: ["_time", "_value", "device_id"])
  |> group(columns: ["device_id"])
  |> sort(columns: ["_time"])`;

function deviceSample(values: string[], meta: FluxTableMetaData): { device: string; sample: Sample } {
  return {
    device: values[meta.column('device_id').index] ?? '',
    sample: {
      time: Date.parse(values[meta.column('_time').index] ?? ''),
      value: Number(values[meta.column('_value').index]),
    },
  };
}

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
  const byDevice = new Map<string, Sample[]>();
  const rows = await query.collectRows(byDeviceInTimeOrder(tables), deviceSample);
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

/**
 * A metric's samples over a window, one device after another (each oldest first), as the query
 * streams them: a preview judges them as they come and keeps none.
 */
export async function* streamSamples(
  query: QueryApi,
  bucket: string,
  request: { metric: string; startMs: number; stopMs: number; devices?: readonly string[] },
): AsyncGenerator<{ device: string; sample: Sample }> {
  const tables = flux`${telemetry(bucket, request.startMs, request.stopMs, request.metric)}
  ${onlyDevices(request.devices)}`;
  for await (const { values, tableMeta } of query.iterateRows(byDeviceInTimeOrder(tables))) {
    yield deviceSample(values, tableMeta);
  }
}

/** Per device: its first and last sample times in a window, and each gap between samples above `gapMs`. */
export type SampleSpan = { first: number; last: number; gaps: { from: number; to: number }[] };

/** Each device's samples (of `metric`, or any) as spans and silences, computed in InfluxDB: one query. */
export async function querySampleSpans(
  query: QueryApi,
  bucket: string,
  request: {
    metric: string | null;
    startMs: number;
    stopMs: number;
    gapMs: number;
    devices?: readonly string[];
  },
): Promise<Map<string, SampleSpan>> {
  const script = flux`data = ${telemetry(bucket, request.startMs, request.stopMs, request.metric)}
  ${onlyDevices(request.devices)}
  |> keep(columns: ["_time", "device_id"])
  |> group(columns: ["device_id"])
  |> sort(columns: ["_time"])
union(tables: [
  data |> elapsed(unit: 1ms) |> filter(fn: (r) => r.elapsed > ${request.gapMs}) |> map(fn: (r) => ({_time: r._time, device_id: r.device_id, kind: "gap", elapsed: r.elapsed})),
  data |> first(column: "_time") |> map(fn: (r) => ({_time: r._time, device_id: r.device_id, kind: "first", elapsed: 0})),
  data |> last(column: "_time") |> map(fn: (r) => ({_time: r._time, device_id: r.device_id, kind: "last", elapsed: 0})),
])
  |> group(columns: ["device_id"])
  |> sort(columns: ["_time"])`;
  const spans = new Map<string, SampleSpan>();
  const rows = await query.collectRows(script, (values, meta) => ({
    device: values[meta.column('device_id').index] ?? '',
    time: Date.parse(values[meta.column('_time').index] ?? ''),
    kind: values[meta.column('kind').index],
    elapsed: Number(values[meta.column('elapsed').index]),
  }));
  for (const { device, time, kind, elapsed } of rows) {
    const span = spans.get(device) ?? { first: time, last: time, gaps: [] };
    spans.set(device, span);
    if (kind === 'first') span.first = time;
    else if (kind === 'last') span.last = time;
    else span.gaps.push({ from: time - elapsed, to: time });
  }
  return spans;
}
