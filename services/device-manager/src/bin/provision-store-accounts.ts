// `node dist/bin/provision-store-accounts.js`: the services' own accounts in PostgreSQL and
// InfluxDB (docs/security.md, "Least privilege in the stores"). The chart's store-accounts Job runs
// it on every install and upgrade, `stack.sh up` on every start; each run converges, so it is safe
// to repeat and to kill.
import { createDatabase, createLogger, influxEnv, loadConfig } from '@iot-meter/common';
import { ensureServiceTokens } from '../store-accounts/influx-tokens.js';
import { ensureServiceLogins, loginOf } from '../store-accounts/postgres-logins.js';
import { storeAccountsConfig } from '../store-accounts/store-accounts-config.js';
import {
  createDirectoryTokenStore,
  createKubernetesSecretTokenStore,
} from '../store-accounts/token-store.js';

const config = loadConfig(storeAccountsConfig, process.env);
const logger = createLogger('store-accounts', config.LOG_LEVEL);

if (config.PROVISION_DATABASE_URL) {
  const db = createDatabase({ DATABASE_URL: config.PROVISION_DATABASE_URL });
  try {
    await ensureServiceLogins(db, [
      loginOf(config.COLLECTOR_DATABASE_URL ?? '', 'iot_meter_collector'),
      loginOf(config.DEVICE_MANAGER_DATABASE_URL ?? '', 'iot_meter_device_manager'),
    ]);
    logger.info('postgresql logins in place');
  } finally {
    await db.destroy();
  }
}

const tokenStore = config.INFLUX_TOKENS_SECRET
  ? createKubernetesSecretTokenStore(config.INFLUX_TOKENS_SECRET)
  : config.INFLUX_TOKENS_DIR && createDirectoryTokenStore(config.INFLUX_TOKENS_DIR);
if (tokenStore) {
  // Checked above; parsed again for the org's and bucket's defaults.
  const influx = loadConfig(influxEnv, process.env);
  const before = await tokenStore.read();
  const tokens = await ensureServiceTokens(influx, before);
  if (tokens.collector !== before.collector || tokens['device-manager'] !== before['device-manager']) {
    await tokenStore.write(tokens);
  }
  logger.info('influxdb tokens in place');
}
