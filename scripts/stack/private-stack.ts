import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseExports } from './stack-env.js';

const script = fileURLToPath(new URL('./stack.sh', import.meta.url));

type Server = 'postgres' | 'mosquitto' | 'minio' | 'influxdb';

/**
 * A second stack of the real servers on other ports, for tests that stop, kill and restart them
 * without disturbing the shared stack other test files use.
 */
export class PrivateStack {
  readonly dir = `/var/tmp/iot-meter-private-${randomBytes(4).toString('hex')}`;
  env: Record<string, string> = {};

  /** `settings` apply to every start, e.g. IOT_STACK_MOSQUITTO_EXTRA (mosquitto.conf lines). */
  constructor(
    private readonly portOffset: number,
    private readonly settings: Record<string, string> = {},
  ) {}

  /** Starts the whole stack, or only `servers`. */
  up(...servers: Server[]): void {
    if (servers.length === 0) this.run({}, 'up');
    for (const server of servers) this.run({}, 'start', server);
    this.env = parseExports(this.run({}, 'env'));
  }

  /**
   * `stop` sends SIGTERM (a clean shutdown), `kill` SIGKILL; both wait for the process to go.
   * `start` takes extra stack settings, e.g. IOT_STACK_MOSQUITTO_CRASH_SAFE.
   */
  signal(action: 'stop' | 'kill' | 'start', server: Server, env: Record<string, string> = {}): void {
    this.run(env, action, server);
  }

  destroy(): void {
    this.run({}, 'down');
    rmSync(this.dir, { recursive: true, force: true });
  }

  private run(env: Record<string, string>, ...args: string[]): string {
    return execFileSync('bash', [script, ...args], {
      encoding: 'utf8',
      env: {
        ...process.env,
        IOT_STACK_DIR: this.dir,
        IOT_STACK_PORT_OFFSET: String(this.portOffset),
        ...this.settings,
        ...env,
      },
    });
  }
}
