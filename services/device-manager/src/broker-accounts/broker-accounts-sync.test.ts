import { createLogger } from '@iot-meter/common';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { startBrokerAccountsSync } from './broker-accounts-sync.js';
import type { BrokerAccount } from './device-credentials.repository.js';

// The sync's timing on a fake clock, with PostgreSQL and the broker replaced by the sync's own
// interfaces (the real ones: test/broker-accounts.test.ts).
let files: Map<string, string>;
let devices: BrokerAccount[];
let notify: () => void;
let reloads: string[];
let failReloads: number;
/** What the fake broker has loaded; a dropped signal (as Mosquitto drops one mid-reload) loads nothing. */
let loaded: string | undefined;
let dropSignals: number;

const account = (username: string): BrokerAccount => ({ username, password_hash: `$7$1$salt$${username}` });
/** The devices' lines of a password file (service accounts start with '@'). */
const deviceLines = (file = '') =>
  file
    .split(/(?<=\n)/)
    .filter((line) => !line.startsWith('@'))
    .join('');

function start(options: { resyncMs?: number; deviceAccounts?: () => Promise<BrokerAccount[]> } = {}) {
  const sync = startBrokerAccountsSync({
    deviceAccounts: options.deviceAccounts ?? (async () => devices),
    watchChanges: (onChange) => {
      notify = onChange;
      return { close: async () => {} };
    },
    passwordFile: 'passwd',
    writeFile: async (path, content) => void files.set(path, content),
    serviceAccounts: async () => [account('@collector')],
    reloadBroker: async () => {
      if (failReloads > 0) {
        failReloads -= 1;
        throw new Error('broker gone');
      }
      if (dropSignals > 0) {
        dropSignals -= 1;
        return;
      }
      loaded = files.get('passwd');
      reloads.push(deviceLines(loaded));
    },
    // The canary's password is new in each write: admitted only once the latest file is loaded.
    confirmReload: async (canary) =>
      canary.username === '@sync-canary' && loaded !== undefined && loaded === files.get('passwd'),
    logger: createLogger('sync-test', 'silent'),
    debounceMs: 200,
    resyncMs: options.resyncMs ?? 30_000,
    retry: { minMs: 1000, maxMs: 1000, random: () => 1 },
  });
  return { sync };
}

beforeEach(() => {
  vi.useFakeTimers();
  files = new Map();
  devices = [account('d-1')];
  reloads = [];
  failReloads = 0;
  loaded = undefined;
  dropSignals = 0;
});
afterEach(() => {
  vi.useRealTimers();
});

describe('the broker account sync', () => {
  it('applies at start, then each burst of changes as one rewrite and one reload', async () => {
    const { sync } = start();
    await vi.advanceTimersByTimeAsync(0);
    expect(reloads).toEqual(['d-1:$7$1$salt$d-1\n']);
    expect(files.get('passwd')).toMatch(
      /^@collector:\$7\$1\$salt\$@collector\n@sync-canary:\$7\$1\$\S+\nd-1:\$7\$1\$salt\$d-1\n$/,
    );

    // Three changes, each within 200 ms of the last: one pass, 200 ms after the last.
    devices = [account('d-1'), account('d-2')];
    notify();
    await vi.advanceTimersByTimeAsync(100);
    devices = [account('d-3'), account('d-1'), account('d-2')];
    notify();
    notify();
    await vi.advanceTimersByTimeAsync(199);
    expect(reloads).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(reloads).toEqual([
      'd-1:$7$1$salt$d-1\n',
      'd-1:$7$1$salt$d-1\nd-2:$7$1$salt$d-2\nd-3:$7$1$salt$d-3\n',
    ]);

    // A notification that changed nothing rewrites nothing and reloads nothing.
    notify();
    await vi.advanceTimersByTimeAsync(1000);
    expect(reloads).toHaveLength(2);
    await sync.close();
  });

  it('finds a change it was not told about on its periodic pass', async () => {
    const { sync } = start({ resyncMs: 5000 });
    await vi.advanceTimersByTimeAsync(0);
    devices = [];
    await vi.advanceTimersByTimeAsync(4999);
    expect(reloads).toHaveLength(1);
    // The pass it schedules at once runs 1 ms later on this clock (a 0 ms timer set during a tick).
    await vi.advanceTimersByTimeAsync(2);
    expect(reloads).toEqual(['d-1:$7$1$salt$d-1\n', '']);
    await sync.close();
  });

  it('retries a failed reload after its backoff, and answers waiters only once applied', async () => {
    failReloads = 2;
    const { sync } = start();
    let applied = false;
    void sync.applied().then(() => {
      applied = true;
    });
    await vi.advanceTimersByTimeAsync(0);
    expect([reloads.length, applied]).toEqual([0, false]);
    await expect(sync.readiness.check()).rejects.toThrow('accounts not applied yet');
    await vi.advanceTimersByTimeAsync(999);
    expect(reloads).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1); // second failure
    expect([reloads.length, applied]).toEqual([0, false]);
    await vi.advanceTimersByTimeAsync(1000);
    expect([reloads.length, applied]).toEqual([1, true]);
    await expect(sync.readiness.check()).resolves.toBeUndefined();
    await sync.close();
  });

  it('passes again when a change arrives while a pass is reading', async () => {
    let release: () => void = () => {};
    let reads = 0;
    const { sync: held } = start({
      deviceAccounts: async () => {
        reads += 1;
        if (reads === 2) await new Promise<void>((r) => (release = r));
        return devices;
      },
    });
    await vi.advanceTimersByTimeAsync(0);
    notify();
    await vi.advanceTimersByTimeAsync(200); // the second pass is reading, held
    devices = [account('d-9')];
    notify(); // read too late for the held pass
    await vi.advanceTimersByTimeAsync(200);
    release();
    await vi.advanceTimersByTimeAsync(2);
    expect(reloads).toEqual(['d-1:$7$1$salt$d-1\n', 'd-9:$7$1$salt$d-9\n']);
    expect(reads).toBe(3);
    await held.close();
  });

  it('turns unready when its passes keep failing, and refuses waiters once closed', async () => {
    const { sync } = start({ resyncMs: 1000 });
    await vi.advanceTimersByTimeAsync(0);
    await expect(sync.readiness.check()).resolves.toBeUndefined();
    failReloads = 1000;
    devices = [];
    await vi.advanceTimersByTimeAsync(3000);
    await expect(sync.readiness.check()).resolves.toBeUndefined(); // failing for 3 periods: still ready
    await vi.advanceTimersByTimeAsync(1001);
    await expect(sync.readiness.check()).rejects.toThrow('no successful pass lately');
    const waiting = sync.applied();
    await sync.close();
    await expect(waiting).rejects.toThrow('closed');
    await expect(sync.applied()).rejects.toThrow('closed');
  });

  it('applies a long burst at least once a second, not only when it ends', async () => {
    const { sync } = start();
    await vi.advanceTimersByTimeAsync(0);
    // A change every 150 ms for 2.4 s: never 200 ms quiet.
    for (let i = 0; i < 16; i += 1) {
      devices = [account(`burst-${i}`)];
      notify();
      await vi.advanceTimersByTimeAsync(150);
    }
    expect(reloads.slice(1)).toEqual(['burst-6:$7$1$salt$burst-6\n', 'burst-13:$7$1$salt$burst-13\n']);
    await vi.advanceTimersByTimeAsync(200);
    expect(reloads.at(-1)).toBe('burst-15:$7$1$salt$burst-15\n');
    await sync.close();
  });

  it('signals again when the broker dropped its signal, until the canary proves the reload', async () => {
    const { sync } = start();
    dropSignals = 2;
    let applied = false;
    void sync.applied().then(() => {
      applied = true;
    });
    await vi.advanceTimersByTimeAsync(999);
    expect([reloads.length, applied]).toEqual([0, false]);
    await vi.advanceTimersByTimeAsync(1000); // the second signal, dropped too
    expect([reloads.length, applied]).toEqual([0, false]);
    await vi.advanceTimersByTimeAsync(1);
    expect([reloads.length, applied]).toEqual([1, true]);
    await sync.close();
  });
});
