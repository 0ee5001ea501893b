/** The local stack's broker accounts (scripts/stack/stack.sh): the services' own, and its test client. */
export type StackMqttAccount = 'collector' | 'device-manager' | 'broker-exporter' | 'test-client';

type StackEnv = Record<string, string | undefined>;

function password(env: StackEnv, account: StackMqttAccount): string {
  const key = `MQTT_PASSWORD_${account.toUpperCase().replaceAll('-', '_')}`;
  const value = env[key];
  if (!value) throw new Error(`the stack's environment has no ${key}: is the stack up?`);
  return value;
}

/**
 * MQTT.js login options for an account of the stack's services' listener. The test client may
 * publish as any device and read everything; a service's account, only what the chart lets it.
 */
export function stackMqttLogin(
  env: StackEnv,
  account: StackMqttAccount = 'test-client',
): { username: string; password: string } {
  return { username: `@${account}`, password: password(env, account) };
}

/** A service's MQTT environment on the stack's services' listener, under its own account. */
export function stackMqttEnv(
  env: StackEnv,
  account: Exclude<StackMqttAccount, 'test-client'>,
): { MQTT_URL: string; MQTT_USERNAME: string; MQTT_PASSWORD: string } {
  return asEnv(env, stackMqttLogin(env, account));
}

/**
 * The environment that runs a simulator's fleet on the stack's broker without registering it:
 * every device under the test client, which may publish as any device.
 */
export function stackFleetEnv(env: StackEnv): {
  MQTT_URL: string;
  MQTT_USERNAME: string;
  MQTT_PASSWORD: string;
} {
  return asEnv(env, stackMqttLogin(env));
}

function asEnv(env: StackEnv, login: { username: string; password: string }) {
  return { MQTT_URL: env.MQTT_URL ?? '', MQTT_USERNAME: login.username, MQTT_PASSWORD: login.password };
}
