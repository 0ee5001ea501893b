import { randomBytes } from 'node:crypto';
import type { InfluxEnv } from '../config/env-schemas.js';

export type TestInfluxBucket = { name: string; drop: () => Promise<void> };

/** A fresh bucket on the stack's InfluxDB, for one test file, so files never see each other's points. */
export async function createTestInfluxBucket(influx: InfluxEnv, prefix = 'test'): Promise<TestInfluxBucket> {
  const name = `${prefix}-${randomBytes(4).toString('hex')}`;
  const headers = { authorization: `Token ${influx.INFLUX_TOKEN}`, 'content-type': 'application/json' };
  const api = (path: string) => new URL(path, influx.INFLUX_URL);
  const orgs = (await (
    await fetch(api(`/api/v2/orgs?org=${encodeURIComponent(influx.INFLUX_ORG)}`), { headers })
  ).json()) as { orgs: { id: string }[] };
  const created = await fetch(api('/api/v2/buckets'), {
    method: 'POST',
    headers,
    body: JSON.stringify({ orgID: orgs.orgs[0]?.id, name, retentionRules: [] }),
  });
  if (created.status !== 201) throw new Error(`bucket ${name}: ${created.status} ${await created.text()}`);
  const { id } = (await created.json()) as { id: string };
  return {
    name,
    async drop() {
      await fetch(api(`/api/v2/buckets/${id}`), { method: 'DELETE', headers });
    },
  };
}
