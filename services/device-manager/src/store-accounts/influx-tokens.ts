import { findBucket, type InfluxEnv, influxRequest, orgId } from '@iot-meter/common';

/** The services that get a token of their own, and what each may do (docs/security.md). */
export const TOKEN_SERVICES = ['collector', 'device-manager'] as const;
export type TokenService = (typeof TOKEN_SERVICES)[number];
export type ServiceTokens = Record<TokenService, string>;

type Permission = { action: string; resource: { type: string; id?: string; orgID?: string } };
type Authorization = { id: string; token: string; status: string; permissions: Permission[] };

/** What a permission allows, whatever else InfluxDB adds to it (names of the bucket and org). */
const grantOf = (p: Permission) =>
  `${p.action}:${p.resource.type}:${p.resource.orgID}:${p.resource.id ?? '*'}`;
const sameGrants = (a: Permission[], b: Permission[]) =>
  a.map(grantOf).sort().join() === b.map(grantOf).sort().join();

/**
 * The collector's token may only write the bucket; the API's may only read the org's buckets (the
 * time series and the downsampled one). InfluxDB makes a token's value itself, so the tokens that
 * `current` holds are kept while InfluxDB still has them active with exactly these rights (a bucket
 * made again has a new id), and the others made anew.
 */
export async function ensureServiceTokens(
  influx: InfluxEnv,
  current: Partial<ServiceTokens>,
): Promise<ServiceTokens> {
  const orgID = await orgId(influx);
  const bucket = await findBucket(influx, influx.INFLUX_BUCKET);
  if (!bucket) throw new Error(`InfluxDB: no bucket ${influx.INFLUX_BUCKET}`);
  const permissions: Record<TokenService, Permission[]> = {
    collector: [{ action: 'write', resource: { type: 'buckets', id: bucket.id, orgID } }],
    'device-manager': [{ action: 'read', resource: { type: 'buckets', orgID } }],
  };
  // The operator's list holds every token's value.
  const { authorizations } = await influxRequest<{ authorizations: Authorization[] }>(
    influx,
    'GET',
    `/api/v2/authorizations?orgID=${orgID}`,
  );
  const tokens = {} as ServiceTokens;
  for (const service of TOKEN_SERVICES) {
    const known = authorizations.find((a) => a.token === current[service]);
    if (known && known.status === 'active' && sameGrants(known.permissions, permissions[service])) {
      tokens[service] = known.token;
      continue;
    }
    const created = await influxRequest<Authorization>(influx, 'POST', '/api/v2/authorizations', {
      orgID,
      description: `iot-meter ${service}`,
      permissions: permissions[service],
    });
    tokens[service] = created.token;
  }
  return tokens;
}
