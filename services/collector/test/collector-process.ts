import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { waitFor } from '@iot-meter/common/testing';

// The compiled service, as it runs in its image (the integration tests' global setup builds it).
const main = fileURLToPath(new URL('../dist/main.js', import.meta.url));

/** The collector as its own process, so a test can SIGKILL it. */
export class CollectorProcess {
  private child: ChildProcess | undefined;
  output = '';

  constructor(
    private readonly env: Record<string, string>,
    readonly port: number,
  ) {}

  /** Runs `main.js --drain` for this client id and resolves with its exit code once it is done. */
  async drain(): Promise<number | null> {
    this.spawnMain(['--drain']);
    const [code] = (await once(this.child as ChildProcess, 'exit')) as [number | null];
    return code;
  }

  async start(): Promise<void> {
    this.spawnMain([]);
    const child = this.child as ChildProcess;
    await waitFor(
      () => {
        if (child.exitCode !== null) throw new Error(`collector exited: ${this.output}`);
        return fetch(`http://127.0.0.1:${this.port}/readyz`).then(
          (r) => r.ok,
          () => false,
        );
      },
      () => `the collector's /readyz: ${this.output}`,
      { timeoutMs: 30_000, intervalMs: 200 },
    );
  }

  private spawnMain(args: string[]): void {
    this.child = spawn(
      process.execPath,
      ['--conditions=iot-meter-source', '--import', 'tsx', main, ...args],
      {
        env: { ...process.env, ...this.env, PORT: String(this.port), LOG_LEVEL: 'warn' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    this.child.stdout?.on('data', (chunk) => this.capture(chunk));
    this.child.stderr?.on('data', (chunk) => this.capture(chunk));
  }

  /** Sends the signal and waits for the process to exit; resolves with its exit code. */
  async stop(signal: 'SIGTERM' | 'SIGKILL'): Promise<number | null> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return child?.exitCode ?? null;
    const exited = once(child, 'exit');
    child.kill(signal);
    await exited;
    return child.exitCode;
  }

  /** Freezes the process (SIGSTOP) or lets it go on (SIGCONT): it is away without knowing it. */
  freeze(frozen: boolean): void {
    this.child?.kill(frozen ? 'SIGSTOP' : 'SIGCONT');
  }

  async metric(name: string): Promise<number> {
    const text = await (await fetch(`http://127.0.0.1:${this.port}/metrics`)).text();
    return text
      .split('\n')
      .filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `))
      .reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0);
  }

  private capture(chunk: Buffer): void {
    // Keep the tail only: enough to explain a failure.
    this.output = (this.output + chunk.toString()).slice(-20_000);
  }
}
