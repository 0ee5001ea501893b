import { randomBytes } from 'node:crypto';
import { chmod, chown, rename, rm, stat, writeFile } from 'node:fs/promises';
import {
  type Backoff,
  createBackoff,
  type Database,
  type Logger,
  listenToChannel,
  type ReadinessCheck,
} from '@iot-meter/common';
import type { Kysely } from 'kysely';
import mqtt from 'mqtt';
import { Counter, Gauge, type Registry } from 'prom-client';
import { hashBrokerPassword } from './broker-password.js';
import { type BrokerAccount, findDeviceAccounts } from './device-credentials.repository.js';
import { renderPasswordFile } from './password-file.js';

export type BrokerAccountsSync = {
  /** Resolves once the broker has reloaded accounts read after this call; rejects if closed first. */
  applied(): Promise<void>;
  readiness: ReadinessCheck;
  close(): Promise<void>;
};

/**
 * Makes the broker's password file what PostgreSQL says: every device with credentials that is not
 * disabled, and the service accounts. A change is applied as one rewrite of the file and one
 * reload (`reloadBroker`, SIGHUP for Mosquitto), however many devices it touched; changes within
 * `debounceMs` are coalesced. It is a reconciler, not a relay: it rereads the whole set on each
 * notification on `broker_accounts`, every `resyncMs` and after a failure, and always reloads after
 * its first write, so a crash anywhere (its own between the write and the reload, or the API's)
 * converges on the next pass.
 */
export function startBrokerAccountsSync(options: {
  /** The devices the broker admits, read at each pass. */
  deviceAccounts: () => Promise<BrokerAccount[]>;
  /** Calls back on each change to them (and whenever it may have missed one). */
  watchChanges: (onChange: () => void) => { close(): Promise<void> };
  /**
   * The broker's one password file, devices' and services' accounts alike: with a file per listener
   * (`per_listener_settings`) Mosquitto 2.0 denies every message to a session whose client is
   * away, so an offline collector's queue would silently stay empty (docs/security.md §1).
   */
  passwordFile: string;
  /** The services' accounts, read at each pass (a rotated Secret is picked up). */
  serviceAccounts: () => Promise<BrokerAccount[]>;
  reloadBroker: () => Promise<void>;
  /**
   * Whether the broker now admits `canary` (an account with no rights, a new password in each
   * write): proof that it reloaded. Mosquitto drops a SIGHUP that arrives while it is still
   * applying the previous one (measured at 10,000 connected devices), so a signal is not enough.
   */
  confirmReload: (canary: { username: string; password: string }) => Promise<boolean>;
  logger: Logger;
  registry?: Registry;
  debounceMs?: number;
  resyncMs?: number;
  retry?: Backoff;
  /** Replaces the password file's content (by default beside it, then renamed over it, mode 0600). */
  writeFile?: (path: string, content: string) => Promise<void>;
}): BrokerAccountsSync {
  const { logger, debounceMs = 200, resyncMs = 30_000 } = options;
  // A burst of changes (revocations one API call at a time) waits for a quiet `debounceMs`, but no
  // longer than this after its first change.
  const maxDelayMs = 5 * debounceMs;
  const retry = createBackoff(options.retry ?? { minMs: 500, maxMs: 10_000 });
  const metrics = {
    accounts: new Gauge({
      name: 'iot_broker_accounts',
      help: 'Accounts in the broker password file as last applied, by kind',
      labelNames: ['kind'] as const,
      registers: options.registry ? [options.registry] : [],
    }),
    passes: new Counter({
      name: 'iot_broker_account_syncs_total',
      help: 'Passes of the broker account sync by result (applied: file rewritten and broker reloaded)',
      labelNames: ['result'] as const,
      registers: options.registry ? [options.registry] : [],
    }),
    resignals: new Counter({
      name: 'iot_broker_reload_signals_repeated_total',
      help: 'Reload signals sent again because the broker had not reloaded a second after the last',
      registers: options.registry ? [options.registry] : [],
    }),
  };
  // The accounts the broker has reloaded (the file without its canary).
  let applied: string | undefined;
  let timer: NodeJS.Timeout | undefined;
  let timerDue = 0;
  let debouncing = false; // the pending timer waits out a burst of changes
  let burstStarted: number | undefined;
  let running: Promise<void> | undefined;
  let again = false;
  let closed = false;
  let waiters: { resolve(): void; reject(err: Error): void }[] = [];
  let lastSuccess = Number.NEGATIVE_INFINITY; // when a pass last found the broker's files right

  const setTimer = (due: number, debounce: boolean) => {
    clearTimeout(timer);
    timerDue = due;
    debouncing = debounce;
    timer = setTimeout(
      () => {
        timer = undefined;
        void pass();
      },
      Math.max(0, due - Date.now()),
    );
  };
  /** A pass in `delayMs`, unless one is due sooner. */
  const schedule = (delayMs: number) => {
    if (closed) return;
    const due = Date.now() + delayMs;
    if (timer && timerDue <= due) return;
    setTimer(due, false);
  };
  /** A change was notified: a pass once changes stop for `debounceMs` (at most `maxDelayMs` after the first). */
  const changed = () => {
    if (closed || (timer && !debouncing)) return; // a pass already due reads this change too
    const now = Date.now();
    burstStarted ??= now;
    setTimer(Math.min(now + debounceMs, burstStarted + maxDelayMs), true);
  };

  // Signals until the broker admits the canary: once a second, for at most ten.
  async function reloadConfirmed(canary: { username: string; password: string }): Promise<void> {
    for (let signal = 0; signal < 10; signal += 1) {
      if (signal > 0) metrics.resignals.inc();
      await options.reloadBroker();
      for (let check = 0; check < 10; check += 1) {
        if (await options.confirmReload(canary)) return;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    throw new Error('the broker did not reload its password file');
  }

  async function pass(): Promise<void> {
    if (running) {
      again = true;
      return;
    }
    // Whoever waits now is answered by a pass that reads after their call.
    const answering = waiters;
    waiters = [];
    burstStarted = undefined;
    running = (async () => {
      try {
        const [services, devices] = await Promise.all([options.serviceAccounts(), options.deviceAccounts()]);
        const next = renderPasswordFile([...services, ...devices]);
        if (next === applied) {
          metrics.passes.inc({ result: 'unchanged' });
        } else {
          const write = options.writeFile ?? writeAtomically;
          const canary = { username: CANARY, password: randomBytes(32).toString('base64url') };
          await write(
            options.passwordFile,
            renderPasswordFile([
              ...services,
              ...devices,
              { username: CANARY, password_hash: hashBrokerPassword(canary.password) },
            ]),
          );
          await reloadConfirmed(canary);
          applied = next;
          metrics.passes.inc({ result: 'applied' });
          metrics.accounts.set({ kind: 'service' }, services.length);
          metrics.accounts.set({ kind: 'device' }, devices.length);
          logger.info({ services: services.length, devices: devices.length }, 'broker accounts applied');
        }
        retry.reset();
        lastSuccess = Date.now();
        for (const waiter of answering) waiter.resolve();
      } catch (err) {
        metrics.passes.inc({ result: 'failed' });
        logger.warn({ err }, 'broker account sync failed; retrying');
        waiters.push(...answering);
        schedule(retry.next());
      }
    })();
    await running;
    running = undefined;
    if (again) {
      again = false;
      schedule(0);
    }
  }

  const changes = options.watchChanges(changed);
  const resync = setInterval(() => schedule(0), resyncMs);
  schedule(0);

  return {
    applied: () =>
      new Promise<void>((resolve, reject) => {
        if (closed) return reject(new Error('the broker account sync is closed'));
        waiters.push({ resolve, reject });
        schedule(0);
      }),
    readiness: {
      name: 'broker_accounts',
      check: async () => {
        if (applied === undefined) throw new Error('accounts not applied yet');
        // Passes keep failing (PostgreSQL or the broker away): changes are not reaching the broker.
        if (Date.now() - lastSuccess > 3 * resyncMs) throw new Error('no successful pass lately');
      },
    },
    async close() {
      closed = true;
      for (const waiter of waiters.splice(0)) waiter.reject(new Error('the broker account sync is closed'));
      clearTimeout(timer);
      clearInterval(resync);
      await changes.close();
      await running;
    },
  };
}

/**
 * The device accounts in PostgreSQL and their changes: the `broker_accounts` channel, which also
 * calls back when its LISTEN connection comes and goes (a change meanwhile is read then).
 */
export function deviceAccountsIn(db: Kysely<Database>, databaseUrl: string, logger: Logger) {
  return {
    deviceAccounts: () => findDeviceAccounts(db),
    watchChanges: (onChange: () => void) =>
      listenToChannel({ databaseUrl, channel: 'broker_accounts', onNotify: onChange, logger }),
  };
}

/** The account whose admission proves a reload: on the services' listener, with no rights. */
export const CANARY = '@sync-canary';

/**
 * A `confirmReload` for the broker's services' listener at `url`: whether the canary connects
 * (CONNACK 0), then disconnects at once.
 */
export function canaryConnects(url: string) {
  return async (canary: { username: string; password: string }): Promise<boolean> => {
    try {
      const client = await mqtt.connectAsync(url, {
        ...canary,
        clientId: `sync-canary-${randomBytes(4).toString('hex')}`,
        protocolVersion: 5,
        clean: true,
        reconnectPeriod: 0,
        connectTimeout: 2000,
      });
      await client.endAsync(true);
      return true;
    } catch {
      return false; // refused (not reloaded yet), or the broker unreachable
    }
  };
}

// Mosquitto may reload at any moment (another change, an operator's SIGHUP): it must never read a
// half-written file, so the new one is written beside it and renamed over it.
async function writeAtomically(path: string, content: string): Promise<void> {
  const mode = 0o600; // the broker's user only (the sync runs as that user): it holds password hashes
  const next = `${path}.${randomBytes(4).toString('hex')}.new`;
  const previous = await stat(path).catch(() => undefined);
  try {
    await writeFile(next, content, { mode });
    await chmod(next, mode);
    // Run by root beside a broker that dropped to its own user (the local stack started by root),
    // the new file keeps the old one's owner, or the broker could not read it on reload.
    if (previous && process.getuid?.() === 0) await chown(next, previous.uid, previous.gid);
    await rename(next, path);
  } catch (err) {
    await rm(next, { force: true });
    throw err;
  }
}
