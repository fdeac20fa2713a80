import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { VirtualClock } from '../../src/modules/sync/clock.js';
import { createVendorSimulator, type VendorSimulator } from '../../src/modules/vendor/vendor.simulator.js';

interface Page {
  entries: { id: string; accountId: string; createdAt: string; type: string; amount: number }[];
  nextCursor: string;
  hasMore: boolean;
  remaining: number;
}

/** The vendor simulator keeps the vendor's contract: limits, arrival order, faults. */
describe('vendor simulator', () => {
  const clock = new VirtualClock(Date.UTC(2026, 2, 1));
  let vendor: VendorSimulator;
  const get = (path: string, key = 'k1') => fetch(`${vendor.url}${path}`, { headers: { 'x-api-key': key } });

  before(async () => {
    vendor = createVendorSimulator({ clock, apiKeys: ['k1', 'k2'], entriesPerSecond: 10, accounts: 8, seed: 2 });
    await vendor.start();
  });
  after(async () => {
    await vendor.close();
  });

  test('produces entries at the configured rate on its clock, at most 1000 per page, in arrival order', async () => {
    clock.advance(150_000); // 1500 entries
    const first = (await (await get('/v1/entries?limit=1000')).json()) as Page;
    assert.equal(first.entries.length, 1000);
    assert.deepEqual([first.nextCursor, first.hasMore, first.remaining], ['1000', true, 500]);
    const second = (await (await get(`/v1/entries?after=${first.nextCursor}`)).json()) as Page;
    assert.equal(second.entries.length, 500);
    assert.equal(second.hasMore, false);
    const ids = [...first.entries, ...second.entries].map((e) => e.id);
    assert.equal(new Set(ids).size, 1500);
    assert.equal((await get('/v1/entries?limit=1001')).status, 400);
    assert.equal((await get('/v1/entries?after=99999')).status, 400);
    assert.equal((await get('/v1/entries?after=abc')).status, 400);
  });

  test('5 requests per minute per API key on the injected clock, then 429 with Retry-After', async () => {
    clock.advance(60_000);
    const started = clock.now();
    for (let i = 0; i < 5; i++) {
      assert.equal((await get('/v1/entries?limit=1')).status, 200);
      clock.advance(1_000);
    }
    const refused = await get('/v1/entries?limit=1');
    assert.equal(refused.status, 429);
    // The first of the five leaves the window 60 s after it was made.
    assert.equal(refused.headers.get('retry-after'), String(Math.ceil((started + 60_000 - clock.now()) / 1000)));
    assert.equal((await get('/v1/entries?limit=1', 'k2')).status, 200, 'another key has its own budget');
    assert.equal((await get('/v1/entries?limit=1', 'nope')).status, 401);
    clock.advance(55_000);
    assert.equal((await get('/v1/entries?limit=1')).status, 200, 'a slot is free again once the oldest request left the window');
    const stats = vendor.stats();
    assert.equal(stats.overLimit, 1);
    assert.equal(stats.maxInWindow, 5);
  });

  test('late entries keep their old createdAt but arrive after every cursor handed out so far', async () => {
    clock.advance(120_000);
    const head = vendor.feedLength();
    vendor.fault({ kind: 'late', count: 3, ageMs: 7_200_000 });
    const page = (await (await get(`/v1/entries?after=${head}`)).json()) as Page;
    assert.equal(page.entries.length, 3);
    for (const entry of page.entries) {
      assert.ok(Date.parse(entry.createdAt) <= clock.now() - 7_200_000);
    }
  });

  test('overlap repeats an entry on the next page; changed_body re-sends an id with another amount', async () => {
    clock.advance(120_000);
    const head = vendor.feedLength() - 10;
    vendor.fault({ kind: 'overlap', count: 1 });
    const first = (await (await get(`/v1/entries?after=${head}&limit=5`)).json()) as Page;
    const second = (await (await get(`/v1/entries?after=${first.nextCursor}&limit=5`)).json()) as Page;
    assert.deepEqual(second.entries[0], first.entries[4]);
    vendor.fault({ kind: 'changed_body', count: 1 });
    const { changed, entries } = vendor.truth();
    assert.equal(changed.length, 1);
    const original = entries.get(changed[0]?.id ?? '');
    assert.ok(original);
    assert.notEqual(original.amount, changed[0]?.amount);
  });

  test('faults on demand over HTTP: 5xx, slow answers', async () => {
    clock.advance(120_000);
    const set = (body: object) =>
      fetch(`${vendor.url}/control/faults`, { method: 'POST', headers: { 'x-api-key': 'k2', 'content-type': 'application/json' }, body: JSON.stringify(body) });
    assert.equal((await set({ kind: 'error', count: 1 })).status, 204);
    assert.equal((await get('/v1/entries?limit=1', 'k2')).status, 503);
    assert.equal((await set({ kind: 'slow', count: 1, ms: 50 })).status, 204);
    assert.equal((await get('/v1/entries?limit=1', 'k2')).status, 200);
    assert.equal((await set({ kind: 'nope' })).status, 400);
    const stats = (await (await get('/control/stats', 'k2')).json()) as { errors: number; limit: number };
    assert.deepEqual([stats.errors, stats.limit], [1, 5]);
  });

  test('balances make sense: per account, spending and payouts never exceed what was earned', () => {
    const sums = new Map<string, { earned: number; spent: number; payout: number; paidOut: number }>();
    const seen = new Set<string>();
    for (let seq = 0; seq < vendor.feedLength(); seq++) {
      const entry = vendor.entryAt(seq);
      if (seen.has(entry.id)) {
        continue; // a re-sent id
      }
      seen.add(entry.id);
      const s = sums.get(entry.accountId) ?? { earned: 0, spent: 0, payout: 0, paidOut: 0 };
      if (entry.type === 'paid_out') {
        s.paidOut += entry.amount;
      } else {
        s[entry.type] += entry.amount;
      }
      assert.ok(entry.amount > 0);
      assert.ok(s.paidOut <= s.payout, `${entry.accountId}: paid out ≤ requested`);
      assert.ok(s.earned - s.spent - s.paidOut >= 0, `${entry.accountId}: balance ≥ 0`);
      sums.set(entry.accountId, s);
    }
    assert.equal(sums.size, 8);
  });
});
