import { stackMqttEnv } from '@iot-meter/common/testing';

// Not in stack-env.ts: the tests' global setup loads that before the workspaces are built.

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
