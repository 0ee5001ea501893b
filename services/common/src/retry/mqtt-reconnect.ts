import { type Backoff, createBackoff } from './retry-delay.js';

/** What `reconnectWithBackoff` needs of an MQTT.js client (kept structural: mqtt is the services' dependency). */
export type ReconnectingClient = {
  options: { reconnectPeriod?: number; reconnectOnConnackError?: boolean };
  prependListener(event: 'close', listener: () => void): unknown;
  on(event: 'connect', listener: () => void): unknown;
};

/** The backoff of the services' MQTT.js clients: about as quick as the fixed 1 s they used, but spread. */
export const MQTT_RECONNECT_BACKOFF: Backoff = { minMs: 500, maxMs: 5000 };

/**
 * Makes an MQTT.js client (created with `reconnectPeriod` > 0) wait a jittered, growing delay
 * before each reconnect instead of its fixed period, and start over once connected. A refused
 * CONNACK is retried too (MQTT.js gives up on one by default): a service may start before the
 * broker account sync has applied its account, and a device outlives a revocation undone.
 */
export function reconnectWithBackoff(client: ReconnectingClient, backoff = MQTT_RECONNECT_BACKOFF): void {
  const delays = createBackoff(backoff);
  client.options.reconnectOnConnackError = true;
  // MQTT.js 5 reads `options.reconnectPeriod` in its own 'close' listener, registered when the
  // client is built, to arm the timer of the next attempt; ours must run first to set it. A period
  // of 0 would turn reconnecting off, hence at least 1 ms.
  client.prependListener('close', () => {
    client.options.reconnectPeriod = Math.max(1, Math.round(delays.next()));
  });
  client.on('connect', () => delays.reset());
}
