import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it, vi } from 'vitest';

// However `npm start` dies, the services it started die with it: killed outright, or left with an
// output that broke under it (`npm start | tee log`, then Ctrl-C, which stops tee first).
const root = fileURLToPath(new URL('../../..', import.meta.url));
const stackDir = '/var/tmp/iot-meter-private-pipeline-exit';
const stackEnv = { IOT_STACK_DIR: stackDir, IOT_STACK_PORT_OFFSET: '450' };

function startPipeline(): { pipeline: ChildProcess; started: Promise<void> } {
  const pipeline = spawn(
    process.execPath,
    [
      '--conditions=iot-meter-source',
      '--import',
      'tsx',
      'scripts/start/local-pipeline.ts',
      '--devices',
      '2',
      '--send-interval',
      '1',
      '--api-port',
      '18592',
      '--collector-port',
      '18593',
    ],
    { cwd: root, env: { ...process.env, ...stackEnv }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  pipeline.stderr?.on('data', (chunk) => {
    output += chunk;
  });
  const started = new Promise<void>((resolve, reject) => {
    pipeline.stdout?.on('data', (chunk) => {
      output += chunk;
      if (output.includes('iot-meter: running')) resolve();
    });
    pipeline.once('exit', () => reject(new Error(`the pipeline did not start:\n${output}`)));
  });
  return { pipeline, started };
}

/** The processes this file's pipelines started: each has the private stack's folder in its env. */
function services(): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const environ = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (environ.includes(`IOT_STACK_DIR=${stackDir}`) && /services\/\w[\w-]*\/dist\//.test(cmdline))
        found.push(/services\/([\w-]+)\/dist\//.exec(cmdline)?.[1] ?? '');
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return found.sort();
}

const exited = (child: ChildProcess) =>
  new Promise<number | null>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });

afterAll(() => {
  spawnSync('bash', ['scripts/stack/stack.sh', 'down'], { cwd: root, env: { ...process.env, ...stackEnv } });
  rmSync(stackDir, { recursive: true, force: true });
});

describe('npm start never leaves its services behind', () => {
  it('when it is killed with SIGKILL', { timeout: 240_000 }, async () => {
    const { pipeline, started } = startPipeline();
    await started;
    expect(services()).toEqual(['collector', 'device-manager', 'simulator']);
    pipeline.kill('SIGKILL');
    await exited(pipeline);
    await vi.waitFor(() => expect(services()).toEqual([]), { timeout: 60_000, interval: 200 });
  });

  it('when its output breaks before Ctrl-C', { timeout: 240_000 }, async () => {
    // The stack is still up from the first case, so this run leaves it running, as it found it.
    const { pipeline, started } = startPipeline();
    await started;
    expect(services()).toEqual(['collector', 'device-manager', 'simulator']);
    pipeline.stdout?.destroy();
    pipeline.stderr?.destroy();
    pipeline.kill('SIGINT');
    expect(await exited(pipeline)).toBe(0);
    // It stopped them itself (the collector's drain ran too) before it exited.
    expect(services()).toEqual([]);
  });
});
