import { LRUCache } from 'lru-cache';

/**
 * A small async cache. Async so that a shared implementation (Redis, ...) can replace
 * the in-process one without touching callers. Values must never be mutated after
 * `set` or after `get`: the in-process implementation hands out the stored object.
 *
 * Correctness never depends on expiry: callers put everything a value depends on in
 * its key (e.g. a version bumped by every write), so a stale entry is simply never
 * asked for again and ages out of the LRU.
 */
export interface Cache<V> {
  get(key: string): Promise<V | undefined>;
  set(key: string, value: V, ttlMs: number): Promise<void>;
}

export interface CacheStats {
  hits: number;
  misses: number;
  sets: number;
  /** Entries held now. */
  entries: number;
  /** Sum of `sizeOf` over the entries held (0 without `maxSize`). */
  size: number;
}

export interface MemoryCache<V> extends Cache<V> {
  /** Counters since creation, for metrics and tests. */
  stats(): CacheStats;
  clear(): void;
}

export interface MemoryCacheOptions<V> {
  /** Hard bound on the number of entries (least recently used go first). */
  maxEntries: number;
  /** Optional bound on the total of `sizeOf` over all entries, e.g. approximate bytes. */
  maxSize?: number;
  /** Required with `maxSize`: a positive size for one value. */
  sizeOf?: (value: V, key: string) => number;
  /** Milliseconds for the entries' ages; `performance.now` unless a test moves time itself. */
  now?: () => number;
}

/** The in-process implementation, on lru-cache: bounded in entries (and size when given). */
export function createMemoryCache<V extends object>(options: MemoryCacheOptions<V>): MemoryCache<V> {
  if (!Number.isInteger(options.maxEntries) || options.maxEntries < 1) {
    throw new RangeError('maxEntries must be a positive integer');
  }
  if (options.maxSize !== undefined && options.sizeOf === undefined) {
    throw new RangeError('maxSize needs sizeOf');
  }
  const sizeOf = options.sizeOf;
  const lru = new LRUCache<string, V>({
    max: options.maxEntries,
    ...(options.maxSize !== undefined && sizeOf !== undefined
      ? { maxSize: options.maxSize, sizeCalculation: (value: V, key: string) => Math.max(1, Math.ceil(sizeOf(value, key))) }
      : {}),
    // Expired entries are dropped when touched; the LRU bound takes care of the rest.
    ttlAutopurge: false,
    allowStale: false,
    // A given clock is read on every check (lru-cache otherwise reuses a reading for 1 ms).
    ...(options.now !== undefined ? { perf: { now: options.now }, ttlResolution: 0 } : {}),
  });
  let hits = 0;
  let misses = 0;
  let sets = 0;

  return {
    get(key) {
      const value = lru.get(key);
      if (value === undefined) {
        misses++;
      } else {
        hits++;
      }
      return Promise.resolve(value);
    },
    set(key, value, ttlMs) {
      if (!(ttlMs > 0)) {
        return Promise.reject(new RangeError('ttlMs must be > 0'));
      }
      sets++;
      // A value larger than maxSize is not stored (lru-cache drops it): a miss next time.
      lru.set(key, value, { ttl: ttlMs });
      return Promise.resolve();
    },
    stats: () => ({ hits, misses, sets, entries: lru.size, size: lru.calculatedSize }),
    clear: () => lru.clear(),
  };
}
