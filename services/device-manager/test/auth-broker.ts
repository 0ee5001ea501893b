import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from '@iot-meter/common/testing';

const aclFile = fileURLToPath(
  new URL('../../../charts/iot-meter/charts/mosquitto/files/acl.conf', import.meta.url),
);

/**
 * A Mosquitto of its own with the chart's two authenticated listeners, devices' (their id as
 * username and client id) and services', sharing the chart's ACL and the password file the broker
 * account sync writes. Ports are its user's own: test files and benchmarks run in parallel. The
 * broker logs everything unless told `logTypes` (a benchmark's fleet would flood it).
 */
export class AuthBroker {
  readonly dir = mkdtempSync(join(tmpdir(), 'iot-auth-broker-'));
  readonly pidFile = join(this.dir, 'mosquitto.pid');
  readonly passwordFile = join(this.dir, 'passwd');
  /** A folder of service account passwords, as the chart mounts a Secret. */
  readonly serviceAccountsDir = mkdtempSync(join(tmpdir(), 'iot-service-accounts-'));
  readonly deviceUrl: string;
  readonly serviceUrl: string;
  private process?: ChildProcess;
  log = '';

  constructor(
    private readonly ports: { devices: number; services: number },
    private readonly options: { logTypes?: readonly string[] } = {},
  ) {
    this.deviceUrl = `mqtt://127.0.0.1:${ports.devices}`;
    this.serviceUrl = `mqtt://127.0.0.1:${ports.services}`;
  }

  /** Sets a service account's password (the file the sync reads). */
  setServicePassword(service: string, password: string): void {
    writeFileSync(join(this.serviceAccountsDir, service), `${password}\n`, { mode: 0o600 });
  }

  async start(): Promise<void> {
    writeFileSync(this.passwordFile, '', { flag: 'a', mode: 0o600 });
    const conf = join(this.dir, 'mosquitto.conf');
    writeFileSync(
      conf,
      [
        // Started by root in CI: stay root, so the broker reads the file the sync writes (0600).
        'user root',
        `pid_file ${this.pidFile}`,
        'persistence false',
        'log_dest stdout',
        ...(this.options.logTypes ?? ['all']).map((type) => `log_type ${type}`),
        'allow_anonymous false',
        `password_file ${this.passwordFile}`,
        `acl_file ${aclFile}`,
        `listener ${this.ports.devices} 127.0.0.1`,
        'use_username_as_clientid true',
        `listener ${this.ports.services} 127.0.0.1`,
        '',
      ].join('\n'),
    );
    const child = spawn('mosquitto', ['-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.process = child;
    child.stdout?.on('data', (chunk) => (this.log += chunk));
    child.stderr?.on('data', (chunk) => (this.log += chunk));
    // Ready once it has written its pid file (the sync signals it by that) and listens, whatever it logs.
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`mosquitto exited (${child.exitCode}):\n${this.log}`);
        return existsSync(this.pidFile) && (await accepts(this.ports.devices));
      },
      () => `mosquitto to start:\n${this.log}`,
      { timeoutMs: 10_000 },
    );
  }

  /** The broker's process id (for a signal, or its CPU time in /proc). */
  get pid(): number {
    const pid = this.process?.pid;
    if (pid === undefined) throw new Error('the broker is not started');
    return pid;
  }

  async stop(): Promise<void> {
    const child = this.process;
    if (child && child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    }
    rmSync(this.dir, { recursive: true, force: true });
    rmSync(this.serviceAccountsDir, { recursive: true, force: true });
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
