import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { createInflux, influxEnv, loadConfig } from '@iot-meter/common';
import {
  createTestDatabase,
  createTestInfluxBucket,
  type TestDatabase,
  type TestInfluxBucket,
  waitFor,
} from '@iot-meter/common/testing';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { stackEnvFor } from '../../../scripts/stack/service-env.js';

const stackEnv = inject('stackEnv');
const KEY = 'failover-admin-key-0123456789abcdef012345';
const main = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const INTERVAL_MS = 1000;
const FOR_MS = 10_000;
// The evaluator's lock, as service.ts takes it ("IoT", rules).
const LOCK = [0x496f54, 1] as const;

/** The compiled API as its own process, so a test can SIGKILL or freeze it. */
class ApiReplica {
  private child: ChildProcess | undefined;
  output = '';

  constructor(
    readonly name: string,
    private readonly env: Record<string, string>,
    readonly port: number,
  ) {}

  async start(): Promise<void> {
    const child = spawn(process.execPath, [main], {
      env: { ...this.env, PORT: String(this.port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    const capture = (chunk: Buffer) => {
      this.output = (this.output + chunk.toString()).slice(-20_000);
    };
    child.stdout?.on('data', capture);
    child.stderr?.on('data', capture);
    await waitFor(
      () => {
        if (child.exitCode !== null) throw new Error(`${this.name} exited: ${this.output}`);
        return fetch(`http://127.0.0.1:${this.port}/healthz`).then(
          (r) => r.ok,
          () => false,
        );
      },
      () => `${this.name}'s /healthz: ${this.output}`,
      { timeoutMs: 20_000, intervalMs: 100 },
    );
  }

  /** Sends the signal and resolves with the signal the process died of, once it is gone. */
  async stop(signal: 'SIGTERM' | 'SIGKILL'): Promise<NodeJS.Signals | null> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return child?.signalCode ?? null;
    const exited = once(child, 'exit');
    child.kill('SIGCONT');
    child.kill(signal);
    await exited;
    return child.signalCode;
  }

  /** Freezes the process (SIGSTOP) or lets it go on (SIGCONT): it is away without knowing it. */
  freeze(frozen: boolean): void {
    this.child?.kill(frozen ? 'SIGSTOP' : 'SIGCONT');
  }

  /** The sum of a metric's samples whose line contains `having` (a label pair, say). */
  async metric(name: string, having = ''): Promise<number> {
    const text = await (await fetch(`http://127.0.0.1:${this.port}/metrics`)).text();
    return text
      .split('\n')
      .filter((line) => line.startsWith(`${name}{`) && line.includes(having))
      .reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0);
  }

  async post(path: string, json: unknown): Promise<{ status: number; json: unknown }> {
    const response = await fetch(`http://127.0.0.1:${this.port}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify(json),
    });
    return { status: response.status, json: await response.json() };
  }
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

let database: TestDatabase;
let bucket: TestInfluxBucket;
let replicas: ApiReplica[] = [];

beforeAll(async () => {
  // A database of its own: the advisory lock is per database, so no other test's API competes.
  database = await createTestDatabase(stackEnv.DATABASE_URL ?? '');
  bucket = await createTestInfluxBucket(loadConfig(influxEnv, stackEnv), 'dm-failover');
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    ...stackEnvFor(stackEnv, 'DEVICE_MANAGER'),
    DATABASE_URL: database.urlAs(stackEnv.DEVICE_MANAGER_DATABASE_URL ?? ''),
    INFLUX_BUCKET: bucket.name,
    API_ADMIN_KEY: KEY,
    LOG_LEVEL: 'warn',
    ALERT_EVAL_INTERVAL: `${INTERVAL_MS / 1000}s`,
    // Shorter than `for`: a first pass after taking the lead reads `for` + one interval back.
    ALERT_LOOKBACK: '1s',
  };
  // The stack's Alertmanager notifies the Alertmanager test's receiver: these alerts stay in the API.
  delete env.ALERTMANAGER_URL;
  replicas = [
    new ApiReplica('replica-a', env, await freePort()),
    new ApiReplica('replica-b', env, await freePort()),
  ];
});
afterAll(async () => {
  await Promise.all(replicas.map((r) => r.stop('SIGTERM')));
  await database?.drop();
  await bucket?.drop();
});

describe('alert evaluation across two API replicas', () => {
  it('keeps a pending rule through a SIGKILL of the leader: the survivor fires it once, from the stored state, and resolves it once', async () => {
    const [a, b] = replicas as [ApiReplica, ApiReplica];
    await Promise.all([a.start(), b.start()]);
    const db = database.db;
    const lockHolders = async () =>
      (
        await sql<{ pid: number }>`select l.pid from pg_locks l join pg_database d on d.oid = l.database
          where d.datname = current_database() and l.locktype = 'advisory' and l.granted
          and l.classid = ${LOCK[0]} and l.objid = ${LOCK[1]} and l.objsubid = 2`.execute(db)
      ).rows.map((r) => r.pid);
    const leaders = async (...of: ApiReplica[]) =>
      Promise.all(of.map((r) => r.metric('iot_alert_evaluator_leader')));

    await expect
      .poll(() => leaders(a, b), { timeout: 10_000, interval: 100, message: 'one replica leading' })
      .toSatisfy((flags: number[]) => flags.includes(1));
    const [leader, survivor] = (await a.metric('iot_alert_evaluator_leader')) === 1 ? [a, b] : [b, a];

    const device = 'boiler-7';
    expect(
      (await survivor.post('/api/devices', { device_id: device, device_name: device, device_type: 'boiler' }))
        .status,
    ).toBe(201);
    const created = await survivor.post('/api/alert-rules', {
      name: 'boiler-hot',
      kind: 'threshold',
      metric: 'temperature',
      condition: { op: '>', value: 90, clear: 85 },
      for: `${FOR_MS / 1000}s`,
      scope: { device_ids: [device] },
      severity: 'critical',
      message: '{{device_id}} at {{value}} (limit {{threshold}})',
    });
    expect(created.status).toBe(201);
    const ruleId = (created.json as { id: number }).id;
    const alerts = () =>
      db
        .selectFrom('device_alerts')
        .select(['rule_id', 'device_id', 'alert_type', 'message', 'value', 'started_at', 'resolved_at'])
        .orderBy('id')
        .execute();
    const states = () =>
      db
        .selectFrom('alert_rule_states')
        .select(['rule_id', 'device_id', 'state', 'since', 'value'])
        .orderBy('device_id')
        .execute();
    const leaderPasses = (replica: ApiReplica) =>
      replica.metric('iot_alert_rule_evaluations_total', 'outcome="ok"');

    // The device reports each second, sample i at t1 + i s: 91 + i (above 90) until `clearFrom`, then 80.
    const influx = loadConfig(influxEnv, stackEnv);
    const write = createInflux(influx).getWriteApi(influx.INFLUX_ORG, bucket.name, 'ms');
    const t1 = Math.ceil(Date.now() / 1000) * 1000;
    const at = (i: number) => t1 + i * 1000;
    let written = 0;
    let clearFrom = Number.POSITIVE_INFINITY;
    let sending = true;
    const sender = (async () => {
      for (let i = 0; sending; i++) {
        await new Promise((resolve) => setTimeout(resolve, Math.max(0, at(i) - Date.now())));
        const value = i < clearFrom ? 91 + i : 80;
        write.writeRecord(`iot_telemetry,device_id=${device},metric=temperature value=${value} ${at(i)}`);
        await write.flush();
        written = i + 1;
      }
    })();

    try {
      // The leader saw the breach begin: pending since the first sample, nothing fired.
      await expect
        .poll(states, { timeout: 5000, interval: 100, message: 'the pending state' })
        .toEqual([{ rule_id: ruleId, device_id: device, state: 'pending', since: new Date(t1), value: 91 }]);

      // The moment of the fault: the leader leads, holds the only lock, and the rule is still pending.
      expect(await leaders(leader, survivor)).toEqual([1, 0]);
      const [killedHolder] = await lockHolders();
      expect(await lockHolders()).toEqual([killedHolder]);
      // The survivor is frozen first, so it takes over only once the first breaching sample is older
      // than its first pass reads (`for` + one interval): firing from t1 then proves the stored
      // pending state carried over, not a re-reading of the data.
      survivor.freeze(true);
      expect(await states()).toMatchObject([{ state: 'pending', since: new Date(t1) }]);
      expect(Date.now()).toBeLessThan(t1 + FOR_MS);
      expect(await leader.stop('SIGKILL')).toBe('SIGKILL');
      // PostgreSQL dropped the dead leader's session, and its lock with it.
      await expect
        .poll(lockHolders, { timeout: 10_000, interval: 100, message: 'the lock freed' })
        .toEqual([]);
      expect(
        (
          await sql<{
            n: number;
          }>`select count(*)::int as n from pg_stat_activity where pid = ${killedHolder}`.execute(db)
        ).rows,
      ).toEqual([{ n: 0 }]);
      expect(await alerts()).toEqual([]);
      expect(await states()).toMatchObject([{ state: 'pending', since: new Date(t1) }]);

      await expect
        .poll(() => written, { timeout: 20_000, interval: 100, message: 'samples past for + interval' })
        .toBeGreaterThanOrEqual((FOR_MS + INTERVAL_MS) / 1000 + 3);
      survivor.freeze(false);
      await expect
        .poll(() => leaders(survivor), { timeout: 10_000, interval: 100, message: 'the survivor leading' })
        .toEqual([1]);
      const [survivorHolder] = await lockHolders();
      expect(survivorHolder).not.toBe(killedHolder);
      // Fired at the sample `for` after t1 (i = 10: 101), started when the breach did.
      const fired = {
        rule_id: ruleId,
        device_id: device,
        alert_type: 'boiler-hot',
        message: `${device} at 101 (limit 90)`,
        value: 101,
        started_at: new Date(t1),
        resolved_at: null,
      };
      await expect
        .poll(alerts, { timeout: 5000, interval: 100, message: 'the alert fired' })
        .toEqual([fired]);
      expect(await states()).toMatchObject([{ state: 'firing', since: new Date(t1), value: 101 }]);

      // Both run again (the killed one restarted) while the device still breaks the limit: the
      // survivor keeps the lead, the other does not take it, the alert stays one open row.
      await leader.start();
      const passes = await leaderPasses(survivor);
      await expect
        .poll(() => leaderPasses(survivor), { timeout: 10_000, interval: 200, message: 'four more passes' })
        .toBeGreaterThanOrEqual(passes + 4);
      expect(await leaders(survivor, leader)).toEqual([1, 0]);
      expect(await lockHolders()).toEqual([survivorHolder]);
      expect(await alerts()).toEqual([fired]);

      // The device clears: one resolved row at the clearing sample's time, and nothing new after.
      clearFrom = written + 1;
      const clearedAt = new Date(at(clearFrom));
      await expect
        .poll(alerts, { timeout: 5000, interval: 100, message: 'the alert resolved' })
        .toEqual([{ ...fired, resolved_at: clearedAt }]);
      const resolvedPasses = await leaderPasses(survivor);
      await expect
        .poll(() => leaderPasses(survivor), { timeout: 10_000, interval: 200, message: 'four more passes' })
        .toBeGreaterThanOrEqual(resolvedPasses + 4);
      expect(await alerts()).toEqual([{ ...fired, resolved_at: clearedAt }]);
      expect(await states()).toEqual([
        { rule_id: ruleId, device_id: device, state: 'resolved', since: clearedAt, value: 80 },
      ]);
      expect(await leaders(survivor, leader)).toEqual([1, 0]);
    } finally {
      sending = false;
      await sender;
      await write.close();
    }
  });
});
