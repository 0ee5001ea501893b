import {
  createDatabase,
  createInfluxReadiness,
  createMqttReadiness,
  createObjectStore,
  createObjectStoreReadiness,
  createPostgresReadiness,
  type Database,
  DEVICE_TOPIC_FILTERS,
  type Logger,
  loadMqttClientOptions,
  type ReadinessCheck,
  retryUntilDone,
} from '@iot-meter/common';
import type { Kysely } from 'kysely';
import type { Registry } from 'prom-client';
import { createArchiveWriter } from './archive/archive-writer.js';
import type { CollectorConfig } from './config.js';
import { markSilentDevicesOffline } from './devices/device-state.repository.js';
import { DecodePool } from './ingest/decode-pool.js';
import { Ingestor } from './ingest/ingestor.js';
import { createStoreBatch } from './ingest/store-batch.js';
import { decodeWorkers } from './ingest/worker-count.js';
import { createCollectorMetrics } from './metrics/collector-metrics.js';
import { SessionConsumer } from './mqtt/session-consumer.js';
import {
  deleteSessionFilters,
  findSessionFilters,
  saveSessionFilters,
} from './mqtt/session-filters.repository.js';
import { createInfluxWriter } from './timeseries/influx-writer.js';

export type Collector = {
  readiness: ReadinessCheck[];
  /**
   * Stops taking messages, stores and acknowledges what it holds, and disconnects keeping the
   * session (or ending it, for a drained session that should not come back).
   */
  stop(options?: { endSession?: boolean }): Promise<void>;
  /**
   * Drain mode only: resolves once the departed member's session has nothing left, that is no
   * session at all, or no message for `quietMs` and everything received stored and acknowledged.
   */
  drained(quietMs: number): Promise<void>;
};

/** Wires the consumer, the ingest pipeline and the stores, and starts consuming (or draining). */
export async function startCollector(
  config: CollectorConfig,
  logger: Logger,
  registry: Registry,
  options: { drain?: boolean } = {},
): Promise<Collector> {
  // Scrapes may come while the stores are awaited, before there is a consumer.
  let consumer: SessionConsumer | undefined;
  const metrics = createCollectorMetrics(registry, {
    unacknowledged: () => consumer?.unacknowledged ?? 0,
    unacknowledgedBytes: () => consumer?.unacknowledgedBytes ?? 0,
    windowMessages: () => consumer?.windowMessages ?? 0,
  });
  const objectStore = createObjectStore(config);
  const db: Kysely<Database> = createDatabase<Database>(config, { registry });

  const workers = decodeWorkers(config.INGEST_WORKERS);
  const decode = {
    maxPayloadBytes: config.INGEST_MAX_PAYLOAD_BYTES,
    maxFutureSkewMs: config.INGEST_MAX_FUTURE_SKEW_SECONDS * 1000,
  };
  const decodePool =
    workers > 0
      ? new DecodePool({ size: workers, decode, logger: logger.child({ module: 'decode' }) })
      : undefined;
  logger.info(
    { decodeWorkers: workers },
    decodePool ? 'decoding in worker threads' : 'decoding on the event loop',
  );
  const ingestor = new Ingestor({
    ...(decodePool ? { decodePool } : {}),
    logger: logger.child({ module: 'ingest' }),
    store: createStoreBatch({
      influx: createInfluxWriter(
        {
          url: config.INFLUX_URL,
          token: config.INFLUX_TOKEN,
          org: config.INFLUX_ORG,
          bucket: config.INFLUX_BUCKET,
        },
        { timeoutMs: config.INGEST_WRITE_TIMEOUT_MS, gzipLevel: config.INGEST_GZIP_LEVEL },
      ),
      archive: createArchiveWriter(objectStore, config.S3_BUCKET, config.MQTT_CLIENT_ID),
      db,
      maxLinesPerWrite: config.INGEST_MAX_LINES_PER_WRITE,
      concurrentWrites: config.INGEST_CONCURRENT_WRITES,
      stageTimeoutMs: config.INGEST_WRITE_TIMEOUT_MS,
      observe: (store, seconds) => metrics.storeSeconds.observe({ store }, seconds),
    }),
    decode,
    batchMaxMessages: config.INGEST_BATCH_MAX_MESSAGES,
    // 157 of the default 5,000: full batches from the sixth on.
    firstBatchMaxMessages: Math.ceil(config.INGEST_BATCH_MAX_MESSAGES / 32),
    flushIntervalMs: config.INGEST_FLUSH_INTERVAL_MS,
    maxConcurrentBatches: config.INGEST_MAX_CONCURRENT_BATCHES,
    retryMinMs: config.INGEST_RETRY_MIN_MS,
    retryMaxMs: config.INGEST_RETRY_MAX_MS,
    onReceived: (kind) => metrics.countReceived(kind),
    onStoreError: () => metrics.storeErrors.inc(),
    onStored: (batch, seconds) => {
      metrics.batchMessages.observe(batch.size);
      metrics.batchSeconds.observe(seconds);
      metrics.lastDurableWrite.set(Date.now() / 1000);
      metrics.sequenceDuplicates.inc(batch.sequences.duplicates);
      metrics.sequenceGaps.inc(batch.sequences.gaps);
      metrics.sequenceResets.inc(batch.sequences.resets);
      const stored = new Map<string, number>();
      const rejected = new Map<string, number>();
      let points = 0;
      for (let i = 0; i < batch.size; i += 1) {
        const kind = batch.kindOf(i);
        if (kind) stored.set(kind, (stored.get(kind) ?? 0) + 1);
        points += batch.pointsOf(i);
      }
      for (const { reason } of batch.rejections.values())
        rejected.set(reason, (rejected.get(reason) ?? 0) + 1);
      for (const [kind, count] of stored) metrics.stored.inc({ kind }, count);
      for (const [reason, count] of rejected) metrics.rejected.inc({ reason }, count);
      metrics.points.inc(points);
    },
  });

  // Independent steps, at once: the first point comes that much sooner after a start.
  const [, session] = await Promise.all([
    untilDone(logger, 'archive bucket', async () => {
      if (!(await objectStore.bucketExists(config.S3_BUCKET))) await objectStore.makeBucket(config.S3_BUCKET);
    }),
    trackSessionFilters(
      db,
      config,
      logger,
      DEVICE_TOPIC_FILTERS.map((filter) => `$share/${config.MQTT_SHARE_GROUP}/${filter}`),
    ),
  ]);

  consumer = new SessionConsumer({
    url: config.MQTT_URL,
    clientId: config.MQTT_CLIENT_ID,
    ...loadMqttClientOptions(config),
    filters: session.wanted,
    staleFilters: session.stale,
    drain: options.drain ?? false,
    sessionExpirySeconds: config.MQTT_SESSION_EXPIRY_SECONDS,
    keepaliveSeconds: config.MQTT_KEEPALIVE_SECONDS,
    maxUnacknowledged: config.INGEST_MAX_UNACKED,
    maxUnacknowledgedBytes: config.INGEST_MAX_UNACKED_BYTES,
    reconnectMinMs: 100,
    reconnectMaxMs: config.MQTT_RECONNECT_MAX_MS,
    onMessage: (message, settle) => ingestor.accept(message, settle),
  });
  const mqttLog = logger.child({ module: 'mqtt' });
  let firstConnect: { sessionPresent: boolean } | undefined;
  consumer.on('connected', ({ sessionPresent }) => {
    firstConnect ??= { sessionPresent };
    metrics.connected.set(1);
    mqttLog.info({ sessionPresent, clientId: config.MQTT_CLIENT_ID }, 'connected');
    // A new session holds exactly what this connection subscribes (nothing, when draining).
    if (!sessionPresent) session.replace(options.drain ? [] : session.wanted);
  });
  consumer.on('unsubscribed', ({ filters }) => {
    mqttLog.info({ filters }, 'unsubscribed');
    session.remove(filters);
  });
  consumer.on('protocolViolation', ({ violation, packetId }) => {
    metrics.protocolViolations.inc({ violation });
    mqttLog.error({ violation, packetId }, 'broker broke the protocol, reconnecting');
  });
  consumer.on('disconnected', ({ reason }) => {
    metrics.connected.set(0);
    mqttLog.warn({ reason }, 'disconnected');
  });
  consumer.on('error', (err) => mqttLog.warn({ err }, 'connection error'));

  const startedAt = Date.now();
  consumer.start();
  // Every collector sweeps; the update is idempotent, so several doing it at once is harmless.
  const sweeper = setInterval(() => {
    markSilentDevicesOffline(db, config.PRESENCE_OFFLINE_AFTER_SECONDS).then(
      (count) => metrics.devicesMarkedOffline.inc(count),
      (err: unknown) => logger.warn({ err }, 'presence sweep failed'),
    );
  }, config.PRESENCE_SWEEP_INTERVAL_MS);

  return {
    readiness: [
      createMqttReadiness({ connected: () => consumer.isConnected }),
      createInfluxReadiness(config.INFLUX_URL),
      createObjectStoreReadiness(objectStore, config.S3_BUCKET, { requireBucket: true }),
      createPostgresReadiness(db),
    ],
    async drained(quietMs) {
      for (;;) {
        await new Promise((r) => setTimeout(r, 200));
        if (!firstConnect) continue;
        if (!firstConnect.sessionPresent) return;
        const quiet = Date.now() - Math.max(consumer.lastMessageAtMs, startedAt) >= quietMs;
        if (quiet && consumer.unacknowledged === 0 && ingestor.pendingBatches === 0) return;
      }
    },
    async stop(stopOptions = {}) {
      clearInterval(sweeper);
      consumer.stopReading();
      const drained = await Promise.race([
        ingestor.drain().then(() => true),
        new Promise<false>((resolve) => setTimeout(() => resolve(false), config.SHUTDOWN_TIMEOUT_MS).unref()),
      ]);
      // Whatever is not durable stays unacknowledged; the broker delivers it again after restart.
      if (!drained)
        logger.warn(
          { pendingBatches: ingestor.pendingBatches },
          'shutdown timeout, leaving messages unacknowledged',
        );
      await consumer.disconnect(stopOptions);
      await decodePool?.close();
      await session.settled();
      if (stopOptions.endSession) {
        await deleteSessionFilters(db, config.MQTT_CLIENT_ID).catch((err: unknown) =>
          logger.warn({ err }, 'could not forget the ended session'),
        );
      }
      await db.destroy();
    },
  };
}

/**
 * What the broker session holds, remembered in PostgreSQL by client id. The held set is recorded
 * before anything new is subscribed, so a crash in between still leaves every held filter known.
 */
async function trackSessionFilters(
  db: Kysely<Database>,
  config: CollectorConfig,
  logger: Logger,
  wanted: readonly string[],
) {
  const clientId = config.MQTT_CLIENT_ID;
  const recorded = await untilDone(logger, 'session filters', () => findSessionFilters(db, clientId));
  const stale = recorded.filter((filter) => !wanted.includes(filter));
  let held = new Set([...wanted, ...stale]);
  await untilDone(logger, 'session filters', () => saveSessionFilters(db, clientId, [...held]));
  // Saves run one after another, so the last one written is the newest.
  let saving = Promise.resolve();
  const save = () => {
    const filters = [...held];
    saving = saving.then(
      () => saveSessionFilters(db, clientId, filters),
      () => undefined,
    );
    saving.catch((err: unknown) => logger.warn({ err, clientId }, 'could not record the session filters'));
  };
  return {
    wanted,
    stale,
    replace(filters: readonly string[]) {
      held = new Set(filters);
      save();
    },
    remove(filters: readonly string[]) {
      for (const filter of filters) held.delete(filter);
      save();
    },
    settled: () => saving.catch(() => undefined),
  };
}

// Start-up steps wait for their store as long as it takes, with backoff.
function untilDone<T>(logger: Logger, step: string, work: () => Promise<T>): Promise<T> {
  return retryUntilDone(work, {
    minMs: 250,
    maxMs: 5000,
    onFailure: (err, attempt) => logger.warn({ err, step, attempt }, 'store not ready'),
  });
}
