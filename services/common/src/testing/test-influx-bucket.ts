import { randomBytes } from 'node:crypto';
import type { InfluxEnv } from '../config/env-schemas.js';
import { influxRequest, orgId } from '../storage/influx-http.js';

export type TestInfluxBucket = { name: string; drop: () => Promise<void> };

/** A fresh bucket on the stack's InfluxDB, for one test file, so files never see each other's points. */
export async function createTestInfluxBucket(influx: InfluxEnv, prefix = 'test'): Promise<TestInfluxBucket> {
  const name = `${prefix}-${randomBytes(4).toString('hex')}`;
  const { id } = await influxRequest<{ id: string }>(influx, 'POST', '/api/v2/buckets', {
    orgID: await orgId(influx),
    name,
    retentionRules: [],
  });
  return {
    name,
    async drop() {
      await influxRequest(influx, 'DELETE', `/api/v2/buckets/${id}`);
    },
  };
}
