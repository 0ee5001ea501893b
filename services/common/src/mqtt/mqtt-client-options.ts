import { readFileSync } from 'node:fs';
import type { MqttEnv } from '../config/env-schemas.js';

/** What every MQTT connection of ours takes from the `MQTT_*` settings (MQTT.js options, or a TLS socket's). */
export type MqttClientOptions = {
  username?: string | undefined;
  password?: string | undefined;
  /** The CA bundle (PEM) to trust for `mqtts://` instead of Node's default roots. */
  ca?: Buffer | undefined;
};

/**
 * The login and the TLS trust of a service's (or the simulator's) broker connection: the one place
 * `MQTT_CA_FILE` is read. Called at start-up, so a missing or unreadable file stops the service
 * before it connects anywhere.
 */
export function loadMqttClientOptions(
  env: Partial<Pick<MqttEnv, 'MQTT_USERNAME' | 'MQTT_PASSWORD' | 'MQTT_CA_FILE'>>,
): MqttClientOptions {
  return {
    username: env.MQTT_USERNAME,
    password: env.MQTT_PASSWORD,
    ca: env.MQTT_CA_FILE === undefined ? undefined : readFileSync(env.MQTT_CA_FILE),
  };
}
