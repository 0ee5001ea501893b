import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';

export type ImageConfig = { User?: string; Entrypoint?: string[]; WorkingDir?: string; Env?: string[] };

/** The image's OCI config (user, entrypoint, working directory, environment). */
export function imageConfig(image: string): ImageConfig {
  const inspected = JSON.parse(
    execFileSync('buildah', ['inspect', '--type', 'image', image], { encoding: 'utf8' }),
  ) as { OCIv1: { config: ImageConfig } };
  return inspected.OCIv1.config;
}

/**
 * One image run the way the chart's pods run it, without a container engine: its file system
 * mounted read-only, in a PID namespace of its own (so the command is PID 1), as uid/gid 1000 (the
 * chart's runAsUser), with only the image's and the given environment, on the host's network.
 */
export class ImageContainer {
  private child: ChildProcess | undefined;
  private readonly name = `iot-meter-test-${Math.random().toString(16).slice(2, 10)}`;
  private mounted: string | undefined;
  output = '';

  constructor(private readonly image: string) {}

  /** The image's file system (a working container of it, mounted). */
  rootfs(): string {
    if (!this.mounted) {
      execFileSync('buildah', ['from', '-q', '--name', this.name, this.image], { stdio: 'ignore' });
      this.mounted = execFileSync('buildah', ['mount', this.name], { encoding: 'utf8' }).trim();
    }
    return this.mounted;
  }

  /**
   * Runs the image's entrypoint followed by `args`, or `command` in its place (as a pod's `args`
   * and `command` do), in the image's working directory with its environment plus `env`.
   */
  start(env: Record<string, string>, options: { args?: string[]; command?: string[] } = {}): void {
    const config = imageConfig(this.image);
    const rootfs = this.rootfs();
    const vars = [...(config.Env ?? []), ...Object.entries(env).map(([k, v]) => `${k}=${v}`)];
    const argv = [...(options.command ?? config.Entrypoint ?? []), ...(options.args ?? [])];
    const inside = `set -e
      root=$1; shift
      mount --bind "$root" "$root"
      mount --rbind /dev "$root/dev"
      mount -t proc proc "$root/proc"
      mount -o remount,bind,ro "$root"
      exec chroot --userspec=1000:1000 "$root" "$@"`;
    this.child = spawn(
      'unshare',
      [
        '--mount',
        '--pid',
        '--fork',
        '--kill-child',
        '--propagation',
        'private',
        'bash',
        '-c',
        inside,
        'container',
        rootfs,
        '/usr/bin/env',
        '-i',
        '-C',
        config.WorkingDir ?? '/',
        ...vars,
        ...argv,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.child.stdout?.on('data', (d) => (this.output += d));
    this.child.stderr?.on('data', (d) => (this.output += d));
  }

  /** Resolves with the exit code once the container's PID 1 has ended. */
  async exited(): Promise<number | null> {
    const child = this.child as ChildProcess;
    if (child.exitCode !== null) return child.exitCode;
    const [code] = (await once(child, 'exit')) as [number | null];
    return code;
  }

  /** Sends `signal` to the container's PID 1 (unshare's child), as the kubelet does on stop. */
  signal(signal: NodeJS.Signals): void {
    const pid = this.child?.pid;
    const [inner] = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(' ');
    process.kill(Number(inner), signal);
  }

  /** Stops what still runs and removes the working container. */
  async remove(): Promise<void> {
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGKILL');
      await once(this.child, 'exit');
    }
    if (this.mounted) execFileSync('buildah', ['rm', this.name], { stdio: 'ignore' });
  }
}
