import { randomBytes } from 'node:crypto';
import {
  createDatabase,
  createInflux,
  createInfluxReadiness,
  createLeadership,
  createLogger,
  createMetricsRegistry,
  createObjectStore,
  createObjectStoreReadiness,
  createPostgresReadiness,
  type Database,
  loadConfig,
  loadMqttClientOptions,
  onShutdown,
  serve,
} from '@iot-meter/common';
import { ALERTMANAGER_TARGET, createAlertmanagerNotifier } from './alert-rules/alertmanager-notifier.js';
import { createRuleEvaluator } from './alert-rules/rule-evaluator.js';
import { runEvery } from './alert-rules/run-every.js';
import { createApp, SERVICE } from './app.js';
import { startCommandDispatcher } from './commands/command-dispatcher.js';
import { createCommandPublisher } from './commands/command-publisher.js';
import { deviceManagerConfig } from './config.js';
import { startReadCaches } from './read-caches.js';
import { windowMs } from './retention/retention-config.js';
import { createHistory } from './telemetry/downsampled-history.js';
import { createWebhookNotifier } from './webhooks/webhook-notifier.js';

/** Loads the config, connects, serves the API and runs the command dispatcher until SIGTERM. */
export async function startService(stopTracing: (() => Promise<void>) | undefined): Promise<void> {
  const config = loadConfig(deviceManagerConfig, process.env);
  const logger = createLogger(SERVICE, config.LOG_LEVEL);
  const registry = createMetricsRegistry(SERVICE);
  const commandsLog = logger.child({ module: 'commands' });
  const db = createDatabase(config, { registry });
  const objectStore = createObjectStore(config);
  const commands = createCommandPublisher({
    url: config.MQTT_URL,
    ...loadMqttClientOptions(config),
    clientId: `device-manager-${randomBytes(4).toString('hex')}`,
    timeoutMs: config.COMMAND_PUBLISH_TIMEOUT_MS,
    logger: commandsLog,
  });
  const stopDispatcher = startCommandDispatcher({
    db,
    publisher: commands,
    ackTimeoutSeconds: config.COMMAND_ACK_TIMEOUT_SECONDS,
    intervalMs: config.COMMAND_RETRY_INTERVAL_MS,
    logger: commandsLog,
  });
  const readCaches = startReadCaches({
    databaseUrl: config.DATABASE_URL,
    ttlMs: config.API_READ_CACHE_MS,
    logger: logger.child({ module: 'read-cache' }),
  });
  const influxQuery = createInflux(config).getQueryApi(config.INFLUX_ORG);
  // One replica evaluates alert rules at a time: the holder of this lock ("IoT", rules).
  const leadership = createLeadership<Database>(config.DATABASE_URL, [0x496f54, 1]);
  const rulesLog = logger.child({ module: 'alert-rules' });
  const alertmanager =
    config.ALERTMANAGER_URL &&
    createAlertmanagerNotifier({
      db,
      url: config.ALERTMANAGER_URL,
      intervalMs: config.ALERT_EVAL_INTERVAL,
      logger: rulesLog,
      registry,
    });
  const notificationTargets = alertmanager ? [ALERTMANAGER_TARGET] : [];
  const webhooks = createWebhookNotifier({
    db,
    logger: rulesLog,
    registry,
    budgetMs: config.ALERT_EVAL_INTERVAL / 2,
    allowedNetworks: config.WEBHOOK_ALLOWED_NETWORKS,
  });
  const evaluator = createRuleEvaluator({
    db,
    leadership,
    influx: { query: influxQuery, bucket: config.INFLUX_BUCKET },
    intervalMs: config.ALERT_EVAL_INTERVAL,
    lookbackMs: config.ALERT_LOOKBACK,
    lateWindowMs: config.ALERT_LATE_WINDOW,
    maxLatenessMs: config.ALERT_MAX_LATENESS,
    logger: rulesLog,
    registry,
    notificationTargets,
  });
  const stopEvaluator =
    config.ALERT_EVALUATION === 'on'
      ? runEvery(
          config.ALERT_EVAL_INTERVAL,
          async () => {
            // The leader notifies, after its pass: what the pass opened or resolved goes out at once.
            const { leading } = await evaluator.pass();
            if (!leading) return;
            if (alertmanager) await alertmanager.deliver();
            await webhooks.deliver();
          },
          rulesLog,
        )
      : async () => {};
  if (!config.API_ADMIN_KEY) logger.warn('API_ADMIN_KEY is not set: only keys already in the database work');

  const app = createApp({
    db,
    registry,
    influx: {
      query: influxQuery,
      bucket: config.INFLUX_BUCKET,
      ...(config.INFLUX_DOWNSAMPLE_BUCKET && {
        history: createHistory(config, {
          bucket: config.INFLUX_DOWNSAMPLE_BUCKET,
          everyMs: windowMs(config.INFLUX_DOWNSAMPLE_EVERY),
        }),
      }),
    },
    archive: { store: objectStore, bucket: config.S3_BUCKET },
    commands,
    logger,
    config,
    notificationTargets,
    caches: readCaches.caches,
    readiness: [
      createPostgresReadiness(db),
      createInfluxReadiness(config.INFLUX_URL),
      // Reachable is enough: the collectors create the bucket, and until then there is nothing to read.
      createObjectStoreReadiness(objectStore, config.S3_BUCKET),
    ],
  });
  const server = await serve(app, config.PORT);
  logger.info({ port: server.port }, 'device-manager listening');

  onShutdown(logger, async () => {
    await server.close();
    stopDispatcher();
    await stopEvaluator();
    await leadership.close();
    await readCaches.close();
    await commands.close();
    await db.destroy();
    await stopTracing?.();
  });
}
