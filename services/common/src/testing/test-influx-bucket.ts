import { randomBytes } from 'node:crypto';
import type { InfluxEnv } from '../config/env-schemas.js';
import { influxRequest, orgId } from '../storage/influx-http.js';

export type TestInfluxBucket = {
  name: string;
  /** A token that may only write this bucket: the collector's, as the stack and the chart scope it. */
  writeToken: string;
  drop: () => Promise<void>;
};

/** A fresh bucket on the stack's InfluxDB, for one test file, so files never see each other's points. */
export async function createTestInfluxBucket(influx: InfluxEnv, prefix = 'test'): Promise<TestInfluxBucket> {
  const name = `${prefix}-${randomBytes(4).toString('hex')}`;
  const orgID = await orgId(influx);
  const bucket = await influxRequest<{ id: string }>(influx, 'POST', '/api/v2/buckets', {
    orgID,
    name,
    retentionRules: [],
  });
  const writer = await influxRequest<{ id: string; token: string }>(
    influx,
    'POST',
    '/api/v2/authorizations',
    {
      orgID,
      description: `${name} writer`,
      permissions: [{ action: 'write', resource: { type: 'buckets', id: bucket.id, orgID } }],
    },
  );
  return {
    name,
    writeToken: writer.token,
    async drop() {
      await influxRequest(influx, 'DELETE', `/api/v2/authorizations/${writer.id}`);
      await influxRequest(influx, 'DELETE', `/api/v2/buckets/${bucket.id}`);
    },
  };
}
