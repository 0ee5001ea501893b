import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readStackEnv } from '../../../scripts/stack/stack-env.js';
import { LocalPipeline, removeStack } from './local-pipeline-process.js';

// `npm start`'s pipeline end to end, on a private stack (its own ports and data) that the
// pipeline starts itself, and so also stops on Ctrl-C.
const root = fileURLToPath(new URL('../../..', import.meta.url));
const stackEnv = { IOT_STACK_DIR: '/var/tmp/iot-meter-private-pipeline', IOT_STACK_PORT_OFFSET: '400' };
const api = 'http://127.0.0.1:18590';
let pipeline: LocalPipeline;
let key = '';

const get = async (path: string) => {
  const response = await fetch(`${api}${path}`, { headers: { authorization: `Bearer ${key}` } });
  return response.json() as Promise<Record<string, unknown> & Record<string, unknown>[]>;
};
const command = async (device: string, cmd: string, params: Record<string, unknown> = {}) => {
  const response = await fetch(`${api}/api/devices/${device}/commands`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ cmd, params }),
  });
  expect(response.status).toBe(201);
  return ((await response.json()) as { cmd_id: string }).cmd_id;
};

beforeAll(async () => {
  pipeline = new LocalPipeline(stackEnv, { api: 18590, collector: 18591, accounts: 18594 }, 3);
  key = await pipeline.started;
}, 200_000);

afterAll(() => {
  if (pipeline.child.exitCode === null) pipeline.child.kill('SIGKILL');
  removeStack(stackEnv);
});

describe('npm start', () => {
  it('registers the fleet, stores its telemetry and serves it through the API', async () => {
    const within = { timeout: 20_000, interval: 200 };
    await expect
      .poll(async () => {
        const devices = await get('/api/devices?sort=device_id');
        return devices.map((d) => [d.device_id, d.device_type, d.connection_status, d.fw_version]);
      }, within)
      .toEqual([
        ['sim-001', 'environment_sensor', 'online', '2.1.0'],
        ['sim-002', 'power_meter_dc', 'online', '2.1.0'],
        ['sim-003', 'power_meter_ac', 'online', '2.1.0'],
      ]);
    await expect
      .poll(async () => {
        const points = (await get('/api/devices/sim-003/metrics?start=-5m')) as unknown as {
          metric: string;
        }[];
        return [...new Set(points.map((p) => p.metric))].sort();
      }, within)
      .toEqual(['current_ac', 'frequency', 'pf', 'voltage_ac']);
  });

  it('declares the alert rules of scripts/start/alert-rules.yaml, as code', async () => {
    const rules = (await get('/api/alert-rules')) as unknown as { name: string; managed_by: string }[];
    const owner = 'file/scripts/start/alert-rules.yaml';
    expect(rules.map((r) => [r.name, r.managed_by])).toEqual(
      [
        'sequence_gap',
        'dc-voltage-sag',
        'dc-breaker-trip',
        'ac-frequency-excursion',
        'environment-spike',
        'device-silent',
        'device-offline',
      ].map((name) => [name, owner]),
    );
  });

  it('lets only registered devices in, each with its own secret; nobody anonymously', async () => {
    const broker = readStackEnv({ ...process.env, ...stackEnv });
    const accounts = readFileSync(broker.BROKER_PASSWORD_FILE ?? '', 'utf8')
      .trim()
      .split('\n')
      .map((line) => line.split(':')[0]);
    expect(accounts).toEqual([
      '@broker-exporter',
      '@collector',
      '@device-manager',
      '@sync-canary',
      '@test-client',
      'sim-001',
      'sim-002',
      'sim-003',
    ]);
    const refusal = (login: { username?: string; password?: string }) =>
      mqtt
        .connectAsync(broker.MQTT_DEVICE_URL ?? '', { ...login, protocolVersion: 5, reconnectPeriod: 0 })
        .then(
          (client) => client.endAsync().then(() => 0),
          (err: { code?: number }) => err.code,
        );
    expect(await refusal({})).toBe(135);
    expect(await refusal({ username: 'sim-001', password: 'not-its-secret' })).toBe(135);
  });

  it('round-trips every command: sent, answered by the device, acknowledged in the API', {
    timeout: 90_000,
  }, async () => {
    const sent = {
      update_config: await command('sim-001', 'update_config', { hello_interval_s: 60 }),
      request_status: await command('sim-001', 'request_status'),
      reboot: await command('sim-002', 'reboot'),
      factory_reset: await command('sim-003', 'factory_reset'),
      start_ota: await command('sim-001', 'start_ota', {
        fw_version: '2.2.0',
        fw_url: 'https://firmware.example/2.2.0.bin',
        fw_sha256: 'b'.repeat(64),
        fw_size_bytes: 1_048_576,
      }),
    };
    const results = async () => {
      const rows = await Promise.all(Object.values(sent).map((id) => get(`/api/commands/${id}`)));
      return Object.fromEntries(
        Object.keys(sent).map((name, i) => [name, [rows[i]?.status, rows[i]?.ack_detail]]),
      );
    };
    await expect.poll(results, { timeout: 60_000, interval: 200 }).toEqual({
      update_config: ['accepted', 'Config updated: hello_interval_s=60'],
      request_status: ['accepted', 'Status requested'],
      reboot: ['accepted', 'Rebooting (back in 3000 ms)'],
      factory_reset: ['accepted', 'Factory reset: settings restored, rebooting'],
      start_ota: ['success', 'firmware 2.2.0 running'],
    });
    await expect
      .poll(() => get('/api/devices/sim-001'), { timeout: 20_000, interval: 200 })
      .toMatchObject({ fw_version: '2.2.0', connection_status: 'online' });
    // Reboots start seq over; the collector tells that from a gap.
    const alerts = (await get('/api/alerts')) as unknown as { alert_type: string }[];
    expect(alerts.filter((a) => a.alert_type === 'sequence_gap')).toEqual([]);
  });

  it('stops everything on Ctrl-C, including the stack it started', { timeout: 120_000 }, async () => {
    pipeline.child.kill('SIGINT');
    expect(await pipeline.exited()).toBe(0);
    expect(pipeline.output).toContain('iot-meter: stopped\n');
    const status = spawnSync('bash', ['scripts/stack/stack.sh', 'status'], {
      cwd: root,
      env: { ...process.env, ...stackEnv },
    });
    expect(status.status).not.toBe(0);
    expect(
      await fetch(`${api}/health`).then(
        () => 'answered',
        () => 'gone',
      ),
    ).toBe('gone');
  });
});
