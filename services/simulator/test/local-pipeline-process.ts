import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../..', import.meta.url));

/**
 * `npm start`'s pipeline (`scripts/start/local-pipeline.ts`) on a private stack of its own, with a
 * small fleet sending every second; its output is collected in `output`.
 */
export class LocalPipeline {
  readonly child: ChildProcess;
  output = '';
  /** Resolves with the admin key once the banner is out; rejects if the pipeline exits first. */
  readonly started: Promise<string>;

  constructor(
    readonly stackEnv: { IOT_STACK_DIR: string; IOT_STACK_PORT_OFFSET: string },
    ports: { api: number; collector: number; accounts: number },
    devices: number,
    env: NodeJS.ProcessEnv = {},
  ) {
    this.child = spawn(
      process.execPath,
      [
        '--conditions=iot-meter-source',
        '--import',
        'tsx',
        'scripts/start/local-pipeline.ts',
        '--devices',
        String(devices),
        '--send-interval',
        '1',
        '--api-port',
        String(ports.api),
        '--collector-port',
        String(ports.collector),
        '--accounts-port',
        String(ports.accounts),
      ],
      { cwd: root, env: { ...process.env, ...stackEnv, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.started = new Promise((resolve, reject) => {
      const collect = (chunk: Buffer) => {
        this.output += chunk;
        const key = /iot-meter: running[\s\S]*admin key +([0-9a-f]{48})\n/.exec(this.output)?.[1];
        if (key) resolve(key);
      };
      this.child.stdout?.on('data', collect);
      this.child.stderr?.on('data', collect);
      this.child.once('exit', () => reject(new Error(`the pipeline did not start:\n${this.output}`)));
    });
  }

  /** Its exit code, once it has exited. */
  exited(): Promise<number | null> {
    const { child } = this;
    if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
    return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }
}

/** Stops a pipeline's private stack and removes its data. */
export function removeStack(stackEnv: LocalPipeline['stackEnv']): void {
  spawnSync('bash', ['scripts/stack/stack.sh', 'down'], { cwd: root, env: { ...process.env, ...stackEnv } });
  rmSync(stackEnv.IOT_STACK_DIR, { recursive: true, force: true });
}
