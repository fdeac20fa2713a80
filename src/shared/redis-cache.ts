import { Redis } from 'ioredis';
import type { Cache } from './cache.js';

/**
 * The shared implementation of Cache, on Redis (REDIS_URL), so that instances reuse
 * each other's work. Values are JSON. A cache must never take the API down: when Redis
 * is unreachable or slow, reads are misses and writes are dropped, and the caller
 * computes from the database as it would without a cache.
 */
export interface RedisCache<V> extends Cache<V> {
  close(): Promise<void>;
}

export function createRedisCache<V>(url: string, options: { prefix: string; onError?: (error: unknown) => void }): RedisCache<V> {
  const redis = new Redis(url, {
    // Commands issued while (re)connecting wait in the queue, but never longer than the
    // command timeout: a down Redis costs a request at most 250 ms, then it is a miss.
    enableOfflineQueue: true,
    commandTimeout: 250,
    maxRetriesPerRequest: 1,
    connectTimeout: 2_000,
  });
  const report = options.onError ?? (() => undefined);
  redis.on('error', report);
  const key = (k: string) => `${options.prefix}${k}`;
  return {
    async get(k) {
      try {
        const text = await redis.get(key(k));
        return text === null ? undefined : (JSON.parse(text) as V);
      } catch (error) {
        report(error);
        return undefined;
      }
    },
    async set(k, value, ttlMs) {
      try {
        await redis.set(key(k), JSON.stringify(value), 'PX', Math.max(1, Math.round(ttlMs)));
      } catch (error) {
        report(error);
      }
    },
    async close() {
      redis.disconnect();
      await Promise.resolve();
    },
  };
}
