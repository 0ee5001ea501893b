import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDatabase, findBucket, influxEnv, influxRequest, loadConfig, orgId } from '@iot-meter/common';
import { createTestInfluxBucket, type TestInfluxBucket } from '@iot-meter/common/testing';
import { type Kysely, sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { offlineChart, render } from '../../../charts/test/render.js';
import { ControlPlane } from '../../../scripts/stack/control-plane.js';
import { ensureServiceTokens } from '../src/store-accounts/influx-tokens.js';
import { ensureServiceLogins } from '../src/store-accounts/postgres-logins.js';
import { createKubernetesSecretTokenStore } from '../src/store-accounts/token-store.js';

// The store-accounts provisioning (the chart's Job, `stack.sh up`) against the real servers: each
// run converges on what it is given, so a rotated password or a lost token is fixed by running again.
const stackEnv = inject('stackEnv');
const run = randomBytes(3).toString('hex');

describe('PostgreSQL logins', () => {
  const superuser = createDatabase<unknown>({ DATABASE_URL: stackEnv.PG_SUPERUSER_URL ?? '' });
  const group = `iot_test_group_${run}`;
  const login = `iot_test_login_${run}`;
  const connectAs = async (password: string) => {
    const url = new URL(stackEnv.DATABASE_URL ?? '');
    url.username = login;
    url.password = password;
    const db = createDatabase<unknown>({ DATABASE_URL: url.toString() });
    try {
      const { rows } = await sql<{ user: string }>`select current_user as user`.execute(db);
      return rows[0]?.user;
    } finally {
      await db.destroy();
    }
  };
  afterAll(async () => {
    await sql`drop role if exists ${sql.id(login)}`.execute(superuser);
    await sql`drop role if exists ${sql.id(group)}`.execute(superuser);
    await superuser.destroy();
  });

  it('makes the group and the login, and follows a rotated password (the old one refused, 28P01)', async () => {
    await ensureServiceLogins(superuser, [{ login, password: 'first-password', group }]);
    expect(await connectAs('first-password')).toBe(login);
    const member = async (db: Kysely<unknown>) =>
      (
        await sql<{ member: boolean; login: boolean }>`
          select pg_has_role(${login}, ${group}, 'member') as member,
            (select rolcanlogin from pg_roles where rolname = ${group}) as login`.execute(db)
      ).rows[0];
    expect(await member(superuser)).toEqual({ member: true, login: false });
    await ensureServiceLogins(superuser, [{ login, password: "second 'password'", group }]);
    await expect(connectAs('first-password')).rejects.toMatchObject({ code: '28P01' });
    expect(await connectAs("second 'password'")).toBe(login);
    expect(await member(superuser)).toEqual({ member: true, login: false });
  });
});

describe('InfluxDB tokens', () => {
  const admin = loadConfig(influxEnv, stackEnv);
  let bucket: TestInfluxBucket;
  let other: TestInfluxBucket;
  const made: string[] = [];
  beforeAll(async () => {
    bucket = await createTestInfluxBucket(admin, 'accounts');
    other = await createTestInfluxBucket(admin, 'accounts-other');
  });
  afterAll(async () => {
    const { authorizations } = await influxRequest<{ authorizations: { id: string; token: string }[] }>(
      admin,
      'GET',
      `/api/v2/authorizations?orgID=${await orgId(admin)}`,
    );
    for (const a of authorizations.filter((a) => made.includes(a.token))) {
      await influxRequest(admin, 'DELETE', `/api/v2/authorizations/${a.id}`);
    }
    await bucket?.drop();
    await other?.drop();
  });

  it('makes a write token for the bucket and a read token for the org, then keeps those InfluxDB holds with these rights', async () => {
    const influx = { ...admin, INFLUX_BUCKET: bucket.name };
    const first = await ensureServiceTokens(influx, {});
    made.push(first.collector, first['device-manager']);
    const { authorizations } = await influxRequest<{
      authorizations: {
        token: string;
        description: string;
        permissions: { action: string; resource: object }[];
      }[];
    }>(admin, 'GET', `/api/v2/authorizations?orgID=${await orgId(admin)}`);
    const of = (token: string) => authorizations.find((a) => a.token === token);
    const orgID = await orgId(admin);
    const id = (await findBucket(admin, bucket.name))?.id;
    expect(of(first.collector)?.permissions).toEqual([
      { action: 'write', resource: { type: 'buckets', id, orgID, name: bucket.name, org: admin.INFLUX_ORG } },
    ]);
    expect(of(first['device-manager'])?.permissions).toEqual([
      { action: 'read', resource: { type: 'buckets', orgID, org: admin.INFLUX_ORG } },
    ]);
    expect(await ensureServiceTokens(influx, first)).toEqual(first);
    // A token InfluxDB no longer knows (a fresh InfluxDB, a deleted token) is made anew.
    const again = await ensureServiceTokens(influx, { ...first, collector: 'not-a-token' });
    made.push(again.collector);
    expect(again['device-manager']).toBe(first['device-manager']);
    expect(again.collector).not.toBe(first.collector);
    expect(again.collector).toMatch(/^[A-Za-z0-9_-]{86}==$/);
    // A token for another bucket (this one made again has a new id) is not the collector's.
    const elsewhere = await ensureServiceTokens({ ...admin, INFLUX_BUCKET: other.name }, again);
    made.push(elsewhere.collector);
    expect(elsewhere['device-manager']).toBe(first['device-manager']);
    expect(elsewhere.collector).not.toBe(again.collector);
  });
});

// A real API server of this file's own (its ports are this file's: other files run theirs), with
// the chart's Role for the store-accounts Job.
describe('the tokens Secret on Kubernetes', () => {
  const cluster = new ControlPlane(stackEnv, 17_643);
  const namespace = 'iot';
  const serviceAccount = 'iot-device-manager-store-accounts';
  const secret = 'iot-meter-credentials-influx-tokens';
  const dir = mkdtempSync(join(tmpdir(), 'iot-meter-sa-'));
  beforeAll(async () => {
    await cluster.start();
    cluster.kubectl(['create', 'namespace', namespace]);
    const rbac = render(stackEnv.HELM_BIN ?? 'helm', offlineChart(), {}).filter(
      (o) => ['ServiceAccount', 'Role', 'RoleBinding'].includes(o.kind) && o.metadata.name === serviceAccount,
    );
    expect(rbac.map((o) => o.kind)).toEqual(['ServiceAccount', 'Role', 'RoleBinding']);
    cluster.kubectl(['-n', namespace, 'apply', '-f', '-'], {
      input: JSON.stringify({ kind: 'List', apiVersion: 'v1', items: rbac }),
    });
    // What the kubelet mounts into the Job's pod.
    writeFileSync(
      join(dir, 'token'),
      cluster.kubectl(['-n', namespace, 'create', 'token', serviceAccount]).trim(),
    );
    writeFileSync(join(dir, 'namespace'), namespace);
    copyFileSync(join(cluster.dir, 'certs', 'apiserver.crt'), join(dir, 'ca.crt'));
  }, 120_000);
  afterAll(async () => {
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates, reads and replaces it with the Job’s service account, which may touch no other Secret', async () => {
    const store = createKubernetesSecretTokenStore(secret, {
      apiUrl: 'https://127.0.0.1:17643',
      serviceAccountDir: dir,
    });
    expect(await store.read()).toEqual({});
    await store.write({ collector: 'collector-1', 'device-manager': 'api-1' });
    expect(await store.read()).toEqual({ collector: 'collector-1', 'device-manager': 'api-1' });
    await store.write({ collector: 'collector-2', 'device-manager': 'api-1' });
    const stored = JSON.parse(cluster.kubectl(['-n', namespace, 'get', 'secret', secret, '-o', 'json']));
    expect(Object.keys(stored.data).sort()).toEqual(['collector-token', 'device-manager-token']);
    expect(Buffer.from(stored.data['collector-token'], 'base64').toString()).toBe('collector-2');
    // `auth can-i` exits 1 for "no".
    const asJob = `system:serviceaccount:${namespace}:${serviceAccount}`;
    const can = (verb: string, what: string) =>
      spawnSync(
        join(stackEnv.KUBERNETES_BIN_DIR ?? '', 'kubectl'),
        ['--kubeconfig', cluster.kubeconfig, '-n', namespace, 'auth', 'can-i', verb, what, `--as=${asJob}`],
        { encoding: 'utf8' },
      ).stdout.trim();
    expect([
      can('get', `secrets/${secret}`),
      can('get', 'secrets/iot-meter-credentials'),
      can('list', 'secrets'),
    ]).toEqual(['yes', 'no', 'no']);
    const other = createKubernetesSecretTokenStore('iot-meter-credentials', {
      apiUrl: 'https://127.0.0.1:17643',
      serviceAccountDir: dir,
    });
    await expect(other.read()).rejects.toThrow(/answered 403/);
  });
});
