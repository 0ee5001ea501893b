import { pbkdf2Sync, randomBytes } from 'node:crypto';

// Device secrets are 256 random bits, so a slow hash guards nothing (there is nothing to guess) and
// would only cost the broker: Mosquitto re-checks every connected client's password on each reload
// of its password file (docs/security.md). One PBKDF2 iteration is Mosquitto's `$7$` form at its
// cheapest; service accounts, whose passwords an operator may choose, get the broker's default.
export const DEVICE_HASH_ITERATIONS = 1;
export const SERVICE_HASH_ITERATIONS = 101;

/** A new device secret: 32 random bytes, base64url (43 characters). */
export function newDeviceSecret(): string {
  return randomBytes(32).toString('base64url');
}

/** `password` as a Mosquitto password-file hash: `$7$<iterations>$<salt>$<PBKDF2-SHA512>`. */
export function hashBrokerPassword(password: string, iterations = DEVICE_HASH_ITERATIONS): string {
  const salt = randomBytes(12);
  const hash = pbkdf2Sync(password, salt, iterations, 64, 'sha512');
  return `$7$${iterations}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

/** Whether `id` can be a Mosquitto username: its password file ends a username at the first ':'. */
export function canBeBrokerUsername(id: string): boolean {
  return !id.includes(':');
}
