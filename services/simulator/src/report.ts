import type { FleetStats } from './fleet.js';

export type Summary = Omit<FleetStats, 'allConnected'> & {
  seed: string;
  seconds: number;
  telemetryPerSecond: number;
  /** Seconds until every device had connected, and the telemetry rate from then on. */
  rampSeconds: number | null;
  steadyTelemetryPerSecond: number | null;
  cpuCores: number;
  maxRssMiB: number;
};

/**
 * The end-of-run summary: the fleet's final counts, rates as they were when the stop began
 * (`running`: before the last flush), and this process's CPU and memory.
 */
export function summarize(
  stats: FleetStats,
  running: { stats: FleetStats; atMs: number },
  seed: string,
  startedMs: number,
  cpuAtStart: NodeJS.CpuUsage,
): Summary {
  const now = running.atMs;
  const seconds = (now - startedMs) / 1000;
  const cpu = process.cpuUsage(cpuAtStart);
  const { allConnected: _, ...counts } = stats;
  const { allConnected } = running.stats;
  const steadySeconds = allConnected ? (now - allConnected.atMs) / 1000 : 0;
  return {
    ...counts,
    seed,
    seconds: Number(seconds.toFixed(1)),
    telemetryPerSecond: Math.round(running.stats.telemetryAcked / Math.max(seconds, 0.001)),
    rampSeconds: allConnected ? Number(((allConnected.atMs - startedMs) / 1000).toFixed(1)) : null,
    steadyTelemetryPerSecond:
      allConnected && steadySeconds >= 1
        ? Math.round((running.stats.telemetryAcked - allConnected.telemetryAcked) / steadySeconds)
        : null,
    cpuCores: Number(
      ((cpu.user + cpu.system) / 1e6 / Math.max((Date.now() - startedMs) / 1000, 0.001)).toFixed(2),
    ),
    maxRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
  };
}

const n = (value: number) => value.toLocaleString('en-US');

/** One line for a terminal, rewritten every second. */
export function progressLine(stats: FleetStats, telemetryPerSecond: number): string {
  return `connected ${n(stats.connected)}/${n(stats.devices)} · ${n(telemetryPerSecond)} telemetry msg/s · acked ${n(stats.acked)} · buffered samples ${n(stats.buffered)} · errors ${n(stats.errors)}`;
}

export function summaryText(s: Summary): string {
  return [
    `simulated ${n(s.devices)} devices for ${s.seconds} s (seed ${s.seed})`,
    `  telemetry acknowledged  ${n(s.telemetryAcked)} (${n(s.telemetryPerSecond)}/s; ${s.steadyTelemetryPerSecond === null ? 'not all devices connected' : `${n(s.steadyTelemetryPerSecond)}/s once all ${n(s.devices)} were connected, after ${s.rampSeconds} s`})`,
    `  messages published      ${n(s.published)}, acknowledged ${n(s.acked)}`,
    `  samples taken           ${n(s.samples)}, dropped by full device buffers ${n(s.samplesDropped)}`,
    `  connections             ${n(s.connects)} (reconnects ${n(Math.max(0, s.connects - s.devices))})`,
    `  commands answered       ${n(s.commands)}`,
    `  errors                  ${n(s.errors)}`,
    `  CPU ${s.cpuCores} cores, max RSS ${n(s.maxRssMiB)} MiB`,
  ].join('\n');
}
