// `node dist/bin/apply-alert-rules.js`: rules as code. Makes the rules declared in ALERT_RULES_FILE
// the ones ALERT_RULES_OWNER manages (the chart's Job on every install and upgrade, `npm start`);
// rules made through the API are left alone, and a declared name one of them has fails the run.
import { readFileSync } from 'node:fs';
import { createDatabase, createLogger, type Database, loadConfig } from '@iot-meter/common';
import type { Kysely } from 'kysely';
import { applyDeclaredRules } from '../alert-rules/alert-rules.repository.js';
import { ALERTMANAGER_TARGET } from '../alert-rules/alertmanager-notifier.js';
import { declaredRulesConfig, parseDeclaredRules } from '../alert-rules/declared-rules.js';

const config = loadConfig(declaredRulesConfig, process.env);
const logger = createLogger('alert-rules-as-code', 'info');
let declared: ReturnType<typeof parseDeclaredRules>;
try {
  declared = parseDeclaredRules(readFileSync(config.ALERT_RULES_FILE, 'utf8'));
} catch (err) {
  logger.error({ file: config.ALERT_RULES_FILE, err: (err as Error).message }, 'declared rules refused');
  process.exit(1);
}
const db = createDatabase(config) as Kysely<Database>;
try {
  const outcome = await applyDeclaredRules(
    db,
    config.ALERT_RULES_OWNER,
    declared,
    config.ALERTMANAGER_URL ? [ALERTMANAGER_TARGET] : [],
  );
  logger.info({ owner: config.ALERT_RULES_OWNER, ...outcome }, 'declared alert rules applied');
} catch (err) {
  logger.error(
    { owner: config.ALERT_RULES_OWNER, err: (err as Error).message },
    'declared rules not applied',
  );
  process.exitCode = 1;
} finally {
  await db.destroy();
}
