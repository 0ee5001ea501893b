import { readFile } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { type Kysely, type RawBuilder, sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { influxEnv, loadConfig, s3Env } from '../src/index.js';
import { createDatabase } from '../src/storage/database.js';
import { findBucket, orgId } from '../src/storage/influx-http.js';
import { createObjectStore } from '../src/storage/object-store.js';
import {
  createMinioAdmin,
  createTestBucket,
  createTestDatabase,
  createTestInfluxBucket,
  type TestBucket,
  type TestDatabase,
  type TestInfluxBucket,
} from '../src/testing/index.js';

// Each service's own credentials, as the stack provisions them (docs/security.md, "Least privilege
// in the stores"), against the real servers: what the service needs works, the rest is refused
// with the store's own answer. The services' integration tests run with these same credentials.
const stackEnv = inject('stackEnv');

/** Each statement fails with PostgreSQL's "insufficient privilege" (42501). */
async function expectRefused(db: Kysely<unknown>, statements: RawBuilder<unknown>[]) {
  for (const statement of statements) {
    await expect(statement.execute(db), statement.compile(db).sql).rejects.toMatchObject({ code: '42501' });
  }
}

describe('PostgreSQL: a role per service', () => {
  let database: TestDatabase;
  let collector: Kysely<unknown>;
  let api: Kysely<unknown>;
  beforeAll(async () => {
    database = await createTestDatabase(stackEnv.DATABASE_URL ?? '');
    collector = createDatabase({ DATABASE_URL: database.urlAs(stackEnv.COLLECTOR_DATABASE_URL ?? '') });
    api = createDatabase({ DATABASE_URL: database.urlAs(stackEnv.DEVICE_MANAGER_DATABASE_URL ?? '') });
    await sql`insert into devices (device_id, device_name) values ('priv-1', 'Probe')`.execute(database.db);
    await sql`insert into api_keys (name, role, key_prefix, key_hash, created_by)
      values ('ops', 'admin', 'iotk_priv', 'x', 'test')`.execute(database.db);
  });
  afterAll(async () => {
    await collector?.destroy();
    await api?.destroy();
    await database?.drop();
  });

  it('grants each role exactly these rights, table by table (a new table is nobody’s until granted)', async () => {
    const grants = async (role: string) => {
      const { rows } = await sql<{ grant: string }>`
        select table_name || ': ' || string_agg(privilege_type, ',' order by privilege_type) as grant
        from information_schema.role_table_grants where grantee = ${role} and table_schema = 'public'
        group by table_name order by table_name`.execute(database.db);
      const columns = await sql<{ grant: string }>`
        select table_name || '(' || column_name || '): ' || string_agg(privilege_type, ',' order by privilege_type) as grant
        from information_schema.column_privileges c where grantee = ${role} and table_schema = 'public'
          and not exists (select 1 from information_schema.role_table_grants t where t.grantee = c.grantee
            and t.table_name = c.table_name and t.privilege_type = c.privilege_type)
        group by table_name, column_name order by table_name, column_name`.execute(database.db);
      return [...rows, ...columns.rows].map((r) => r.grant);
    };
    expect(await grants('iot_meter_collector')).toEqual([
      'archive_segments: INSERT',
      'collector_sessions: DELETE,INSERT,SELECT,UPDATE',
      'device_presence: INSERT,SELECT,UPDATE',
      'device_sequences: INSERT,SELECT,UPDATE',
      'archive_segments(device_id): SELECT',
      'archive_segments(object_key): SELECT',
      'device_commands(ack_detail): UPDATE',
      'device_commands(acked_at): SELECT,UPDATE',
      'device_commands(cmd_id): SELECT',
      'device_commands(device_id): SELECT',
      'device_commands(status): UPDATE',
      'devices(device_id): SELECT',
    ]);
    expect(await grants('iot_meter_device_manager')).toEqual([
      'alert_notifications: DELETE,INSERT,SELECT,UPDATE',
      'alert_rule_states: DELETE,INSERT,SELECT,UPDATE',
      'alert_rules: DELETE,INSERT,SELECT,UPDATE',
      'api_keys: DELETE,INSERT,SELECT,UPDATE',
      'archive_segments: SELECT',
      'device_alerts: DELETE,INSERT,SELECT,UPDATE',
      'device_commands: DELETE,INSERT,SELECT,UPDATE',
      'device_configs: DELETE,INSERT,SELECT,UPDATE',
      'device_credentials: DELETE,INSERT,SELECT,UPDATE',
      'device_presence: DELETE,INSERT,SELECT,UPDATE',
      'devices: DELETE,INSERT,SELECT,UPDATE',
      'webhooks: DELETE,INSERT,SELECT,UPDATE',
      // What the sequence_gap rules read of the collectors' tracking.
      'device_sequences(device_id): SELECT',
      'device_sequences(missing): SELECT',
    ]);
  });

  it('refuses the collector the API keys, the credentials, the registry and the schema (42501)', async () => {
    await expectRefused(collector, [
      sql`select * from api_keys`,
      sql`select key_hash from api_keys where key_prefix = 'iotk_priv'`,
      sql`update api_keys set revoked_at = null`,
      sql`insert into api_keys (name, role, key_prefix, key_hash, created_by) values ('x', 'admin', 'p', 'h', 'c')`,
      sql`delete from api_keys`,
      sql`select * from device_credentials`,
      sql`select device_name, metadata from devices`,
      sql`update devices set status = 'active'`,
      sql`delete from devices`,
      sql`select * from device_alerts`,
      // Sequence gaps are alert rules' now: the collectors write no alerts.
      sql`insert into device_alerts (device_id, alert_type, severity, message) values ('priv-1', 'sequence_gap', 'warning', 'gap')`,
      sql`select params from device_commands`,
      sql`select * from archive_segments`,
      sql`delete from archive_segments`,
      sql`truncate device_presence`,
      sql`drop table collector_sessions`,
      sql`create table stolen (id int)`,
    ]);
  });

  it('lets the collector do its job: presence, sequences, session filters, archive index, acks', async () => {
    await sql`insert into device_presence (device_id, connection_status, status_changed_at, last_seen)
      values ('priv-1', 'online', now(), now())
      on conflict (device_id) do update set last_seen = greatest(excluded.last_seen, device_presence.last_seen)`.execute(
      collector,
    );
    await sql`insert into collector_sessions (client_id, filters) values ('c-0', '{a}')`.execute(collector);
    await sql`delete from collector_sessions where client_id = 'c-0'`.execute(collector);
    await sql`insert into archive_segments (kind, device_id, object_key, byte_offset, byte_length,
        message_count, first_received_at, last_received_at)
      values ('raw', 'priv-1', 'raw/k', 0, 1, 1, now(), now())
      on conflict (object_key, device_id) do nothing`.execute(collector);
    await sql`insert into device_sequences (device_id, high_seq, missing) values ('priv-1', 5, '{3}')`.execute(
      collector,
    );
    // The API reads what is missing for its sequence_gap rules, and nothing else of the tracking.
    const { rows } = await sql<{ n: number }>`
      select cardinality(missing) as n from device_sequences where device_id = 'priv-1'`.execute(api);
    expect(rows).toEqual([{ n: 1 }]);
  });

  it('refuses the API the collector’s own tables and writes to the archive index (42501)', async () => {
    await expectRefused(api, [
      sql`select * from collector_sessions`,
      sql`select * from device_sequences`,
      sql`select gaps from device_sequences`,
      sql`update device_sequences set missing = '{}'`,
      sql`delete from archive_segments`,
      sql`drop table api_keys`,
      sql`create table stolen (id int)`,
    ]);
    const { rows } = await sql<{ key_prefix: string }>`select key_prefix from api_keys`.execute(api);
    expect(rows).toEqual([{ key_prefix: 'iotk_priv' }]);
  });
});

describe('InfluxDB: a token per service', () => {
  const influx = loadConfig(influxEnv, stackEnv);
  const apiToken = stackEnv.DEVICE_MANAGER_INFLUX_TOKEN ?? '';
  let bucket: TestInfluxBucket;
  let other: TestInfluxBucket;
  beforeAll(async () => {
    bucket = await createTestInfluxBucket(influx, 'privileges');
    other = await createTestInfluxBucket(influx, 'privileges-other');
  });
  afterAll(async () => {
    await bucket?.drop();
    await other?.drop();
  });

  /** One call with `token`; answers the status and InfluxDB's error code (or the CSV of a query). */
  async function call(token: string, method: string, path: string, body?: string) {
    const response = await fetch(new URL(path, influx.INFLUX_URL), {
      method,
      headers: {
        authorization: `Token ${token}`,
        'content-type': path.startsWith('/api/v2/query') ? 'application/vnd.flux' : 'application/json',
      },
      body,
    });
    const text = await response.text();
    return { status: response.status, code: text.startsWith('{') ? JSON.parse(text).code : undefined, text };
  }
  const write = (token: string, name: string) =>
    call(
      token,
      'POST',
      `/api/v2/write?org=${influx.INFLUX_ORG}&bucket=${name}&precision=ms`,
      `probe,device_id=p value=1 ${Date.now()}`,
    );
  const query = (token: string, name: string) =>
    call(
      token,
      'POST',
      `/api/v2/query?org=${influx.INFLUX_ORG}`,
      `from(bucket: "${name}") |> range(start: -1h)`,
    );

  it('gives the stack’s tokens exactly these permissions: the collector writes its bucket, the API reads the org', async () => {
    const orgID = await orgId(influx);
    const metrics = await findBucket(influx, influx.INFLUX_BUCKET);
    const { authorizations } = (await (
      await fetch(new URL(`/api/v2/authorizations?orgID=${orgID}`, influx.INFLUX_URL), {
        headers: { authorization: `Token ${influx.INFLUX_TOKEN}` },
      })
    ).json()) as { authorizations: { token: string; permissions: { action: string; resource: object }[] }[] };
    const permissions = (token: string | undefined) =>
      authorizations
        .find((a) => a.token === token)
        ?.permissions.map((p) => ({ action: p.action, resource: p.resource }));
    expect(permissions(stackEnv.COLLECTOR_INFLUX_TOKEN)).toEqual([
      {
        action: 'write',
        resource: {
          type: 'buckets',
          id: metrics?.id,
          orgID,
          name: influx.INFLUX_BUCKET,
          org: influx.INFLUX_ORG,
        },
      },
    ]);
    expect(permissions(apiToken)).toEqual([
      { action: 'read', resource: { type: 'buckets', orgID, org: influx.INFLUX_ORG } },
    ]);
  });

  it('lets the collector’s token write its bucket, and refuses it queries, other buckets and tokens', async () => {
    expect((await write(bucket.writeToken, bucket.name)).status).toBe(204);
    expect(await query(bucket.writeToken, bucket.name)).toMatchObject({
      status: 404,
      code: 'not found',
      text: expect.stringContaining(`could not find bucket \\"${bucket.name}\\"`),
    });
    expect(await write(bucket.writeToken, other.name)).toMatchObject({ status: 403, code: 'forbidden' });
    const tokens = await call(
      bucket.writeToken,
      'POST',
      '/api/v2/authorizations',
      JSON.stringify({
        orgID: await orgId(influx),
        permissions: [{ action: 'read', resource: { type: 'buckets', orgID: await orgId(influx) } }],
      }),
    );
    expect(tokens).toMatchObject({ status: 401, code: 'unauthorized' });
    const buckets = await call(bucket.writeToken, 'GET', '/api/v2/buckets');
    expect([buckets.status, JSON.parse(buckets.text).buckets]).toEqual([200, []]);
  });

  it('lets the API’s token read, and refuses it writes, deletes and bucket changes', async () => {
    expect((await write(bucket.writeToken, bucket.name)).status).toBe(204);
    const read = await query(apiToken, bucket.name);
    expect([read.status, read.text.split('\r\n').filter((l) => l.includes(',probe,')).length]).toEqual([
      200, 2,
    ]);
    expect(await write(apiToken, bucket.name)).toMatchObject({ status: 403, code: 'forbidden' });
    const range = JSON.stringify({ start: '1970-01-01T00:00:00Z', stop: '2100-01-01T00:00:00Z' });
    expect(
      await call(apiToken, 'POST', `/api/v2/delete?org=${influx.INFLUX_ORG}&bucket=${bucket.name}`, range),
    ).toMatchObject({ status: 403, code: 'forbidden' });
    const id = (await findBucket(influx, bucket.name))?.id;
    expect(await call(apiToken, 'DELETE', `/api/v2/buckets/${id}`)).toMatchObject({
      status: 401,
      code: 'unauthorized',
    });
  });

  // InfluxDB 2 has no narrower right than `write` on a bucket, and that right includes deleting the
  // bucket and its points: pinned here so docs/security.md changes when InfluxDB does.
  it('cannot keep a bucket’s writer from deleting it (InfluxDB 2’s permission model)', async () => {
    const doomed = await createTestInfluxBucket(influx, 'privileges-doomed');
    const id = (await findBucket(influx, doomed.name))?.id;
    expect((await call(doomed.writeToken, 'DELETE', `/api/v2/buckets/${id}`)).status).toBe(204);
    expect(await findBucket(influx, doomed.name)).toBeUndefined();
  });
});

describe('S3: a user and policy per service, limited to the archive’s prefixes', () => {
  const root = createObjectStore(loadConfig(s3Env, stackEnv));
  let bucket: TestBucket;
  let collector: ReturnType<typeof createObjectStore>;
  let api: ReturnType<typeof createObjectStore>;
  const raw = 'raw/2026/12/01/21/c-0/batch-1.records';
  beforeAll(async () => {
    bucket = await createTestBucket(stackEnv, 'privileges');
    collector = createObjectStore(loadConfig(s3Env, { ...stackEnv, ...bucket.credentials.collector }));
    api = createObjectStore(loadConfig(s3Env, { ...stackEnv, ...bucket.credentials['device-manager'] }));
    await root.putObject(bucket.name, 'elsewhere/secret.txt', Buffer.from('not for services'));
  });
  afterAll(() => bucket?.drop());

  const body = async (stream: Promise<Readable>) =>
    Buffer.concat((await (await stream).toArray()) as Buffer[]).toString();
  const ACCESS_DENIED = { code: 'AccessDenied' };

  it('gives the stack’s users the chart’s policies for the stack’s bucket', async () => {
    const { mc, close } = await createMinioAdmin(stackEnv);
    try {
      for (const service of ['collector', 'device-manager']) {
        const user = JSON.parse(await mc('admin', 'user', 'info', 'stack', `iot-meter-${service}`, '--json'));
        expect(user).toMatchObject({ accessKey: `iot-meter-${service}`, policyName: `iot-meter-${service}` });
        const info = JSON.parse(
          await mc('admin', 'policy', 'info', 'stack', `iot-meter-${service}`, '--json'),
        );
        const template = await readFile(
          new URL(`../../../charts/iot-meter/files/s3-policies/${service}.json`, import.meta.url),
          'utf8',
        );
        // MinIO keeps a statement's resources as a set: its order is not the file's.
        type Policy = { Statement: { Resource: string[] }[] };
        const sorted = (policy: Policy) => {
          for (const statement of policy.Statement) statement.Resource.sort();
          return policy;
        };
        const expected = JSON.parse(template.replaceAll('@BUCKET@', stackEnv.S3_BUCKET ?? ''));
        expect(sorted(info.policyInfo.Policy)).toEqual(sorted(expected));
      }
    } finally {
      await close();
    }
  });

  it('lets the collector put under raw/ and quarantine/ and see that the bucket exists', async () => {
    await collector.putObject(bucket.name, raw, Buffer.from('record'));
    await collector.putObject(
      bucket.name,
      'quarantine/2026/12/01/21/c-0/batch-1.records',
      Buffer.from('bad'),
    );
    expect(await collector.bucketExists(bucket.name)).toBe(true);
    expect(await body(root.getObject(bucket.name, raw))).toBe('record');
  });

  it('refuses the collector reads, deletes, other prefixes, other buckets and bucket changes (AccessDenied)', async () => {
    await collector.putObject(bucket.name, raw, Buffer.from('record'));
    for (const [what, attempt] of [
      ['get its own object', () => collector.getObject(bucket.name, raw)],
      ['get outside its prefixes', () => collector.getObject(bucket.name, 'elsewhere/secret.txt')],
      ['put outside its prefixes', () => collector.putObject(bucket.name, 'elsewhere/x', Buffer.from('x'))],
      ['delete an object', () => collector.removeObject(bucket.name, raw)],
      ['delete the bucket', () => collector.removeBucket(bucket.name)],
      ['create a bucket', () => collector.makeBucket(`${bucket.name}-new`)],
      ['set a lifecycle', () => collector.removeBucketLifecycle(bucket.name)],
      [
        'put in the stack’s bucket',
        () => collector.putObject(stackEnv.S3_BUCKET ?? '', raw, Buffer.from('x')),
      ],
    ] as const) {
      await expect(attempt(), what).rejects.toMatchObject(ACCESS_DENIED);
    }
    expect(await body(root.getObject(bucket.name, raw))).toBe('record');
    expect(await root.bucketExists(bucket.name)).toBe(true);
    // MinIO lists only the buckets a user's policy names.
    expect((await collector.listBuckets()).map((b) => b.name)).toEqual([bucket.name]);
  });

  it('lets the API read the archive, and refuses it writes, deletes and other prefixes (AccessDenied)', async () => {
    await root.putObject(bucket.name, raw, Buffer.from('record'));
    expect(await body(api.getObject(bucket.name, raw))).toBe('record');
    expect(await api.bucketExists(bucket.name)).toBe(true);
    for (const [what, attempt] of [
      ['get outside the archive', () => api.getObject(bucket.name, 'elsewhere/secret.txt')],
      ['put', () => api.putObject(bucket.name, 'raw/forged.records', Buffer.from('x'))],
      ['delete an object', () => api.removeObject(bucket.name, raw)],
      ['delete the bucket', () => api.removeBucket(bucket.name)],
    ] as const) {
      await expect(attempt(), what).rejects.toMatchObject(ACCESS_DENIED);
    }
  });
});
