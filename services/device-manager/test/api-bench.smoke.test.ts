import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const bench = fileURLToPath(new URL('../bench/api-bench.ts', import.meta.url));

// A seconds-long run of `npm run bench:api`, so the benchmark keeps working; its figures are not judged here.
describe('API benchmark (smoke run)', () => {
  it('measures every figure', { timeout: 180_000 }, async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [
        '--conditions=iot-meter-source',
        '--import',
        'tsx',
        bench,
        '--duration',
        '1',
        '--connections',
        '5',
        '--json',
      ],
      { maxBuffer: 1 << 24 },
    );
    const report = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}');
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
