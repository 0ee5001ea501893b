import type { InfluxEnv } from '../config/env-schemas.js';

type Influx = Pick<InfluxEnv, 'INFLUX_URL' | 'INFLUX_TOKEN' | 'INFLUX_ORG'>;

function call(influx: Influx, method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(new URL(path, influx.INFLUX_URL), {
    method,
    headers: { authorization: `Token ${influx.INFLUX_TOKEN}`, 'content-type': 'application/json' },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
}

async function failure(method: string, path: string, response: Response): Promise<Error> {
  const what = `${method} ${path.split('?')[0]}`;
  return new Error(`InfluxDB: ${what} answered ${response.status}: ${await response.text()}`);
}

/** One call to InfluxDB 2's HTTP API with the token; a non-2xx answer throws, naming the call. */
export async function influxRequest<T = unknown>(
  influx: Influx,
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
  path: string,
  body?: unknown,
): Promise<T> {
  const response = await call(influx, method, path, body);
  if (!response.ok) throw await failure(method, path, response);
  return (response.status === 204 ? undefined : await response.json()) as T;
}

export type Bucket = {
  id: string;
  name: string;
  retentionRules: { type: string; everySeconds: number; shardGroupDurationSeconds?: number }[];
};

/** The org's bucket named `name`, if there is one. */
export async function findBucket(influx: Influx, name: string): Promise<Bucket | undefined> {
  const path = `/api/v2/buckets?${new URLSearchParams({ name, org: influx.INFLUX_ORG })}`;
  const response = await call(influx, 'GET', path);
  // Asked for by name, InfluxDB answers 404 when there is none.
  if (response.status === 404) return undefined;
  if (!response.ok) throw await failure('GET', path, response);
  return ((await response.json()) as { buckets: Bucket[] }).buckets[0];
}

/** The id of the org `INFLUX_ORG`. */
export async function orgId(influx: Influx): Promise<string> {
  const query = new URLSearchParams({ org: influx.INFLUX_ORG });
  const [org] = (await influxRequest<{ orgs: { id: string }[] }>(influx, 'GET', `/api/v2/orgs?${query}`))
    .orgs;
  if (!org) throw new Error(`InfluxDB: no org ${influx.INFLUX_ORG}`);
  return org.id;
}

/**
 * InfluxDB's retention rule for `days` (0: forever; an empty list would leave the rule as it was).
 * InfluxDB refuses a retention shorter than the bucket's shard groups, so they are set as it sizes
 * them for a new bucket: an hour under two days, a day under six months, else a week.
 */
export function expireAfterDays(days: number) {
  const shardGroupDays = days === 0 || days >= 183 ? 7 : days >= 2 ? 1 : 1 / 24;
  return [
    { type: 'expire', everySeconds: days * 86_400, shardGroupDurationSeconds: shardGroupDays * 86_400 },
  ];
}
