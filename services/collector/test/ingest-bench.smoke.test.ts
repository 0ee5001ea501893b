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
    for (const run of [report.collectorV1, report.collectorV2, report.twoCollectors]) {
      expect(run.rate).toBeGreaterThan(0);
      expect(run.rssBytes).toBeGreaterThan(0);
    }
    expect(report.latency.p99).toBeGreaterThanOrEqual(report.latency.p50);
    expect(report.latency.p50).toBeGreaterThan(0);
    expect(report.twoCollectors.shares).toHaveLength(2);
    for (const share of report.twoCollectors.shares) expect(share).toBeGreaterThan(0); // both took part
  });
});
