import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

// A key reads `iotm_<prefix>_<secret>`: the prefix finds the row, the secret is checked against a
// SHA-256 hash. Secrets are 256 random bits, so a fast hash is enough (nothing to brute-force).
const KEY_PATTERN = /^iotm_([a-f0-9]{12})_([A-Za-z0-9_-]{43})$/;

export type GeneratedKey = { key: string; prefix: string; hash: string };

export function generateApiKey(): GeneratedKey {
  const prefix = randomBytes(6).toString('hex');
  const key = `iotm_${prefix}_${randomBytes(32).toString('base64url')}`;
  return { key, prefix, hash: hashApiKey(key) };
}

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/** The prefix of a well-formed key, or undefined. */
export function apiKeyPrefix(key: string): string | undefined {
  return KEY_PATTERN.exec(key)?.[1];
}

/** Compares two hex hashes in constant time. */
export function sameHash(a: string, b: string): boolean {
  const left = Buffer.from(a, 'hex');
  const right = Buffer.from(b, 'hex');
  return left.length === right.length && timingSafeEqual(left, right);
}
