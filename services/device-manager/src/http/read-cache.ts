/**
 * Answers repeated reads from memory for `ttlMs` after they were loaded. Concurrent reads of one
 * key share a single load, so a burst of identical requests costs one query. A failed load is not
 * kept. `clear()` drops everything, including loads still running: a read that starts after a
 * write has cleared the cache never sees data from before it. `ttlMs: 0` turns the cache off, and
 * while `enabled()` is false every read loads (the cache cannot hear of changes then).
 */
export type ReadCache = {
  get<T>(key: string, load: () => Promise<T>): Promise<T>;
  clear(): void;
};

type Entry = { value: Promise<unknown>; until: number };

export function createReadCache(options: {
  ttlMs: number;
  maxEntries?: number;
  enabled?: () => boolean;
  now?: () => number;
}): ReadCache {
  const { ttlMs, maxEntries = 10_000, enabled = () => true, now = Date.now } = options;
  let entries = new Map<string, Entry>();

  return {
    get<T>(key: string, load: () => Promise<T>): Promise<T> {
      if (ttlMs <= 0 || !enabled()) return load();
      const cached = entries.get(key);
      if (cached && cached.until > now()) return cached.value as Promise<T>;
      if (entries.size >= maxEntries) entries = new Map();
      const owner = entries;
      const entry: Entry = { value: load(), until: Number.POSITIVE_INFINITY };
      owner.set(key, entry);
      entry.value.then(
        () => {
          entry.until = now() + ttlMs;
        },
        () => {
          if (owner.get(key) === entry) owner.delete(key);
        },
      );
      return entry.value as Promise<T>;
    },
    clear() {
      entries = new Map();
    },
  };
}
