import { type Backoff, type Logger, listenToChannel } from '@iot-meter/common';
import { createReadCache } from './http/read-cache.js';

/** How long a verified API key is remembered: a request then costs no lookup and no hashing. */
export const KEY_CACHE_MS = 30_000;

/**
 * The API's read caches. Registry answers (devices, and whether a device exists) are kept for
 * `ttlMs`, and verified API keys for `KEY_CACHE_MS`, only while this replica hears every change —
 * triggers notify the `device_registry` and `api_keys` channels — so a write or a key revoked
 * through another replica is seen within milliseconds; presence and time series may be up to
 * `ttlMs` old.
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
  const keys = createReadCache({ ttlMs: KEY_CACHE_MS, enabled: () => keyChanges.listening() });
  const keyChanges = listenToChannel({
    databaseUrl: options.databaseUrl,
    channel: 'api_keys',
    onNotify: () => keys.clear(),
    logger: options.logger,
    ...(options.retry && { retry: options.retry }),
  });
  return {
    caches: { registry, timeSeries: createReadCache({ ttlMs: options.ttlMs }), keys },
    listening: () => changes.listening() && keyChanges.listening(),
    /** How many times a notification (or a dropped connection) cleared the registry cache. */
    cleared: () => cleared,
    close: async () => {
      await Promise.all([changes.close(), keyChanges.close()]);
    },
  };
}
