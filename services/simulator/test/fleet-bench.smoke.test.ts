import { fileURLToPath } from 'node:url';
import { stackFleetEnv } from '@iot-meter/common/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBenchmark } from '../../../scripts/bench-smoke.js';
import { PrivateStack } from '../../../scripts/stack/private-stack.js';

const bench = fileURLToPath(new URL('../bench/fleet-bench.ts', import.meta.url));

// Its own broker: the fleet's telemetry must not reach other test files' collectors.
const stack = new PrivateStack(600);
beforeAll(() => stack.up('mosquitto'), 120_000);
afterAll(() => stack.destroy());

// A seconds-long run of `npm run bench:simulator`, so the benchmark keeps working; its figures are not judged here.
describe('simulator benchmark (smoke run)', () => {
  it('measures the baseline and the fleet', { timeout: 120_000 }, async () => {
    const report = await runBenchmark(
      bench,
      ['--devices', '20', '--rate', '10', '--duration', '3'],
      stackFleetEnv(stack.env),
    );
    expect(report).toMatchObject({ devices: 20, rate: 10, duration: 3, sendInterval: 2 });
    expect(report.baseline.acked).toBeGreaterThan(0);
    expect(report.fleet).toMatchObject({ devices: 20, connects: 20, errors: 0 });
    expect(report.fleet.telemetryAcked).toBeGreaterThan(0);
    expect(report.cpuPerMessageRatio).toBeGreaterThan(0);
  });
});
