import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

/**
 * Runs a benchmark script (TypeScript, from source) with `args` plus `--json` (and `env` added to
 * this process's) and returns the JSON report it prints last: the smoke runs that keep every
 * benchmark working.
 */
export async function runBenchmark(
  script: string,
  args: string[],
  env: Record<string, string> = {},
  // biome-ignore lint/suspicious/noExplicitAny: each benchmark's report has its own shape, which its smoke test reads
): Promise<Record<string, any>> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--conditions=iot-meter-source', '--import', 'tsx', script, ...args, '--json'],
    { maxBuffer: 1 << 24, env: { ...process.env, ...env } },
  );
  return JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}');
}
