import { describe, expect, it } from 'vitest';
import { createReadCache } from './read-cache.js';

function counter() {
  let loads = 0;
  return {
    load: async () => {
      loads += 1;
      return loads;
    },
    get loads() {
      return loads;
    },
  };
}

describe('read cache', () => {
  it('answers from memory until the entry is ttl old, then loads again', async () => {
    let clock = 1000;
    const cache = createReadCache({ ttlMs: 100, now: () => clock });
    const source = counter();
    expect(await cache.get('k', source.load)).toBe(1);
    clock += 99;
    expect(await cache.get('k', source.load)).toBe(1);
    expect(await cache.get('other', source.load)).toBe(2);
    clock += 1;
    expect(await cache.get('k', source.load)).toBe(3);
    expect(source.loads).toBe(3);
  });

  it('shares one load between concurrent reads of a key', async () => {
    const cache = createReadCache({ ttlMs: 100 });
    let release = () => {};
    let loads = 0;
    const load = () =>
      new Promise<string>((resolve) => {
        loads += 1;
        release = () => resolve('value');
      });
    const reads = [cache.get('k', load), cache.get('k', load), cache.get('k', load)];
    release();
    expect(await Promise.all(reads)).toEqual(['value', 'value', 'value']);
    expect(loads).toBe(1);
  });

  it('does not keep a failed load', async () => {
    const cache = createReadCache({ ttlMs: 100 });
    await expect(cache.get('k', () => Promise.reject(new Error('down')))).rejects.toThrow('down');
    expect(await cache.get('k', async () => 'up')).toBe('up');
  });

  it('after clear(), loads again, also past a load that was still running', async () => {
    const cache = createReadCache({ ttlMs: 100 });
    let release = (_: string) => {};
    const running = cache.get('k', () => new Promise<string>((resolve) => (release = resolve)));
    cache.clear();
    const fresh = cache.get('k', async () => 'after the write');
    release('before the write');
    expect(await running).toBe('before the write');
    expect(await fresh).toBe('after the write');
    expect(await cache.get('k', async () => 'third')).toBe('after the write');
  });

  it('with ttl 0 always loads', async () => {
    const cache = createReadCache({ ttlMs: 0 });
    const source = counter();
    await cache.get('k', source.load);
    await cache.get('k', source.load);
    expect(source.loads).toBe(2);
  });

  it('loads every time while not enabled', async () => {
    let enabled = false;
    const cache = createReadCache({ ttlMs: 100, enabled: () => enabled });
    const source = counter();
    await cache.get('k', source.load);
    enabled = true;
    expect(await cache.get('k', source.load)).toBe(2);
    expect(await cache.get('k', source.load)).toBe(2);
  });

  it('starts over when it holds maxEntries keys', async () => {
    const cache = createReadCache({ ttlMs: 100, maxEntries: 2 });
    const source = counter();
    await cache.get('a', source.load);
    await cache.get('b', source.load);
    await cache.get('c', source.load);
    expect(await cache.get('a', source.load)).toBe(4);
    expect(await cache.get('c', source.load)).toBe(3);
  });
});
