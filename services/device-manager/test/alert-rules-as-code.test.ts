import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { stringify } from 'yaml';
import { ApiHarness } from './api-harness.js';

const stackEnv = inject('stackEnv');
const api = new ApiHarness(stackEnv);
const folder = mkdtempSync(join(tmpdir(), 'rules-as-code-'));
beforeAll(() => api.start());
afterAll(async () => {
  await api.dispose();
  rmSync(folder, { recursive: true, force: true });
});

const hot = {
  name: 'boiler-hot',
  kind: 'threshold',
  metric: 'temperature',
  condition: { op: '>', value: 90, clear: 85 },
  for: '1m',
  scope: { device_type: 'boiler' },
  severity: 'critical',
};
const silent = { name: 'boiler-silent', kind: 'no_data', for: '5m', scope: { device_type: 'boiler' } };
const away = { name: 'anything-offline', kind: 'offline', for: '1h', scope: { all_devices: true } };

/** Runs the chart's Job (and `npm start`'s step) with `file` as its rules, as owner `owner`. */
async function apply(file: string, owner = 'helm/iot') {
  const path = join(folder, 'alert-rules.yaml');
  writeFileSync(path, file);
  const run = await promisify(execFile)(
    process.execPath,
    [fileURLToPath(new URL('../dist/bin/apply-alert-rules.js', import.meta.url))],
    {
      env: {
        PATH: process.env.PATH,
        DATABASE_URL: api.apiDatabaseUrl,
        ALERT_RULES_FILE: path,
        ALERT_RULES_OWNER: owner,
        ALERTMANAGER_URL: 'http://alertmanager.invalid:9093',
      },
    },
  ).then(
    (done) => ({ code: 0, out: done.stdout }),
    (failed: { code: number; stdout: string }) => ({ code: failed.code, out: failed.stdout }),
  );
  const lines = run.out
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  return { code: run.code, log: lines.at(-1) ?? {} };
}

const declare = (...rules: object[]) => stringify({ rules });

async function rules() {
  return api.database.db
    .selectFrom('alert_rules')
    .select(['name', 'for_seconds', 'managed_by', 'updated_at'])
    .orderBy('name')
    .execute();
}

describe('rules as code', () => {
  it('creates, updates and deletes the declared rules of its owner, and leaves every other rule alone', async () => {
    const made = await api.call('POST', '/api/alert-rules', {
      json: { ...hot, name: 'made-through-api' },
    });
    expect(made.status).toBe(201);
    const [other] = await api.database.db
      .insertInto('alert_rules')
      .values({
        name: 'other-owner',
        kind: 'offline',
        for_seconds: 60,
        scope: JSON.stringify({ all_devices: true }),
        message_template: 'x',
        managed_by: 'file/elsewhere.yaml',
      })
      .returning('updated_at')
      .execute();

    expect(await apply(declare(hot, silent))).toMatchObject({
      code: 0,
      log: { created: ['boiler-hot', 'boiler-silent'], updated: [], deleted: [], unchanged: [] },
    });
    const listed = await api.call('GET', '/api/alert-rules');
    expect(
      (listed.json as { name: string; managed_by: string | null; for: string }[]).map((r) => [
        r.name,
        r.managed_by,
        r.for,
      ]),
    ).toEqual([
      ['made-through-api', null, '1m'],
      ['other-owner', 'file/elsewhere.yaml', '1m'],
      ['boiler-hot', 'helm/iot', '1m'],
      ['boiler-silent', 'helm/iot', '5m'],
    ]);
    const hotId = (
      await api.database.db
        .selectFrom('alert_rules')
        .select('id')
        .where('name', '=', 'boiler-hot')
        .executeTakeFirstOrThrow()
    ).id;

    // The hot rule fires for a boiler; a second run that leaves it as it is keeps that alert open.
    await api.database.db
      .insertInto('devices')
      .values({ device_id: 'b-1', device_name: 'b-1', device_type: 'boiler' })
      .execute();
    const { id: alertId } = await api.database.db
      .insertInto('device_alerts')
      .values({
        device_id: 'b-1',
        alert_type: 'boiler-hot',
        severity: 'critical',
        message: 'b-1 hot',
        rule_id: hotId,
        value: 95,
        started_at: new Date(),
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    expect(await apply(declare(hot, { ...silent, for: '10m' }, away))).toMatchObject({
      code: 0,
      log: {
        created: ['anything-offline'],
        updated: ['boiler-silent'],
        deleted: [],
        unchanged: ['boiler-hot'],
      },
    });
    const openAlert = () =>
      api.database.db
        .selectFrom('device_alerts')
        .select(['rule_id', 'resolved_at'])
        .where('id', '=', alertId)
        .executeTakeFirstOrThrow();
    expect((await openAlert()).resolved_at).toBeNull();

    // No longer declared: deleted, its open alert resolved and the resolve queued for Alertmanager.
    expect(await apply(declare({ ...silent, for: '10m' }, away))).toMatchObject({
      code: 0,
      log: {
        created: [],
        updated: [],
        deleted: ['boiler-hot'],
        unchanged: ['boiler-silent', 'anything-offline'],
      },
    });
    expect((await openAlert()).resolved_at).toBeInstanceOf(Date);
    expect(
      await api.database.db
        .selectFrom('alert_notifications')
        .select(['alert_id', 'event', 'target'])
        .execute(),
    ).toEqual([{ alert_id: alertId, event: 'resolved', target: 'alertmanager' }]);

    // An empty declaration takes back all of this owner's rules, and only those.
    expect(await apply('')).toMatchObject({
      code: 0,
      log: { created: [], updated: [], deleted: ['boiler-silent', 'anything-offline'], unchanged: [] },
    });
    expect((await rules()).map((r) => [r.name, r.managed_by])).toEqual([
      ['made-through-api', null],
      ['other-owner', 'file/elsewhere.yaml'],
    ]);
    expect((await rules())[1]?.updated_at).toEqual(other?.updated_at);
  });

  it('refuses a declared name a rule made through the API or by another owner has, and changes nothing', async () => {
    await api.call('POST', '/api/alert-rules', { json: { ...hot, name: 'taken-by-api' } });
    const before = await rules();
    expect(await apply(declare(away, { ...hot, name: 'taken-by-api' }), 'helm/second')).toMatchObject({
      code: 1,
      log: {
        msg: 'declared rules not applied',
        err: 'rules already exist under these names: taken-by-api (made through the API)',
      },
    });
    expect(await rules()).toEqual(before);
  });

  it.each([
    [
      'a threshold without its condition',
      declare({ ...hot, condition: undefined }),
      'rules[0].condition: a threshold rule needs a condition',
    ],
    ['a name declared twice', declare(away, away), 'rules[1].name: anything-offline is declared twice'],
    [
      'a template with an unknown field',
      declare({ ...away, message: '{{colour}}' }),
      'rules[0].message: unknown field {{colour}}',
    ],
    ['a negative duration', declare({ ...silent, for: '-5m' }), 'rules[0].for: must be a duration'],
    ['a key that is no rules list', stringify({ rule: [away] }), 'Unrecognized key'],
    ['text that is no YAML', 'rules: [', 'not YAML'],
  ])('refuses %s, naming the place, and changes nothing', async (_, file, problem) => {
    const before = await rules();
    const run = await apply(file, 'helm/bad');
    expect(run.code).toBe(1);
    expect(run.log.msg).toBe('declared rules refused');
    expect(run.log.err).toContain(problem);
    expect(await rules()).toEqual(before);
  });
});
