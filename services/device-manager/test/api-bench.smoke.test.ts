import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runBenchmark } from '../../../scripts/bench-smoke.js';

const bench = fileURLToPath(new URL('../bench/api-bench.ts', import.meta.url));

// A seconds-long run of `npm run bench:api`, so the benchmark keeps working; its figures are not judged here.
describe('API benchmark (smoke run)', () => {
  it('measures every figure', { timeout: 180_000 }, async () => {
    const report = await runBenchmark(bench, ['--duration', '1', '--connections', '5']);
    expect(Object.keys(report.results)).toEqual([
      'hello',
      'list',
      'get',
      'metricsRaw',
      'metricsMean',
      'listUncached',
      'getUncached',
      'metricsRawUncached',
      'metricsMeanUncached',
    ]);
    for (const result of Object.values(report.results) as { rps: number; p99: number }[]) {
      expect(result.rps).toBeGreaterThan(0);
      expect(result.p99).toBeGreaterThanOrEqual(0);
    }
  });
});
