import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

// The kernel counts CPU time in clock ticks (USER_HZ), which only getconf tells.
const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

export type ProcessUsage = { cpuSeconds: number; peakRssBytes: number };

/**
 * A running process's CPU time so far (user and system, all threads) and its peak resident set
 * (VmHWM), read the same way for every contender whatever it is written in.
 */
export function readProcessUsage(pid: number | undefined): ProcessUsage {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name may hold spaces and parentheses: count fields after its last ')'. There the
  // list starts at field 3 of proc_pid_stat(5), so utime (14) and stime (15) are at 11 and 12.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  const hwm = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!hwm) throw new Error(`process ${pid} has no VmHWM: it has exited`);
  return { cpuSeconds: ticks / CLOCK_TICKS, peakRssBytes: Number(hwm[1]) * 1024 };
}
