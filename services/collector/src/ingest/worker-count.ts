import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

/**
 * The cores this process may use: the container's CPU limit (cgroup v2 `cpu.max`) when it has one,
 * else what the OS offers. Node's own count ignores the limit, so a pod limited to 2 CPUs on a
 * 64-core node would otherwise start 63 workers.
 */
export function usableCores(cpuMaxFile = '/sys/fs/cgroup/cpu.max'): number {
  const cores = availableParallelism();
  let text: string;
  try {
    text = readFileSync(cpuMaxFile, 'utf8');
  } catch {
    return cores;
  }
  const [quota, period] = text.trim().split(/\s+/);
  if (quota === undefined || quota === 'max' || !period) return cores;
  return Math.max(1, Math.min(cores, Math.floor(Number(quota) / Number(period))));
}

/** Decode workers for `INGEST_WORKERS`: `auto` leaves one core to the event loop and uses the rest. */
export function decodeWorkers(setting: 'auto' | number, cores = usableCores()): number {
  return setting === 'auto' ? cores - 1 : setting;
}
