import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runBenchmark } from '../../../scripts/bench-smoke.js';

const bench = fileURLToPath(new URL('../bench/broker-accounts-bench.ts', import.meta.url));

const latency = {
  p50: expect.any(Number),
  p99: expect.any(Number),
  max: expect.any(Number),
};
const stall = { ...latency, cpuMs: expect.any(Number), settled: true };

// A seconds-long run of `npm run bench:broker-accounts` with 200 devices, so the benchmark keeps
// working: its counts are exact, its timings are only checked for sense, not judged.
describe('broker account benchmark (smoke run)', () => {
  it('provisions, connects and revokes the devices it says, and measures every stall', {
    timeout: 60_000,
  }, async () => {
    const report = await runBenchmark(bench, [
      ...['--devices', '200', '--revoke', '20', '--second-import', '50'],
      ...['--seconds', '1', '--rounds', '1'],
    ]);
    expect(report.problems).toEqual([]);
    expect(report.provision).toMatchObject({ provisioned: 200, imports: 1 });
    expect(report.provision.admittedMs).toBeGreaterThanOrEqual(report.provision.importMs);
    expect(report.provision.reloads.sync).toBeGreaterThanOrEqual(1);
    expect(report.provision.reloads.broker).toBeGreaterThanOrEqual(1);
    expect(report.connect).toMatchObject({ connected: 200, refused: 0 });
    expect(report.quiet).toEqual(latency);
    for (const window of [report.unchanged, report.revocation, report.secondImport]) {
      expect(window).toMatchObject(stall);
      expect(window.p50).toBeLessThanOrEqual(window.p99);
      expect(window.p99).toBeLessThanOrEqual(window.max);
    }
    // Every revoked device cut off, by the sync's reloads (one when coalesced), and no other.
    expect(report.revocation).toMatchObject({ disconnected: 20 });
    expect(report.revocation.reloads.sync).toBeGreaterThanOrEqual(1);
    expect(report.revocation.reloads.broker).toBeGreaterThanOrEqual(1);
    expect(report.revocation.signalMs).toBeGreaterThan(0);
    expect(report.revocation.firstDisconnectMs).toBeGreaterThanOrEqual(report.revocation.signalMs);
    expect(report.revocation.lastDisconnectMs).toBeGreaterThanOrEqual(report.revocation.firstDisconnectMs);
    expect(report.otherDisconnected).toBe(0);
    expect(report.secondImport).toMatchObject({ created: 50, reloads: { sync: 1, broker: 1 } });
    // The probe, the devices left and those imported since; in the file also the API's account and
    // the sync's canary.
    expect(report.iterations).toMatchObject({ accounts: 1 + 200 - 20 + 50 + 2, connected: 1 + 200 - 20 });
    for (const kind of ['one', 'hundredOne']) {
      expect(report.iterations[kind].stalls).toHaveLength(1);
      expect(report.iterations[kind].cpu).toHaveLength(1);
    }
    expect(report.iterations.stallRatio).toBeGreaterThan(0);
    // A reload of 200 accounts costs the broker about as little as the noise in the quiet rate.
    expect(Number.isFinite(report.iterations.cpuRatio)).toBe(true);
  });
});
