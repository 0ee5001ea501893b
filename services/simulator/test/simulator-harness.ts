import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { stackMqttLogin } from '@iot-meter/common/testing';
import mqtt, { type MqttClient } from 'mqtt';

const main = fileURLToPath(new URL('../dist/main.js', import.meta.url));

/** The compiled simulator as a process; `summary` resolves with its --json summary when it exits. */
export function runSimulator(args: string[], env: Record<string, string | undefined>) {
  const child: ChildProcess = spawn(process.execPath, [main, '--json', ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk) => {
    stdout += chunk;
  });
  child.stderr?.on('data', (chunk) => {
    stderr += chunk;
  });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    exit,
    stderr: () => stderr,
    /** The summary, or null when the process printed none (killed, refused its flags). */
    summary: exit.then(() => {
      try {
        return JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as Record<string, number>;
      } catch {
        return null;
      }
    }),
  };
}

export type Received = { topic: string; payload: Record<string, unknown>; retain: boolean };

/** A subscriber with a persistent session that records everything under `iot/<prefix>…`. */
export async function record(stackEnv: Record<string, string>, prefix: string, clientId: string) {
  const messages: Received[] = [];
  const client: MqttClient = await mqtt.connectAsync(stackEnv.MQTT_URL ?? '', {
    ...stackMqttLogin(stackEnv),
    clientId,
    clean: false,
    protocolVersion: 5,
    properties: { sessionExpiryInterval: 600 },
    reconnectPeriod: 200,
  });
  client.on('message', (topic, payload, packet) => {
    if (!topic.startsWith(`iot/${prefix}`)) return;
    messages.push({ topic, payload: JSON.parse(payload.toString()), retain: packet.retain });
  });
  await client.subscribeAsync('iot/+/#', { qos: 1 });
  return {
    messages,
    /** Ends the subscription and drops its session. */
    close: () => client.endAsync(false, { properties: { sessionExpiryInterval: 0 } }),
  };
}
