import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { stackMqttEnv } from '@iot-meter/common/testing';

const stack = fileURLToPath(new URL('./stack.sh', import.meta.url));

/** The stack's URLs and credentials, as `npm run -s stack:env` prints them. */
export function readStackEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  return parseExports(execFileSync('bash', [stack, 'env'], { encoding: 'utf8', env }));
}

/** Parses `export NAME=value` lines. */
export function parseExports(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const match = /^export ([A-Z0-9_]+)=(.*)$/.exec(line);
    if (match?.[1] !== undefined && match[2] !== undefined) env[match[1]] = match[2];
  }
  return env;
}

/** The stores' variables `stack.sh env` also prints per service, with that service's prefix. */
const PER_SERVICE = ['DATABASE_URL', 'INFLUX_TOKEN', 'S3_ACCESS_KEY', 'S3_SECRET_KEY'] as const;

/**
 * The stack's environment as one service sees it: the stores' credentials replaced by that
 * service's own least-privilege ones (`COLLECTOR_DATABASE_URL` → `DATABASE_URL`, …), and its own
 * broker account on the services' listener, so it runs with exactly the rights the chart gives it.
 */
export function stackEnvFor(
  stackEnv: Record<string, string>,
  service: 'COLLECTOR' | 'DEVICE_MANAGER',
): Record<string, string> {
  const env = { ...stackEnv };
  for (const name of PER_SERVICE) {
    const own = stackEnv[`${service}_${name}`];
    if (own !== undefined) env[name] = own;
  }
  return { ...env, ...stackMqttEnv(stackEnv, service === 'COLLECTOR' ? 'collector' : 'device-manager') };
}
