import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { stackMqttEnv, stackMqttLogin, waitFor } from '@iot-meter/common/testing';
import mqtt from 'mqtt';

// The compiled broker exporter, as the Mosquitto pod's sidecar runs it.
const main = fileURLToPath(new URL('../dist/bin/export-broker-stats.js', import.meta.url));

export class BrokerExporterProcess {
  private child: ChildProcess | undefined;
  output = '';

  /** On the broker of `stackEnv` (a stack's `env`), under the exporter's own account. */
  constructor(
    private readonly stackEnv: Record<string, string>,
    readonly port: number,
    private readonly env: Record<string, string> = {},
  ) {}

  /** Resolves once it answers /healthz (/readyz may wait for the broker, or for the collectors). */
  async start(): Promise<void> {
    const child = spawn(process.execPath, [main], {
      env: {
        PATH: process.env.PATH,
        PORT: String(this.port),
        ...stackMqttEnv(this.stackEnv, 'broker-exporter'),
        LOG_LEVEL: 'warn',
        ...this.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    child.stdout?.on('data', (d) => (this.output += d));
    child.stderr?.on('data', (d) => (this.output += d));
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`broker exporter exited: ${this.output}`);
        return (await this.status('/healthz')) === 200;
      },
      () => `the broker exporter's /healthz: ${this.output}`,
      { timeoutMs: 15_000, intervalMs: 200 },
    );
  }

  status(path: string): Promise<number> {
    return fetch(`http://127.0.0.1:${this.port}${path}`).then(
      (r) => r.status,
      () => 0,
    );
  }

  stop(): void {
    this.child?.kill('SIGTERM');
  }
}

/**
 * A collector's persistent session in the shared group that goes away, then `published` QoS 1
 * messages, each acknowledged to the publisher: past the broker's max_queued_messages they are dropped.
 */
export async function overfillOfflineSession(
  stackEnv: Record<string, string>,
  clientId: string,
  published: number,
) {
  const mqttUrl = stackEnv.MQTT_URL ?? '';
  const session = {
    ...stackMqttLogin(stackEnv, 'collector'),
    clientId,
    clean: false,
    protocolVersion: 5 as const,
  };
  const member = await mqtt.connectAsync(mqttUrl, {
    ...session,
    properties: { sessionExpiryInterval: 3600 },
  });
  await member.subscribeAsync('$share/collectors/iot/+/telemetry', { qos: 1 });
  await member.endAsync();
  const device = await mqtt.connectAsync(mqttUrl, {
    ...stackMqttLogin(stackEnv),
    clientId: `${clientId}-device`,
  });
  for (let seq = 0; seq < published; seq += 1) {
    await device.publishAsync(`iot/${clientId}-device/telemetry`, JSON.stringify({ seq }), { qos: 1 });
  }
  await device.endAsync();
  return session;
}
