import type { FleetStats } from './fleet.js';

export type Summary = FleetStats & {
  seed: string;
  seconds: number;
  telemetryPerSecond: number;
  cpuCores: number;
  maxRssMiB: number;
};

/** Builds the end-of-run summary from the fleet's counts and this process's CPU and memory. */
export function summarize(
  stats: FleetStats,
  seed: string,
  startedMs: number,
  cpuAtStart: NodeJS.CpuUsage,
): Summary {
  const seconds = (Date.now() - startedMs) / 1000;
  const cpu = process.cpuUsage(cpuAtStart);
  return {
    ...stats,
    seed,
    seconds: Number(seconds.toFixed(1)),
    telemetryPerSecond: Math.round(stats.telemetryAcked / Math.max(seconds, 0.001)),
    cpuCores: Number(((cpu.user + cpu.system) / 1e6 / Math.max(seconds, 0.001)).toFixed(2)),
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
    `  telemetry acknowledged  ${n(s.telemetryAcked)} (${n(s.telemetryPerSecond)}/s)`,
    `  messages published      ${n(s.published)}, acknowledged ${n(s.acked)}`,
    `  samples taken           ${n(s.samples)}, dropped by full device buffers ${n(s.samplesDropped)}`,
    `  connections             ${n(s.connects)} (reconnects ${n(Math.max(0, s.connects - s.devices))})`,
    `  commands answered       ${n(s.commands)}`,
    `  errors                  ${n(s.errors)}`,
    `  CPU ${s.cpuCores} cores, max RSS ${n(s.maxRssMiB)} MiB`,
  ].join('\n');
}
