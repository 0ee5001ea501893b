import { flux, fluxExpression, fluxString } from '@influxdata/influxdb-client';
import { expireAfterDays, findBucket, influxRequest, orgId } from '@iot-meter/common';
import { type RetentionConfig, WINDOW, windowMs } from './retention-config.js';

type Influx = Pick<RetentionConfig, 'INFLUX_URL' | 'INFLUX_TOKEN' | 'INFLUX_ORG' | 'INFLUX_BUCKET'>;

export type Downsampling = {
  /** The bucket the aggregates go to. */
  bucket: string;
  /** The window, a duration like 15m, 1h or 1d. */
  every: string;
  /** Complete windows each run aggregates again. */
  lateWindows: number;
  /** Days the downsampled bucket keeps its points (0: forever). */
  days: number;
};

type Task = { id: string; name: string; flux: string; status: string };

/** The task's name, one per source bucket, so that several releases can share an org. */
export const downsampleTaskName = (source: string) => `iot-meter-downsample ${source}`;

/**
 * The task's Flux: mean, min, max, count and last value of each series (device, metric, unit) per window, for
 * the last `lateWindows` complete windows before the run's time. Points keep their series' tags and
 * the window's end as their time (as the API's aggregates do), so a run that aggregates a window
 * again overwrites its points: late points are folded in, and nothing is counted twice.
 */
export function downsampleFlux(source: string, org: string, downsampling: Downsampling): string {
  // Task options take duration literals only, so the window is checked and written as one.
  if (!WINDOW.test(downsampling.every)) throw new Error(`not a window: ${downsampling.every}`);
  const seconds = windowMs(downsampling.every) / 1000;
  const every = fluxExpression(downsampling.every);
  const lookback = fluxExpression(`${seconds * downsampling.lateWindows}s`);
  const name = downsampleTaskName(source);
  const aggregate = (fn: 'mean' | 'min' | 'max' | 'count' | 'last') =>
    flux`data
  |> aggregateWindow(every: ${every}, fn: ${fluxExpression(fn)}, createEmpty: false)
  |> set(key: "_field", value: ${fluxString(fn)})
  |> to(bucket: ${fluxString(downsampling.bucket)}, org: ${fluxString(org)})
  |> yield(name: ${fluxString(fn)})`;
  return `${flux`import "date"

option task = {name: ${fluxString(name)}, every: ${every}, offset: 1m}

stop = date.truncate(t: now(), unit: ${every})
data = from(bucket: ${fluxString(source)})
  |> range(start: date.sub(d: ${lookback}, from: stop), stop: stop)
  |> filter(fn: (r) => r._measurement == "iot_telemetry" and r._field == "value")`}

${aggregate('mean')}

${aggregate('min')}

${aggregate('max')}

${aggregate('count')}

${aggregate('last')}
`;
}

/**
 * Creates or updates the downsampled bucket (with its retention) and the task that fills it; with
 * `downsampling` undefined, removes the task (the bucket and its points stay).
 */
export async function applyDownsampling(
  influx: Influx,
  downsampling: Downsampling | undefined,
): Promise<void> {
  const orgID = await orgId(influx);
  const name = downsampleTaskName(influx.INFLUX_BUCKET);
  const query = new URLSearchParams({ orgID, name });
  const existing = (await influxRequest<{ tasks: Task[] }>(influx, 'GET', `/api/v2/tasks?${query}`)).tasks;
  // The list's name filter is a prefix match on some versions: keep exact matches only.
  const [task, ...extra] = existing.filter((t) => t.name === name);
  for (const stale of downsampling ? extra : [task, ...extra]) {
    if (stale) await influxRequest(influx, 'DELETE', `/api/v2/tasks/${stale.id}`);
  }
  if (!downsampling) return;
  if (downsampling.bucket === influx.INFLUX_BUCKET) {
    throw new Error('the downsampled bucket must not be the time series bucket itself');
  }

  const retentionRules = expireAfterDays(downsampling.days);
  const bucket = await findBucket(influx, downsampling.bucket);
  if (bucket) await influxRequest(influx, 'PATCH', `/api/v2/buckets/${bucket.id}`, { retentionRules });
  else
    await influxRequest(influx, 'POST', '/api/v2/buckets', {
      orgID,
      name: downsampling.bucket,
      retentionRules,
    });

  const script = downsampleFlux(influx.INFLUX_BUCKET, influx.INFLUX_ORG, downsampling);
  if (task)
    await influxRequest(influx, 'PATCH', `/api/v2/tasks/${task.id}`, { flux: script, status: 'active' });
  else await influxRequest(influx, 'POST', '/api/v2/tasks', { orgID, flux: script, status: 'active' });
}
