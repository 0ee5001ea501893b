import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { hashBrokerPassword, SERVICE_HASH_ITERATIONS } from './broker-password.js';
import type { BrokerAccount } from './device-credentials.repository.js';

/** Service accounts are named `@<service>`: no device id can start with '@' (architecture §2). */
export const SERVICE_ACCOUNT_PREFIX = '@';

/** Mosquitto's password file: one `username:hash` line per account, in username order. */
export function renderPasswordFile(accounts: readonly BrokerAccount[]): string {
  return [...accounts]
    .sort((a, b) => (a.username < b.username ? -1 : a.username > b.username ? 1 : 0))
    .map((a) => `${a.username}:${a.password_hash}\n`)
    .join('');
}

/**
 * The service accounts in `dir`: a file per service (a mounted Secret), named for the service and
 * holding its password; account `@<file name>`, read at each pass so a rotated Secret is picked up.
 * A password is hashed once, with a salt kept for as long as the password stays the same, so an
 * unchanged Secret leaves the broker's file unchanged.
 */
export function readServiceAccounts(dir: string): () => Promise<BrokerAccount[]> {
  const hashes = new Map<string, { password: string; hash: string }>();
  return async () => {
    // A mounted Secret's keys are symlinks into `..data/`: follow them (stat), skip the dot entries.
    const names = (await readdir(dir)).filter((name) => /^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name)).sort();
    const accounts: BrokerAccount[] = [];
    for (const name of names) {
      const path = join(dir, name);
      if (!(await stat(path)).isFile()) continue;
      const password = (await readFile(path, 'utf8')).trim();
      if (!password) continue;
      let known = hashes.get(name);
      if (known?.password !== password) {
        known = { password, hash: hashBrokerPassword(password, SERVICE_HASH_ITERATIONS) };
        hashes.set(name, known);
      }
      accounts.push({ username: `${SERVICE_ACCOUNT_PREFIX}${name}`, password_hash: known.hash });
    }
    // An empty Secret (or a wrong mount) would lock every service out: keep the broker's file.
    if (accounts.length === 0) throw new Error(`no service account passwords in ${dir}`);
    return accounts;
  };
}
