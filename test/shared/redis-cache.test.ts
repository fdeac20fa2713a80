import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import { createRedisCache } from '../../src/shared/redis-cache.js';
import { bearer, createTestApp, insertUser, login } from '../helpers/app.js';
import { seedBillingFixture } from '../helpers/billing.js';

/**
 * The Redis-backed cache. Degradation is tested everywhere (no Redis needed); the round
 * trip needs a real Redis and runs when REDIS_URL is set — .ci/run sets it whenever a
 * Redis answers on the machine.
 */
describe('Redis cache', () => {
  test('an unreachable Redis degrades to misses and dropped writes, never errors', async () => {
    const errors: unknown[] = [];
    const cache = createRedisCache<{ n: number }>('redis://127.0.0.1:1', { prefix: 't:', onError: (error) => errors.push(error) });
    try {
      await cache.set('k', { n: 1 }, 1000);
      assert.equal(await cache.get('k'), undefined);
      assert.ok(errors.length > 0, 'the failure is reported');
    } finally {
      await cache.close();
    }
  });

  test('round trip, prefix isolation and expiry against a real Redis', { skip: process.env.REDIS_URL ? false : 'REDIS_URL is not set' }, async () => {
    const url = process.env.REDIS_URL ?? '';
    const prefix = `bursar-test:${randomUUID()}:`;
    const cache = createRedisCache<{ total: number; when: string }>(url, { prefix });
    const other = createRedisCache<{ total: number; when: string }>(url, { prefix: `${prefix}other:` });
    try {
      const value = { total: 12_345, when: new Date(0).toISOString() };
      await cache.set('statement', value, 60_000);
      assert.deepEqual(await cache.get('statement'), value);
      assert.equal(await other.get('statement'), undefined, 'another prefix does not see it');
      await cache.set('short', value, 50);
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.equal(await cache.get('short'), undefined, 'expired');
    } finally {
      await cache.close();
      await other.close();
    }
  });

  test('statements are cached in Redis and never stale after a write', { skip: process.env.REDIS_URL ? false : 'REDIS_URL is not set' }, async () => {
    const t = await createTestApp({ env: { REDIS_URL: process.env.REDIS_URL ?? '' } });
    try {
      const fx = await seedBillingFixture(t.db);
      await insertUser(t.db, { username: 'redis.reader', role: 'super_admin' });
      const headers = bearer((await login(t.app, 'redis.reader')).accessToken);
      const read = () => t.app.inject({ method: 'GET', url: `/api/v1/students/${fx.students.anaA}/statement`, headers });
      const first = await read();
      assert.match(String(first.headers['cache-status']), /miss/);
      const second = await read();
      assert.match(String(second.headers['cache-status']), /hit/);
      assert.deepEqual(second.json(), first.json());
      await t.db.updateTable('invoices').set({ amount: 5_001 }).where('id', '=', fx.invoices.overdueA).execute();
      const third = await read();
      assert.match(String(third.headers['cache-status']), /miss/);
      assert.equal(third.json<{ summary: { totalInvoiced: number } }>().summary.totalInvoiced, first.json<{ summary: { totalInvoiced: number } }>().summary.totalInvoiced + 1);
    } finally {
      await t.close();
    }
  });
});
