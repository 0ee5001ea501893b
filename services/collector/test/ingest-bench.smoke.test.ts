import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runBenchmark } from '../../../scripts/bench-smoke.js';

const bench = fileURLToPath(new URL('../bench/ingest-bench.ts', import.meta.url));

// A seconds-long run of `npm run bench:ingest`, so the benchmark keeps working; its figures are not judged here.
describe('ingest benchmark (smoke run)', () => {
  it('measures every figure on a small backlog', { timeout: 180_000 }, async () => {
    const report = await runBenchmark(bench, ['--messages', '2000']);
    expect(report.messages).toBe(2000);
    for (const key of ['mosquitto_sub', 'mosquitto_sub_v2', 'mqttjs', 'influx_v1', 'influx_v2'])
      expect(report.results[key]).toBeGreaterThan(0);
    const { collectorV1, collectorV1Workers, collectorV2, twoCollectors, telegraf, telegrafTracked } = report;
    expect(collectorV1Workers).toHaveLength(2);
    for (const run of [
      collectorV1,
      ...collectorV1Workers,
      collectorV2,
      twoCollectors,
      telegraf,
      telegrafTracked,
    ]) {
      expect(run.rate).toBeGreaterThan(0);
      expect(run.cpuSeconds).toBeGreaterThan(0);
      expect(run.cpuMicrosPerMessage).toBeCloseTo((run.cpuSeconds / 2000) * 1e6);
      expect(run.rssBytes).toBeGreaterThan(0);
      expect(run.firstPointSeconds).toBeGreaterThan(0);
    }
    // Every point of each Telegraf bucket was compared with the collector's, and they were the same.
    expect(telegraf.pointsChecked).toBe(2000);
    expect(telegrafTracked.pointsChecked).toBe(2000);
    expect(report.telegrafSweep).toEqual([]);
    expect(report.latency.p99).toBeGreaterThanOrEqual(report.latency.p50);
    expect(report.latency.p50).toBeGreaterThan(0);
    expect(report.twoCollectors.shares).toHaveLength(2);
    for (const share of report.twoCollectors.shares) expect(share).toBeGreaterThan(0); // both took part
  });
});
