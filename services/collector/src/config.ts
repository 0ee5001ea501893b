import { databaseEnv, influxEnv, mqttEnv, s3Env, serviceEnv } from '@iot-meter/common';
import { z } from 'zod';

const positive = z.coerce.number().int().positive();

export const collectorConfig = serviceEnv(8081)
  .extend(mqttEnv.shape)
  .extend(influxEnv.shape)
  .extend(s3Env.shape)
  .extend(databaseEnv.shape)
  .extend({
    MQTT_URL: z.url({ protocol: /^(mqtt|mqtts|tcp|ssl)$/ }),
    MQTT_SHARE_GROUP: z
      .string()
      .regex(/^[^/#+]+$/, 'must not contain / # or +')
      .default('collectors'),
    // Stable per replica (the StatefulSet pod name): Mosquitto keeps a member's queued share under it.
    MQTT_CLIENT_ID: z.string().min(1).max(128).default('collector-0'),
    // Long enough to outlast a restart or a node failure: the broker keeps our share meanwhile.
    MQTT_SESSION_EXPIRY_SECONDS: positive.default(7 * 24 * 3600),
    MQTT_KEEPALIVE_SECONDS: positive.max(65_535).default(30),
    // Collectors should be back (and subscribed) before devices after a broker restart.
    MQTT_RECONNECT_MAX_MS: positive.default(1000),
    INGEST_BATCH_MAX_MESSAGES: positive.default(5000),
    INGEST_FLUSH_INTERVAL_MS: positive.default(200),
    INGEST_MAX_CONCURRENT_BATCHES: positive.default(2),
    // Worker threads that decode batches off the event loop; `auto`: one per usable core but one.
    // Off by default: on two cores shared with the broker and the stores a worker cost more than it
    // gave (services/collector/README.md, performance).
    INGEST_WORKERS: z.union([z.literal('auto'), z.coerce.number().int().min(0).max(64)]).default(0),
    INGEST_MAX_LINES_PER_WRITE: positive.default(5000),
    INGEST_CONCURRENT_WRITES: positive.max(16).default(2),
    INGEST_MAX_UNACKED: positive.max(65_535).default(20_000),
    INGEST_MAX_UNACKED_BYTES: positive.default(16 * 1024 * 1024),
    INGEST_MAX_PAYLOAD_BYTES: positive.default(256 * 1024),
    INGEST_MAX_FUTURE_SKEW_SECONDS: positive.default(300),
    INGEST_WRITE_TIMEOUT_MS: positive.default(10_000),
    // zlib level of the InfluxDB write bodies: 1 is the cheapest in CPU, 9 the smallest on the wire.
    INGEST_GZIP_LEVEL: z.coerce.number().int().min(0).max(9).default(1),
    INGEST_RETRY_MIN_MS: positive.default(100),
    INGEST_RETRY_MAX_MS: positive.default(10_000),
    SHUTDOWN_TIMEOUT_MS: positive.default(25_000),
    // A device not heard from for this long is marked offline (its Last Will may never come).
    PRESENCE_OFFLINE_AFTER_SECONDS: positive.default(300),
    PRESENCE_SWEEP_INTERVAL_MS: positive.default(30_000),
    // Drain mode: the session counts as empty after this long without a message.
    DRAIN_QUIET_MS: positive.default(3000),
  });

export type CollectorConfig = z.output<typeof collectorConfig>;

/** The broker exporter (src/bin/export-broker-stats.ts), the Mosquitto pod's metrics sidecar. */
export const brokerExporterConfig = serviceEnv(9234)
  .extend(mqttEnv.shape)
  .extend({
    // Ready only once the broker, since it last started, holds this many shared subscriptions (the
    // chart: one collector's four device filters). Mosquitto 2.0 restores sessions without their
    // shared subscriptions, and a device let in before a collector subscribes again loses messages.
    BROKER_READY_SHARED_SUBSCRIPTIONS: z.coerce.number().int().min(0).default(0),
  });

export type BrokerExporterConfig = z.output<typeof brokerExporterConfig>;
