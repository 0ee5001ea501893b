import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runBenchmark } from '../../../scripts/bench-smoke.js';
import { benchRules, createFleet, expectedOpenings } from '../bench/alert-bench.js';

const bench = fileURLToPath(new URL('../bench/alert-bench.ts', import.meta.url));

// A seconds-long run of `npm run bench:alerts` (200 devices, 4 rules, 2 passes, one latency probe on
// a 1 s interval), so the benchmark keeps working: its counts are exact, its timings only checked
// for sense. It watches Alertmanager's API only: the stack's webhook receiver port is the one
// test/alertmanager.test.ts listens on, maybe at the same time.
describe('alert rule benchmark (smoke run)', () => {
  it('opens exactly the alerts its data implies, with one InfluxDB query per rule, and times a notification', {
    timeout: 120_000,
  }, async () => {
    const fleet = createFleet(200);
    const expected = expectedOpenings(fleet, benchRules(4, fleet));
    // One rule of each kind: 8 hot devices, 2 surging meters, 1 silent device on site-1, 3 offline.
    expect(expected.byRule).toEqual({
      'temperature-high': 8,
      'power-surge': 2,
      'site-1-silent': 1,
      offline: 3,
    });
    const report = await runBenchmark(bench, [
      ...['--devices', '200', '--rules', '4', '--passes', '2'],
      ...['--probes', '1', '--interval', '1s', '--receiver', 'api'],
    ]);
    expect(report.problems).toEqual([]);
    expect(report).toMatchObject({ devices: 200, rules: 4, telemetryRules: 3 });
    // The offline rule reads presence from PostgreSQL, the three others one query each.
    expect(report.first).toMatchObject({
      leading: true,
      rules: 4,
      failed: 0,
      influxQueries: 3,
      opened: 14,
      closed: 0,
    });
    expect(
      Object.fromEntries(report.byRule.map((r: { name: string; opened: number }) => [r.name, r.opened])),
    ).toEqual(expected.byRule);
    expect(report.steady).toHaveLength(1);
    expect(report.steady[0]).toMatchObject({ rules: 4, failed: 0, influxQueries: 3, opened: 0, closed: 0 });
    for (const pass of [report.first, ...report.steady]) {
      expect(pass.ms).toBeGreaterThan(0);
      expect(pass.cpuMs).toBeGreaterThan(0);
      expect(pass.rssPeakMb).toBeGreaterThanOrEqual(pass.rssMb);
    }
    expect(report.notification).toMatchObject({ receiver: 'api', intervalMs: 1000, webhooks: null });
    expect(report.notification.probes).toHaveLength(1);
    expect(report.notification.probes[0].visibleMs).toBeGreaterThan(0);
    expect(report.notification.delivers.length).toBeGreaterThanOrEqual(1);
  });
});
