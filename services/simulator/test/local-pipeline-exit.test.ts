import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { LocalPipeline, removeStack } from './local-pipeline-process.js';

// However `npm start` dies, the services it started die with it: killed outright (the pipeline, or
// npm above it), or left with an output that broke under it (`npm start | tee log`, then Ctrl-C,
// which stops tee first).
const stackDir = '/var/tmp/iot-meter-private-pipeline-exit';
const stackEnv = { IOT_STACK_DIR: stackDir, IOT_STACK_PORT_OFFSET: '450' };
const start = (env: NodeJS.ProcessEnv = {}) =>
  new LocalPipeline(stackEnv, { api: 18592, collector: 18593, accounts: 18595 }, 2, env);

/** The services this file's pipelines started (each has the private stack's folder in its env). */
function services(): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const environ = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      const script = /services\/([\w-]+)\/dist\/([\w/-]+)\.js/.exec(cmdline);
      if (environ.includes(`IOT_STACK_DIR=${stackDir}`) && script) found.push(`${script[1]} ${script[2]}`);
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return found.sort();
}

const RUNNING = [
  'collector bundle/main',
  'device-manager bin/sync-broker-accounts',
  'device-manager main',
  'simulator main',
];

afterAll(() => removeStack(stackEnv));

describe('npm start never leaves its services behind', () => {
  it('when it is killed with SIGKILL', { timeout: 240_000 }, async () => {
    const pipeline = start();
    await pipeline.started;
    expect(services()).toEqual(RUNNING);
    pipeline.child.kill('SIGKILL');
    await pipeline.exited();
    await vi.waitFor(() => expect(services()).toEqual([]), { timeout: 60_000, interval: 200 });
  });

  it('when its output breaks before Ctrl-C', { timeout: 240_000 }, async () => {
    // The stack is still up from the first case, so this run leaves it running, as it found it.
    const pipeline = start();
    await pipeline.started;
    expect(services()).toEqual(RUNNING);
    pipeline.child.stdout?.destroy();
    pipeline.child.stderr?.destroy();
    pipeline.child.kill('SIGINT');
    expect(await pipeline.exited()).toBe(0);
    // It stopped them itself (the collector's drain ran too) before it exited.
    expect(services()).toEqual([]);
  });

  it('when npm above it is killed with SIGKILL', { timeout: 240_000 }, async () => {
    // Stands in for npm, which start.sh names in IOT_METER_LAUNCHER_PID.
    const npm = spawn('sleep', ['600'], { stdio: 'ignore' });
    const pipeline = start({ IOT_METER_LAUNCHER_PID: String(npm.pid) });
    await pipeline.started;
    expect(services()).toEqual(RUNNING);
    npm.kill('SIGKILL');
    expect(await pipeline.exited()).toBe(0);
    expect(services()).toEqual([]);
  });
});
