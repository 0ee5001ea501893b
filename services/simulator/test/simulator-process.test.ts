import { randomBytes } from 'node:crypto';
import { stackFleetEnv } from '@iot-meter/common/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PrivateStack } from '../../../scripts/stack/private-stack.js';
import { type Received, record, runSimulator } from './simulator-harness.js';

// A broker of this file's own: the fleets' telemetry must not reach other test files' collectors.
const stack = new PrivateStack(500);
let fleetEnv: Record<string, string> = {};
const run = randomBytes(3).toString('hex');
let recorder: Awaited<ReturnType<typeof record>>;

beforeAll(async () => {
  stack.up('mosquitto');
  fleetEnv = stackFleetEnv(stack.env);
  recorder = await record(stack.env, `sim${run}`, `sim-test-recorder-${run}`);
}, 120_000);
afterAll(async () => {
  await recorder?.close();
  stack.destroy();
});

const statuses = (prefix: string) =>
  recorder.messages
    .filter((m) => m.topic.startsWith(`iot/${prefix}`) && m.topic.endsWith('/status'))
    .map((m) => [m.topic.split('/')[1], m.payload.status, 'ts' in m.payload]);
const ofPrefix = (prefix: string, suffix: string): Received[] =>
  recorder.messages.filter((m) => m.topic.startsWith(`iot/${prefix}`) && m.topic.endsWith(`/${suffix}`));

describe('simulator process on the broker', () => {
  it('a clean stop sends what is left and its own offline; every message is acknowledged', async () => {
    const prefix = `sim${run}a-`;
    const sim = runSimulator(
      ['--devices', '3', '--prefix', prefix, '--send-interval', '1', '--seed', 'clean', '--types', 'env,dc'],
      fleetEnv,
    );
    await expect
      .poll(() => ofPrefix(prefix, 'telemetry').length, { timeout: 30_000, message: 'telemetry' })
      .toBeGreaterThanOrEqual(6);
    sim.child.kill('SIGTERM');
    const summary = await sim.summary;
    expect((await sim.exit).code).toBe(0);
    await expect
      .poll(() => statuses(prefix).length, {
        timeout: 30_000,
        message: 'online and offline of three devices',
      })
      .toBe(6);
    expect(statuses(prefix).sort()).toEqual([
      [`${prefix}001`, 'offline', true],
      [`${prefix}001`, 'online', true],
      [`${prefix}002`, 'offline', true],
      [`${prefix}002`, 'online', true],
      [`${prefix}003`, 'offline', true],
      [`${prefix}003`, 'online', true],
    ]);
    // Everything the simulator counted as acknowledged reached a subscriber, once.
    const telemetry = ofPrefix(prefix, 'telemetry');
    expect(summary).toMatchObject({ devices: 3, errors: 0, samplesDropped: 0, buffered: 0, connects: 3 });
    expect(telemetry).toHaveLength(summary?.telemetryAcked ?? -1);
    const samples = telemetry.flatMap((m) => m.payload.measurements as { ts: string }[]);
    // env has two measurements per sample, dc two: every sample taken was sent.
    expect(samples).toHaveLength(2 * (summary?.samples ?? -1));
    expect(summary?.acked).toBe(summary?.published);
    expect(summary?.published).toBe(
      recorder.messages.filter((m) => m.topic.startsWith(`iot/${prefix}`)).length,
    );
  });

  it('killed, its devices’ Last Will says offline (with no time: nobody knows when it fires)', async () => {
    const prefix = `sim${run}b-`;
    const sim = runSimulator(['--devices', '2', '--prefix', prefix, '--send-interval', '1'], fleetEnv);
    await expect.poll(() => statuses(prefix).length, { timeout: 30_000, message: 'online' }).toBe(2);
    sim.child.kill('SIGKILL');
    expect((await sim.exit).signal).toBe('SIGKILL');
    await expect.poll(() => statuses(prefix).length, { timeout: 30_000, message: 'the Last Wills' }).toBe(4);
    expect(statuses(prefix).sort()).toEqual([
      [`${prefix}001`, 'offline', false],
      [`${prefix}001`, 'online', true],
      [`${prefix}002`, 'offline', false],
      [`${prefix}002`, 'online', true],
    ]);
  });

  it('stops by itself after --messages acknowledged telemetry messages', async () => {
    const prefix = `sim${run}c-`;
    const sim = runSimulator(
      ['--devices', '2', '--prefix', prefix, '--send-interval', '1', '--messages', '6'],
      fleetEnv,
    );
    expect((await sim.exit).code).toBe(0);
    const summary = await sim.summary;
    expect(summary?.telemetryAcked).toBeGreaterThanOrEqual(6);
    // checked once a second: at most a second's sending more, and each device's last flush
    expect(summary?.telemetryAcked).toBeLessThanOrEqual(14);
    expect(summary).toMatchObject({ devices: 2, connected: 0, errors: 0 });
  });

  it('refuses bad flags with a clear message and exit code 2', async () => {
    const devices = runSimulator(['--devices', '0'], fleetEnv);
    expect((await devices.exit).code).toBe(2);
    expect(devices.stderr()).toBe(
      'simulator: --devices: Too small: expected number to be >0\n(see --help)\n',
    );
    const types = runSimulator(['--types', 'env,toaster'], fleetEnv);
    expect((await types.exit).code).toBe(2);
    expect(types.stderr()).toBe("simulator: --types: unknown model 'toaster' (env, dc, ac)\n(see --help)\n");
  });
});
