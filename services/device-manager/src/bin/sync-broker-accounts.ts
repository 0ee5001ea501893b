// Keeps the broker's password file derived from PostgreSQL (docs/security.md): runs beside the
// broker, as the broker's user, until SIGTERM (a sidecar in the chart's broker pod; `npm start`
// runs it beside the stack's broker).
import {
  createDatabase,
  createLogger,
  createMetricsRegistry,
  createOpsRoutes,
  createPostgresReadiness,
  loadConfig,
  onShutdown,
  serve,
} from '@iot-meter/common';
import { brokerAccountsConfig } from '../broker-accounts/broker-accounts-config.js';
import {
  canaryConnects,
  deviceAccountsIn,
  startBrokerAccountsSync,
} from '../broker-accounts/broker-accounts-sync.js';
import { readServiceAccounts } from '../broker-accounts/password-file.js';
import { reloadBrokerBySignal } from '../broker-accounts/reload-broker.js';

const SERVICE = 'broker-accounts';
const config = loadConfig(brokerAccountsConfig, process.env);
const logger = createLogger(SERVICE, config.LOG_LEVEL);
const registry = createMetricsRegistry(SERVICE);
const db = createDatabase(config, { registry });
const sync = startBrokerAccountsSync({
  ...deviceAccountsIn(db, config.DATABASE_URL, logger),
  passwordFile: config.BROKER_PASSWORD_FILE,
  serviceAccounts: readServiceAccounts(config.BROKER_SERVICE_ACCOUNTS_DIR),
  reloadBroker: reloadBrokerBySignal(
    config.BROKER_PID_FILE
      ? { pidFile: config.BROKER_PID_FILE }
      : { processName: config.BROKER_PROCESS_NAME },
  ),
  confirmReload: canaryConnects(config.BROKER_SERVICE_URL),
  logger,
  registry,
  resyncMs: config.BROKER_ACCOUNTS_RESYNC_MS,
});
const server = await serve(
  createOpsRoutes({ service: SERVICE, registry, readiness: [createPostgresReadiness(db), sync.readiness] }),
  config.PORT,
);
logger.info({ port: server.port }, 'broker account sync listening');
onShutdown(logger, async () => {
  await server.close();
  await sync.close();
  await db.destroy();
});
