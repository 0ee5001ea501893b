import { decodeDeviceMessage, deviceTopic } from '@iot-meter/common';
import { describe, expect, it } from 'vitest';
import type { ModelName } from './device-models.js';
import type { Outgoing } from './messages.js';
import { type DeviceOptions, type Link, SimulatedDevice } from './simulated-device.js';

const T0 = Date.parse('2026-11-29T08:00:00.000Z');

function options(overrides: Partial<DeviceOptions> = {}): DeviceOptions {
  return {
    id: 'dev-001',
    model: 'dc',
    seed: 'seed-1',
    settings: { samplingCadenceMs: 1000, sendIntervalS: 10, helloIntervalS: 30 },
    payloadVersion: 2,
    fwVersion: '2.1.0',
    bufferSamples: 100,
    faultsPerDay: 2,
    phase: 0,
    rebootMs: 3000,
    otaStepMs: 1000,
    ...overrides,
  };
}

/** Our own Link: records what the device publishes; `up` says whether it is connected. */
function recordingLink() {
  const sent: Outgoing[] = [];
  const link: Link & { up: boolean } = {
    up: true,
    connected: () => link.up,
    publish: (message) => {
      sent.push(message);
    },
  };
  return { link, sent };
}

/** Runs a device for `seconds` of simulated time, ticking every 100 ms, connected from the start. */
function run(device: SimulatedDevice, seconds: number, link = recordingLink()) {
  device.connected(T0, link.link, () => true);
  for (let t = T0; t <= T0 + seconds * 1000; t += 100) device.tick(t, link.link, () => true);
  return link.sent;
}

const parse = (m: Outgoing) => JSON.parse(m.payload) as Record<string, unknown>;

function decode(id: string, m: Outgoing) {
  return decodeDeviceMessage(deviceTopic(id, m.kind), Buffer.from(m.payload), {
    receivedAtMs: T0 + 3_600_000,
    maxPayloadBytes: 256 * 1024,
    maxFutureSkewMs: 60_000,
  });
}

describe('simulated device', () => {
  it('sends the same messages for the same seed, and others for another seed', () => {
    const a = run(new SimulatedDevice(options(), T0), 120);
    const b = run(new SimulatedDevice(options(), T0), 120);
    const c = run(new SimulatedDevice(options({ seed: 'seed-2' }), T0), 120);
    expect(a.map((m) => m.payload)).toEqual(b.map((m) => m.payload));
    expect(a.filter((m) => m.kind === 'telemetry').map((m) => m.payload)).not.toEqual(
      c.filter((m) => m.kind === 'telemetry').map((m) => m.payload),
    );
  });

  it.each([
    ['env', 2],
    ['dc', 2],
    ['ac', 4],
  ] as [ModelName, number][])(
    '%s: v2 messages pass the collector’s decoder, one sample per cadence',
    (model, perSample) => {
      const sent = run(new SimulatedDevice(options({ model }), T0), 60);
      const results = sent.map((m) => decode('dev-001', m));
      expect(results.filter((r) => !r.ok)).toEqual([]);
      // Telemetry at 0, 10, … 60 s; hellos on connecting and every 30 s, after that second's telemetry.
      const t = 'telemetry';
      expect(sent.map((m) => m.kind)).toEqual(['status', 'hello', t, t, t, t, 'hello', t, t, t, 'hello']);
      const samples = results.flatMap((r) =>
        r.ok && r.message.kind === 'telemetry' ? r.message.samples : [],
      );
      // 08:00:00 to 08:01:00 inclusive, every second, each with all of the model's measurements.
      expect(samples).toHaveLength(61 * perSample);
      const times = [...new Set(samples.map((s) => s.timeNs))];
      expect(times).toEqual(Array.from({ length: 61 }, (_, i) => BigInt(T0 + i * 1000) * 1_000_000n));
      // seq counts every v2 message but status, from 0.
      expect(sent.filter((m) => m.kind !== 'status').map((m) => parse(m).seq)).toEqual(
        Array.from({ length: 10 }, (_, i) => i),
      );
    },
  );

  it('keeps believable values: DC 750 V line, AC 25 kV at 50 Hz, room temperature', () => {
    const values = (model: ModelName) => {
      const sent = run(new SimulatedDevice(options({ model, faultsPerDay: 0 }), T0), 600);
      const byType = new Map<string, number[]>();
      for (const m of sent.filter((s) => s.kind === 'telemetry')) {
        for (const x of parse(m).measurements as { type: string; val: number }[]) {
          byType.set(x.type, [...(byType.get(x.type) ?? []), x.val]);
        }
      }
      return Object.fromEntries(
        [...byType].map(([type, v]) => [type, [Math.min(...v), Math.max(...v), v.length]]),
      );
    };
    const within = (range: number[] | undefined, low: number, high: number) => {
      expect(range?.[0]).toBeGreaterThanOrEqual(low);
      expect(range?.[1]).toBeLessThanOrEqual(high);
    };
    const dc = values('dc');
    within(dc.voltage_dc, 500, 810); // EN 50163: 500–900 V on a 750 V line
    within(dc.current_dc, 100, 2500);
    const ac = values('ac');
    within(ac.voltage_ac, 24_000, 26_500);
    within(ac.frequency, 49.8, 50.2);
    within(ac.pf, 0.85, 1);
    const env = values('env');
    within(env.temperature, 10, 35);
    within(env.humidity, 5, 99);
    expect(dc.voltage_dc?.[2]).toBe(601);
  });

  it('writes v1 as the original flat object, one message per sample', () => {
    const sent = run(new SimulatedDevice(options({ model: 'env', payloadVersion: 1 }), T0), 20);
    const telemetry = sent.filter((m) => m.kind === 'telemetry');
    expect(telemetry).toHaveLength(21);
    expect(Object.keys(parse(telemetry[0] as Outgoing))).toEqual([
      'timestamp',
      'device_id',
      'temperature',
      'humidity',
    ]);
    expect(parse(telemetry[0] as Outgoing).timestamp).toBe('2026-11-29T08:00:00.000Z');
    const decoded = telemetry.map((m) => decode('dev-001', m));
    expect(decoded.every((r) => r.ok && r.message.version === 1 && r.message.kind === 'telemetry')).toBe(
      true,
    );
    const dc = run(new SimulatedDevice(options({ model: 'dc', payloadVersion: 1 }), T0), 0);
    expect(Object.keys(parse(dc.find((m) => m.kind === 'telemetry') as Outgoing))).toEqual([
      'timestamp',
      'device_id',
      'voltage_dc',
      'current_dc',
    ]);
  });

  it('keeps samples while disconnected and sends them all with their own times once back', () => {
    const device = new SimulatedDevice(options({ model: 'env' }), T0);
    const { link, sent } = recordingLink();
    device.connected(T0, link, () => true);
    link.up = false;
    for (let t = T0; t <= T0 + 300_000; t += 100) device.tick(t, link, () => true);
    expect(device.buffered).toBe(100); // the buffer's size: the oldest 201 samples are gone
    expect(device.counts.samplesDropped).toBe(201);
    link.up = true;
    device.connected(T0 + 300_050, link, () => true);
    const backfill = sent
      .filter((m) => m.kind === 'telemetry')
      .flatMap((m) => parse(m).measurements as { ts: string }[]);
    expect(backfill).toHaveLength(200);
    expect(backfill[0]?.ts).toBe('2026-11-29T08:03:21.000Z');
    expect(backfill.at(-1)?.ts).toBe('2026-11-29T08:05:00.000Z');
    const hello = sent
      .filter((m) => m.kind === 'hello')
      .map(parse)
      .at(-1);
    expect(hello).toMatchObject({ uptime_s: 300, buf_usage_pct: 100 });
  });

  it('sends telemetry only as the rate limit allows, keeping the rest', () => {
    const device = new SimulatedDevice(options({ model: 'env' }), T0);
    const { link, sent } = recordingLink();
    link.up = false;
    for (let t = T0; t < T0 + 10_000; t += 100) device.tick(t, link, () => true);
    link.up = true;
    let tokens = 0;
    device.connected(T0 + 10_000, link, () => tokens-- > 0);
    expect(sent.filter((m) => m.kind === 'telemetry')).toHaveLength(0);
    expect(device.buffered).toBe(10);
  });
});

describe('commands', () => {
  const command = (cmd: string, params: unknown, cmdId = '9f1c1d4e-8a44-4c3f-9a55-5a1c3e2b7d10') =>
    Buffer.from(JSON.stringify({ v: 2, cmd_id: cmdId, ts: '2026-11-29T08:00:00Z', cmd, params }));
  const acks = (sent: Outgoing[]) =>
    sent
      .filter((m) => m.kind === 'command/ack')
      .map((m) => {
        const { result, detail } = parse(m);
        return [result, detail];
      });

  it('answers each command with the right result', () => {
    const device = new SimulatedDevice(options(), T0);
    const { link, sent } = recordingLink();
    device.connected(T0, link, () => true);
    device.command(command('update_config', { send_interval_s: 5, hello_interval_s: 60 }), T0, link);
    device.command(command('update_config', { send_interval_s: 5 }), T0, link);
    device.command(command('update_config', { sampling_cadence_ms: 50 }), T0, link);
    device.command(command('request_status', {}), T0, link);
    device.command(command('self_destruct', {}), T0, link);
    device.command(Buffer.from('not json'), T0, link);
    expect(acks(sent)).toEqual([
      ['accepted', 'Config updated: send_interval_s=5, hello_interval_s=60'],
      ['accepted', 'No changes applied'],
      ['rejected', 'invalid params: sampling_cadence_ms Too small: expected number to be >=100'],
      ['accepted', 'Status requested'],
      ['unsupported', 'Unknown command: self_destruct'],
    ]);
    expect(sent.filter((m) => m.kind === 'hello')).toHaveLength(2);
    const decoded = sent.filter((m) => m.kind === 'command/ack').map((m) => decode('dev-001', m).ok);
    expect(decoded).toEqual([true, true, true, true, true]);
  });

  it('reboots: goes offline, takes no samples, comes back with seq from 0', () => {
    const device = new SimulatedDevice(options({ model: 'env' }), T0);
    const { link, sent } = recordingLink();
    device.connected(T0, link, () => true);
    for (let t = T0; t <= T0 + 5000; t += 100) device.tick(t, link, () => true);
    device.command(command('reboot', {}), T0 + 5000, link);
    link.up = false; // the connection follows the device down
    expect(device.powered).toBe(false);
    expect(sent.slice(-2).map((m) => [m.kind, parse(m).status ?? parse(m).result])).toEqual([
      ['telemetry', undefined],
      ['status', 'offline'],
    ]);
    for (let t = T0 + 5100; t < T0 + 8000; t += 100) device.tick(t, link, () => true);
    expect(device.powered).toBe(false);
    device.tick(T0 + 8000, link, () => true);
    expect(device.powered).toBe(true);
    const before = sent.length;
    link.up = true;
    device.connected(T0 + 8100, link, () => true);
    const after = sent.slice(before).map(parse);
    expect(after.map((m) => [m.status ?? m.msg_type, m.seq])).toEqual([
      ['online', undefined],
      ['hello', 0],
      ['telemetry', 1],
    ]);
    // samples 08:00:00–08:00:05 before, none while off, from 08:00:08 after
    const firstAfter = after[2]?.measurements as { ts: string }[] | undefined;
    expect(firstAfter?.[0]?.ts).toBe('2026-11-29T08:00:08.000Z');
  });

  it('runs an OTA: progress, reboot, then success with the new firmware', () => {
    const device = new SimulatedDevice(options({ model: 'env' }), T0);
    const { link, sent } = recordingLink();
    device.connected(T0, link, () => true);
    const params = {
      fw_version: '2.2.0',
      fw_url: 'https://firmware.example/2.2.0.bin',
      fw_sha256: 'a'.repeat(64),
      fw_size_bytes: 1_048_576,
    };
    device.command(command('start_ota', params), T0, link);
    device.command(command('start_ota', params, '2b1c1d4e-8a44-4c3f-9a55-5a1c3e2b7d10'), T0, link);
    for (let t = T0; t <= T0 + 10_000; t += 100) {
      device.tick(t, link, () => true);
      if (device.powered && !link.up) {
        link.up = true;
        device.connected(t, link, () => true);
      }
      if (!device.powered) link.up = false;
    }
    expect(acks(sent)).toEqual([
      ['accepted', 'OTA started: 2.1.0 → 2.2.0'],
      ['rejected', 'OTA to 2.2.0 already in progress'],
      ['accepted', 'downloading 25%'],
      ['accepted', 'downloading 50%'],
      ['accepted', 'downloading 75%'],
      ['accepted', 'downloading 100%'],
      ['accepted', 'verifying sha256'],
      ['accepted', 'applying'],
      ['success', 'firmware 2.2.0 running'],
    ]);
    const hellos = sent.filter((m) => m.kind === 'hello').map(parse);
    expect(hellos.map((h) => h.fw_version)).toEqual(['2.1.0', '2.2.0']);
  });
});
