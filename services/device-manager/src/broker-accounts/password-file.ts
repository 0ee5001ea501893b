import { readdir, readFile } from 'node:fs/promises';
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
 * holding its password; account `@<file name>`. A password is hashed once, with a salt kept for as
 * long as the password stays the same, so an unchanged Secret leaves the broker's file unchanged.
 */
export function readServiceAccounts(dir: string | undefined): () => Promise<BrokerAccount[]> {
  const hashes = new Map<string, { password: string; hash: string }>();
  return async () => {
    if (!dir) return [];
    const names = (await readdir(dir, { withFileTypes: true }))
      .filter((entry) => entry.isFile() && /^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(entry.name))
      .map((entry) => entry.name);
    const accounts: BrokerAccount[] = [];
    for (const name of names.sort()) {
      const password = (await readFile(join(dir, name), 'utf8')).trim();
      if (!password) continue;
      let known = hashes.get(name);
      if (known?.password !== password) {
        known = { password, hash: hashBrokerPassword(password, SERVICE_HASH_ITERATIONS) };
        hashes.set(name, known);
      }
      accounts.push({ username: `${SERVICE_ACCOUNT_PREFIX}${name}`, password_hash: known.hash });
    }
    return accounts;
  };
}
