import { stackMqttLogin } from '@iot-meter/common/testing';
import { sql } from 'kysely';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { dispatchCommands } from '../src/commands/command-dispatcher.js';
import { ApiHarness } from './api-harness.js';

const stackEnv = inject('stackEnv');
const api = new ApiHarness(stackEnv);
const received: { topic: string; message: Record<string, unknown> }[] = [];
let device: mqtt.MqttClient;
const UUID = expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
const ISO = expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

beforeAll(async () => {
  await api.start();
  for (const id of ['cmd-1', 'cmd-2']) {
    await api.call('POST', '/api/devices', { json: { device_id: id, device_name: id } });
  }
  // Both devices' command topics, watched by the stack's test client.
  device = await mqtt.connectAsync(stackEnv.MQTT_URL ?? '', {
    ...stackMqttLogin(stackEnv),
    protocolVersion: 5,
    clean: true,
  });
  await device.subscribeAsync(['iot/cmd-1/command', 'iot/cmd-2/command'], { qos: 1 });
  device.on('message', (topic, payload) => received.push({ topic, message: JSON.parse(payload.toString()) }));
  await untilConnected();
});
afterAll(async () => {
  await device?.endAsync();
  await api.dispose();
});

// vi.waitFor, not expect.poll: beforeAll waits for it too.
async function untilConnected() {
  await vi.waitFor(() => expect(api.commands.isConnected(), 'the command publisher').toBe(true), {
    timeout: 5000,
    interval: 20,
  });
}

/** The messages the device received once there are `count`, taken out of `received`. */
async function waitForMessages(count: number) {
  await expect
    .poll(() => received.length, { timeout: 2000, interval: 20, message: 'the device’s commands' })
    .toBeGreaterThanOrEqual(count);
  return received.splice(0);
}

describe('commands', () => {
  it('publishes a command to the device’s topic and tracks it', async () => {
    const r = await api.call('POST', '/api/devices/cmd-1/commands', {
      json: {
        cmd: 'update_config',
        params: { send_interval_s: 30, brokers: [{ host: 'mqtt.local', port: 1883 }] },
      },
    });
    expect(r.status).toBe(201);
    const command = r.json as { cmd_id: string };
    expect(r.json).toEqual({
      id: expect.any(Number),
      cmd_id: UUID,
      device_id: 'cmd-1',
      cmd: 'update_config',
      params: { send_interval_s: 30, brokers: [{ host: 'mqtt.local', port: 1883 }] },
      status: 'sent',
      ack_detail: null,
      created_by: 'bootstrap-admin',
      created_at: ISO,
      sent_at: ISO,
      acked_at: null,
      message: 'Command published to iot/cmd-1/command',
    });
    expect(await waitForMessages(1)).toEqual([
      {
        topic: 'iot/cmd-1/command',
        message: {
          v: 2,
          cmd_id: command.cmd_id,
          ts: ISO,
          cmd: 'update_config',
          params: { send_interval_s: 30, brokers: [{ host: 'mqtt.local', port: 1883 }] },
        },
      },
    ]);

    const one = await api.call('GET', `/api/commands/${command.cmd_id}`);
    expect(one.json).toMatchObject({ cmd_id: command.cmd_id, status: 'sent' });
    const acked = await api.call('PUT', `/api/commands/${command.cmd_id}/ack`, {
      json: { result: 'accepted', detail: 'applied' },
    });
    expect(acked.json).toMatchObject({ status: 'accepted', ack_detail: 'applied', acked_at: ISO });
    await api.call('POST', '/api/devices/cmd-1/commands', { json: { cmd: 'reboot' } });
    const list = await api.call('GET', '/api/devices/cmd-1/commands');
    expect((list.json as { cmd: string; status: string }[]).map((c) => [c.cmd, c.status])).toEqual([
      ['reboot', 'sent'],
      ['update_config', 'accepted'],
    ]);
    const accepted = await api.call('GET', '/api/devices/cmd-1/commands?status=accepted');
    expect((accepted.json as { cmd: string }[]).map((c) => c.cmd)).toEqual(['update_config']);
    expect((await waitForMessages(1)).map((m) => m.message.cmd)).toEqual(['reboot']);
  });

  it('validates each command’s parameters and publishes nothing it refuses', async () => {
    const cases: [unknown, string, string][] = [
      [{ params: {} }, 'Missing required field: cmd', 'cmd'],
      [
        { cmd: 'set_interval' },
        'cmd: Invalid command: set_interval. Valid commands: factory_reset, reboot, request_status, start_ota, update_config',
        'cmd',
      ],
      [{ cmd: 'update_config', params: {} }, 'params: needs at least one setting', 'params'],
      [{ cmd: 'update_config', params: { sampling_cadence_ms: 50 } }, '', 'params.sampling_cadence_ms'],
      [{ cmd: 'update_config', params: { brokers: [] } }, '', 'params.brokers'],
      [{ cmd: 'update_config', params: { colour: 'red' } }, '', 'params'],
      [{ cmd: 'reboot', params: { now: true } }, '', 'params'],
      [
        { cmd: 'start_ota', params: { fw_version: '2.0', fw_url: 'https://fw/x.bin', fw_size_bytes: 10 } },
        '',
        'params.fw_sha256',
      ],
      [
        {
          cmd: 'start_ota',
          params: {
            fw_version: '2.0',
            fw_url: 'file:///etc/passwd',
            fw_sha256: 'a'.repeat(64),
            fw_size_bytes: 10,
          },
        },
        '',
        'params.fw_url',
      ],
      [{ cmd: 'reboot', params: 'now' }, '', 'params'],
    ];
    for (const [json, error, field] of cases) {
      const r = await api.call('POST', '/api/devices/cmd-2/commands', { json });
      expect({ json, status: r.status, body: r.json }).toMatchObject({
        json,
        status: 400,
        body: error ? { error, code: 'invalid_request', field } : { code: 'invalid_request', field },
      });
    }
    const unknown = await api.call('POST', '/api/devices/ghost/commands', { json: { cmd: 'reboot' } });
    expect(unknown.json).toMatchObject({ code: 'device_not_found' });
    const ota = await api.call('POST', '/api/devices/cmd-2/commands', {
      json: {
        cmd: 'start_ota',
        params: {
          fw_version: '2.0',
          fw_url: 'https://fw.example/x.bin',
          fw_sha256: 'a'.repeat(64),
          fw_size_bytes: 10,
        },
      },
    });
    expect(ota.status).toBe(201);
    expect((await waitForMessages(1)).map((m) => m.message.cmd)).toEqual(['start_ota']);
    const rows = await api.database.db
      .selectFrom('device_commands')
      .select('cmd')
      .where('device_id', '=', 'cmd-2')
      .execute();
    expect(rows.map((r) => r.cmd)).toEqual(['start_ota']);
  });

  it('answers unknown and malformed command ids and bad acks', async () => {
    const missing = '00000000-0000-4000-8000-000000000000';
    expect((await api.call('GET', `/api/commands/${missing}`)).json).toMatchObject({
      code: 'command_not_found',
    });
    expect(
      (await api.call('PUT', `/api/commands/${missing}/ack`, { json: { result: 'accepted' } })).json,
    ).toMatchObject({
      code: 'command_not_found',
    });
    expect((await api.call('GET', '/api/commands/not-a-uuid')).json).toMatchObject({
      code: 'invalid_request',
      field: 'cmd_id',
    });
    expect(
      (await api.call('PUT', `/api/commands/${missing}/ack`, { json: { result: 'fine' } })).json,
    ).toMatchObject({
      code: 'invalid_request',
      field: 'result',
    });
  });

  it('keeps a command made while the broker is unreachable and sends it later; unanswered ones time out', async () => {
    const offline = new ApiHarness(stackEnv);
    await offline.start({}, { mqttUrl: 'mqtt://127.0.0.1:1' });
    try {
      await offline.call('POST', '/api/devices', { json: { device_id: 'cmd-2', device_name: 'C' } });
      const r = await offline.call('POST', '/api/devices/cmd-2/commands', {
        json: { cmd: 'request_status' },
      });
      expect(r.status).toBe(202);
      expect(r.json).toMatchObject({
        status: 'pending',
        sent_at: null,
        message: 'Command saved; it is sent when the broker is reachable',
      });
      const { cmd_id } = r.json as { cmd_id: string };
      const round = { db: offline.database.db, ackTimeoutSeconds: 300, logger: api.logger };
      expect(await dispatchCommands({ ...round, publisher: offline.commands })).toEqual({
        sent: 0,
        timedOut: 0,
      });
      // The broker is back (here: a publisher that reaches it).
      await untilConnected();
      expect(await dispatchCommands({ ...round, publisher: api.commands })).toEqual({ sent: 1, timedOut: 0 });
      expect(await waitForMessages(1)).toMatchObject([
        { topic: 'iot/cmd-2/command', message: { cmd_id, cmd: 'request_status' } },
      ]);
      expect((await offline.call('GET', `/api/commands/${cmd_id}`)).json).toMatchObject({
        status: 'sent',
        sent_at: ISO,
      });

      await offline.database.db
        .updateTable('device_commands')
        .set({ created_at: sql`now() - interval '301 seconds'` })
        .execute();
      expect(await dispatchCommands({ ...round, publisher: api.commands })).toEqual({ sent: 0, timedOut: 1 });
      expect((await offline.call('GET', `/api/commands/${cmd_id}`)).json).toMatchObject({
        status: 'timeout',
      });
    } finally {
      await offline.dispose();
    }
  });
});
