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

const account = (username: string): BrokerAccount => ({ username, password_hash: `$7$1$salt$${username}` });

function start(options: { resyncMs?: number } = {}) {
  const sync = startBrokerAccountsSync({
    deviceAccounts: async () => devices,
    watchChanges: (onChange) => {
      notify = onChange;
      return { close: async () => {} };
    },
    passwordFiles: { devices: 'devices.passwd', services: 'services.passwd' },
    writeFile: async (path, content) => void files.set(path, content),
    serviceAccounts: async () => [account('@collector')],
    reloadBroker: async () => {
      if (failReloads > 0) {
        failReloads -= 1;
        throw new Error('broker gone');
      }
      reloads.push(files.get('devices.passwd') ?? '');
    },
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
});
afterEach(() => {
  vi.useRealTimers();
});

describe('the broker account sync', () => {
  it('applies at start, then each burst of changes as one rewrite and one reload', async () => {
    const { sync } = start();
    await vi.advanceTimersByTimeAsync(0);
    expect(reloads).toEqual(['d-1:$7$1$salt$d-1\n']);
    expect(files.get('services.passwd')).toBe('@collector:$7$1$salt$@collector\n');

    // Three changes within the debounce: one pass, after 200 ms.
    devices = [account('d-1'), account('d-2')];
    notify();
    await vi.advanceTimersByTimeAsync(100);
    devices = [account('d-3'), account('d-1'), account('d-2')];
    notify();
    notify();
    expect(reloads).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(100);
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
});
