import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from '@iot-meter/common/testing';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { Registry } from 'prom-client';
import {
  canaryConnects,
  deviceAccountsIn,
  startBrokerAccountsSync,
} from '../src/broker-accounts/broker-accounts-sync.js';
import { readServiceAccounts } from '../src/broker-accounts/password-file.js';
import { reloadBrokerBySignal } from '../src/broker-accounts/reload-broker.js';
import type { ApiHarness } from './api-harness.js';

const aclFile = fileURLToPath(
  new URL('../../../charts/iot-meter/charts/mosquitto/files/acl.conf', import.meta.url),
);

/**
 * A Mosquitto of its own with the chart's two authenticated listeners, devices' (their id as
 * username and client id) and services', sharing the chart's ACL and the password file the broker
 * account sync writes; with `tls`, also the chart's TLS listener for devices (the devices'
 * settings and a server certificate). Ports are its user's own: test files and benchmarks run in
 * parallel. The broker logs everything unless told `logTypes` (a benchmark's fleet would flood it).
 */
export class AuthBroker {
  readonly dir = mkdtempSync(join(tmpdir(), 'iot-auth-broker-'));
  readonly pidFile = join(this.dir, 'mosquitto.pid');
  readonly passwordFile = join(this.dir, 'passwd');
  /** A folder of service account passwords, as the chart mounts a Secret. */
  readonly serviceAccountsDir = mkdtempSync(join(tmpdir(), 'iot-service-accounts-'));
  readonly deviceUrl: string;
  readonly serviceUrl: string;
  /** The devices' TLS listener, when started with `tls`. */
  readonly deviceTlsUrl: string | undefined;
  private process?: ChildProcess;
  log = '';

  constructor(
    private readonly ports: { devices: number; services: number },
    private readonly options: {
      logTypes?: readonly string[];
      tls?: { port: number; certFile: string; keyFile: string };
    } = {},
  ) {
    this.deviceUrl = `mqtt://127.0.0.1:${ports.devices}`;
    this.serviceUrl = `mqtt://127.0.0.1:${ports.services}`;
    this.deviceTlsUrl = options.tls && `mqtts://127.0.0.1:${options.tls.port}`;
  }

  /** Sets a service account's password (the file the sync reads). */
  setServicePassword(service: string, password: string): void {
    writeFileSync(join(this.serviceAccountsDir, service), `${password}\n`, { mode: 0o600 });
  }

  async start(): Promise<void> {
    const { tls } = this.options;
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
        ...this.devicesListener(this.ports.devices),
        ...(tls
          ? [...this.devicesListener(tls.port), `certfile ${tls.certFile}`, `keyfile ${tls.keyFile}`]
          : []),
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

  private devicesListener(port: number): string[] {
    return [`listener ${port} 127.0.0.1`, 'use_username_as_clientid true'];
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

/**
 * The real broker account sync for `broker`, from the API's database: its password file, its
 * service accounts folder, the canary on its services' listener, SIGHUP by its pid file (or `reloadBroker`).
 */
export function startSyncFor(
  broker: AuthBroker,
  api: Pick<ApiHarness, 'apiDb' | 'apiDatabaseUrl' | 'logger'>,
  options: { reloadBroker?: () => Promise<void>; registry?: Registry } = {},
) {
  return startBrokerAccountsSync({
    // As the chart runs it: with the device-manager's own login.
    ...deviceAccountsIn(api.apiDb, api.apiDatabaseUrl, api.logger),
    passwordFile: broker.passwordFile,
    serviceAccounts: readServiceAccounts(broker.serviceAccountsDir),
    reloadBroker: options.reloadBroker ?? reloadBrokerBySignal({ pidFile: broker.pidFile }),
    confirmReload: canaryConnects(broker.serviceUrl),
    logger: api.logger,
    registry: options.registry ?? new Registry(),
    debounceMs: 50,
  });
}

/**
 * An MQTT 5 client with no reconnects, as a test's device or service: resolves with the client, or
 * with what refused it (a CONNACK reason code, or a TLS error code such as
 * UNABLE_TO_VERIFY_LEAF_SIGNATURE).
 */
export async function tryConnect(
  url: string,
  options: IClientOptions,
): Promise<MqttClient | number | string> {
  try {
    const client = await mqtt.connectAsync(url, {
      protocolVersion: 5,
      clean: true,
      reconnectPeriod: 0,
      connectTimeout: 5000,
      ...options,
    });
    client.on('error', () => {});
    return client;
  } catch (err) {
    return (err as { code?: number | string }).code ?? String(err);
  }
}

/** Ends a broker account test in the order its parts depend on: clients, the sync, the API, the broker. */
export async function stopAll(parts: {
  clients: MqttClient[];
  sync: { close(): Promise<void> } | undefined;
  api: { dispose(): Promise<void> };
  broker: AuthBroker;
}): Promise<void> {
  await Promise.all(parts.clients.map((c) => c.endAsync(true)));
  await parts.sync?.close();
  await parts.api.dispose();
  await parts.broker.stop();
}
