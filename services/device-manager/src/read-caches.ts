import { type Backoff, type Logger, listenToChannel } from '@iot-meter/common';
import { createReadCache } from './http/read-cache.js';

/**
 * The API's read caches, both keeping answers for `ttlMs`. Registry answers (devices, and whether a
 * device exists) are kept only while this replica hears every change to `devices` — a trigger
 * notifies the `device_registry` channel — so a write through another replica is seen within
 * milliseconds; presence and time series may be up to `ttlMs` old.
 */
export function startReadCaches(options: {
  databaseUrl: string;
  ttlMs: number;
  logger: Logger;
  /** Reconnect delays of the LISTEN connection (the channel's default when absent). */
  retry?: Backoff;
}) {
  const registry = createReadCache({ ttlMs: options.ttlMs, enabled: () => changes.listening() });
  let cleared = 0;
  const changes = listenToChannel({
    databaseUrl: options.databaseUrl,
    channel: 'device_registry',
    onNotify: () => {
      cleared += 1;
      registry.clear();
    },
    logger: options.logger,
    ...(options.retry && { retry: options.retry }),
  });
  return {
    caches: { registry, timeSeries: createReadCache({ ttlMs: options.ttlMs }) },
    listening: () => changes.listening(),
    /** How many times a notification (or a dropped connection) cleared the registry cache. */
    cleared: () => cleared,
    close: () => changes.close(),
  };
}
