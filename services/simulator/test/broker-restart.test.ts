import { stackFleetEnv } from '@iot-meter/common/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PrivateStack } from '../../../scripts/stack/private-stack.js';
import { record, runSimulator } from './simulator-harness.js';

// A Mosquitto of this file's own, which it stops and starts while a fleet publishes.
const stack = new PrivateStack(300);
let recorder: Awaited<ReturnType<typeof record>>;

beforeAll(async () => {
  stack.up('mosquitto');
  recorder = await record(stack.env, 'restart-', 'restart-recorder');
}, 120_000);

afterAll(async () => {
  await recorder?.close();
  stack.destroy();
});

describe('broker restart mid-run', () => {
  it('sends the backlog after reconnecting: every sample arrives, seq has no gap', async () => {
    const sim = runSimulator(
      [
        '--devices',
        '4',
        '--prefix',
        'restart-',
        '--sampling-ms',
        '500',
        '--send-interval',
        '1',
        '--seed',
        'r',
        '--types',
        'env,dc',
      ],
      stackFleetEnv(stack.env),
    );
    const telemetry = () => recorder.messages.filter((m) => m.topic.endsWith('/telemetry'));
    await expect
      .poll(() => telemetry().length, { timeout: 30_000, message: 'telemetry before the restart' })
      .toBeGreaterThanOrEqual(12);
    stack.signal('stop', 'mosquitto');
    await new Promise((r) => setTimeout(r, 4000)); // the devices sample on, into their buffers
    stack.signal('start', 'mosquitto');
    const before = telemetry().length;
    await expect
      .poll(() => telemetry().length, { timeout: 30_000, message: 'telemetry after the restart' })
      .toBeGreaterThanOrEqual(before + 16);
    sim.child.kill('SIGTERM');
    const summary = await sim.summary;
    expect(summary).toMatchObject({ devices: 4, samplesDropped: 0, buffered: 0 });
    expect(summary?.connects).toBe(8); // each device connected twice

    for (const id of ['restart-001', 'restart-002', 'restart-003', 'restart-004']) {
      const mine = recorder.messages.filter((m) => m.topic.split('/')[1] === id);
      // QoS 1 may deliver a message twice; a gap would mean one was lost.
      const seqs = [
        ...new Set(mine.map((m) => m.payload.seq).filter((s) => typeof s === 'number')),
      ] as number[];
      seqs.sort((a, b) => a - b);
      expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i));
      // Samples every 500 ms from the first to the last, through the outage, with their own times.
      const times = [
        ...new Set(
          mine
            .filter((m) => m.topic.endsWith('/telemetry'))
            .flatMap((m) => (m.payload.measurements as { ts: string }[]).map((x) => Date.parse(x.ts))),
        ),
      ].sort((a, b) => a - b);
      const first = times[0] ?? 0;
      expect(times).toEqual(Array.from({ length: times.length }, (_, i) => first + i * 500));
      expect(times.length).toBeGreaterThan(20);
    }
    const allSamples = new Set(
      telemetry().flatMap((m) =>
        (m.payload.measurements as { ts: string; type: string }[]).map((x) => `${m.topic} ${x.ts} ${x.type}`),
      ),
    );
    // Every sample taken reached the subscriber (each has two measurements, env and dc alike).
    expect(allSamples.size).toBe(2 * (summary?.samples ?? 0));
  });
});
