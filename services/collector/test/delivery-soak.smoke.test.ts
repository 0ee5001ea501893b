import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runBenchmark } from '../../../scripts/bench-smoke.js';

const soak = fileURLToPath(new URL('../soak/delivery-soak.ts', import.meta.url));

// A short `npm run soak:delivery`: one kill run with stale groups and a backlog, then a minute of
// random faults under two collectors. Every acknowledged message must be stored and archived.
describe('delivery soak (short run)', () => {
  it('loses nothing through a kill run and a minute of random faults', { timeout: 600_000 }, async () => {
    const report = await runBenchmark(soak, [
      ...['--runs', '1', '--backlog-max', '20000', '--minutes', '1'],
      ...['--fault-every', '6', '--rate', '200', '--port-offset', '410', '--seed', 'suite'],
    ]);
    expect(report.failed).toBe(0);
    expect(report.missing).toBe(0);
    expect(report.reports).toHaveLength(2);
    const [kills, faults] = report.reports;
    expect(kills.verdict.acknowledged).toBe(kills.verdict.stored);
    for (const kill of kills.faults) expect(kill.midStream).toBe(true);
    // Six-second spacing gives several faults a minute (fewer on a loaded machine: an outage lasts
    // up to 15 s, a broker restart freezes the collectors up to 3 s); each must have hit the stream.
    expect(faults.faults.length).toBeGreaterThanOrEqual(2);
    for (const fault of faults.faults) expect(fault, fault.kind).toMatchObject({ landed: true });
    expect(faults.verdict).toMatchObject({ ok: true, missing: [], notArchived: [] });
    expect(faults.verdict.acknowledged).toBeGreaterThan(6000);
  });
});
