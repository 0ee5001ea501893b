import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readServiceAccounts, renderPasswordFile } from './password-file.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A folder laid out as Kubernetes mounts a Secret: each key a symlink into `..data/`. */
function mountedSecret(keys: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'secret-'));
  dirs.push(dir);
  mkdirSync(join(dir, '..2026_12_01'));
  for (const [key, value] of Object.entries(keys)) writeFileSync(join(dir, '..2026_12_01', key), value);
  symlinkSync('..2026_12_01', join(dir, '..data'));
  for (const key of Object.keys(keys)) symlinkSync(join('..data', key), join(dir, key));
  return dir;
}

describe('service accounts', () => {
  it('are read from a mounted Secret, one per key, hashed once while the password stays', async () => {
    const dir = mountedSecret({ collector: 'pw-c\n', 'device-manager': 'pw-d' });
    const read = readServiceAccounts(dir);
    const first = await read();
    expect(first.map((a) => a.username)).toEqual(['@collector', '@device-manager']);
    expect(
      first.every((a) => /^\$7\$101\$[A-Za-z0-9+/=]{16}\$[A-Za-z0-9+/=]{88}$/.test(a.password_hash)),
    ).toBe(true);
    expect(await read()).toEqual(first); // same salt: the broker's file does not change
    writeFileSync(join(dir, '..2026_12_01', 'collector'), 'rotated');
    const second = await read();
    expect(second[0]?.password_hash).not.toBe(first[0]?.password_hash);
    expect(second[1]).toEqual(first[1]);
  });

  it('refuse to come out empty, which would lock every service out', async () => {
    await expect(readServiceAccounts(mountedSecret({}))()).rejects.toThrow(/no service account passwords/);
    await expect(readServiceAccounts(mountedSecret({ collector: '  \n' }))()).rejects.toThrow(
      /no service account/,
    );
  });
});

describe('the password file', () => {
  it('has one line per account, in username order', () => {
    expect(
      renderPasswordFile([
        { username: 'b', password_hash: '$7$1$s$h2' },
        { username: '@collector', password_hash: '$7$101$s$h1' },
        { username: 'a', password_hash: '$7$1$s$h3' },
      ]),
    ).toBe('@collector:$7$101$s$h1\na:$7$1$s$h3\nb:$7$1$s$h2\n');
    expect(renderPasswordFile([])).toBe('');
  });
});
