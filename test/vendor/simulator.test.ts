import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { VirtualClock } from '../../src/modules/sync/clock.js';
import { createVendorSimulator, type VendorSimulator } from '../../src/modules/vendor/vendor.simulator.js';
import { createFileFeedStore } from '../../src/modules/vendor/vendor.store.js';

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

/**
 * Issue 15: the simulator generated its feed in memory from process start, so after a
 * restart the persisted cursor was unknown to the new feed ("after is not a cursor of
 * this feed") and the same ids came back with other bodies (conflicts on backfill).
 * Now the feed is derived from a small stored definition.
 */
describe('vendor simulator: a feed that survives restarts', () => {
  const start = Date.UTC(2026, 4, 1);
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'bursar-vendor-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const page = async (sim: VendorSimulator, query: string) => {
    const response = await fetch(`${sim.url}/v1/entries?${query}`, { headers: { 'x-api-key': 'k' } });
    return { status: response.status, body: (await response.json()) as Page & { error?: string } };
  };

  test('entry k is a pure function of the seed: two feeds from one definition are identical, id by id', () => {
    const clock = new VirtualClock(start);
    const a = createVendorSimulator({ clock, apiKeys: ['k'], entriesPerSecond: 50, seed: 12, accounts: 9, history: 300 });
    const b = createVendorSimulator({ clock, apiKeys: ['k'], entriesPerSecond: 50, seed: 12, accounts: 9, history: 300 });
    clock.advance(600_000);
    assert.equal(a.feedLength(), 300 + 30_000);
    assert.deepEqual([...a.truth().entries.values()], [...b.truth().entries.values()]);
    const other = createVendorSimulator({ clock, apiKeys: ['k'], entriesPerSecond: 50, seed: 13, accounts: 9, history: 300 });
    assert.notDeepEqual(other.entryAt(5), a.entryAt(5), 'another seed, another feed');
    // Spread over more than one generator block, sums still make sense at every prefix.
    const sums = new Map<string, { earned: number; spent: number; payout: number; paidOut: number }>();
    for (let seq = 0; seq < a.feedLength(); seq++) {
      const entry = a.entryAt(seq);
      const s = sums.get(entry.accountId) ?? { earned: 0, spent: 0, payout: 0, paidOut: 0 };
      s[entry.type === 'paid_out' ? 'paidOut' : entry.type] += entry.amount;
      assert.ok(s.paidOut <= s.payout && s.earned - s.spent - s.payout >= 0, `${entry.accountId} at ${seq}`);
      sums.set(entry.accountId, s);
    }
  });

  test('a restarted simulator (same store) keeps every cursor valid and every id its body; the rate continues from the clock', async () => {
    const clock = new VirtualClock(start);
    const store = createFileFeedStore(path.join(dir, 'feed.json'));
    const first = createVendorSimulator({ clock, apiKeys: ['k'], entriesPerSecond: 2, requestsPerMinute: 1000, history: 100, store });
    await first.start();
    clock.advance(50_000); // + 100 entries
    const before = await page(first, 'limit=150');
    assert.equal(before.status, 200);
    const feedId = first.definition().feedId;
    assert.match(feedId, /^[a-z0-9]{6}$/);
    assert.equal(before.body.nextCursor, `${feedId}.150`, "a stored feed's cursor names the feed");
    assert.equal(before.body.entries[0]?.id, `ent_${feedId}_0000000000`);
    first.fault({ kind: 'changed_body', count: 1 });
    first.fault({ kind: 'late', count: 2, ageMs: 3_600_000 });
    const seen = first.truth();
    const length = first.feedLength();
    await first.close();

    clock.advance(30_000); // down for 30 s: 60 entries "arrive" meanwhile
    const second = createVendorSimulator({ clock, apiKeys: ['k'], entriesPerSecond: 2, requestsPerMinute: 1000, history: 100, store });
    await second.start();
    assert.equal(second.definition().feedId, feedId);
    assert.equal(second.feedLength(), length + 60);
    const after = await page(second, `after=${before.body.nextCursor}&limit=1000`);
    assert.equal(after.status, 200, JSON.stringify(after.body));
    assert.equal(after.body.entries.length, length + 60 - 150);
    for (let seq = 0; seq < length; seq++) {
      assert.deepEqual(second.entryAt(seq), first.entryAt(seq), `entry ${seq}`);
    }
    assert.deepEqual([...second.truth(length).entries.values()], [...seen.entries.values()]);
    assert.equal(second.truth(length).changed.length, 1, 'the injected re-send is kept too');
    await second.close();

    // Another rate after a restart applies from then on; what was there stays.
    clock.advance(10_000);
    const third = createVendorSimulator({ clock, apiKeys: ['k'], entriesPerSecond: 10, history: 100, store });
    await third.start();
    const head = length + 60 + 20;
    assert.equal(third.feedLength(), head);
    clock.advance(1_000);
    assert.equal(third.feedLength(), head + 10);
    assert.deepEqual(third.entryAt(head - 1), second.entryAt(head - 1));
    await third.close();
  });

  test('a cursor of another feed is refused with 400; since= starts at the first entry that arrived at or after a time', async () => {
    const clock = new VirtualClock(start);
    const sim = createVendorSimulator({ clock, apiKeys: ['k'], entriesPerSecond: 1, requestsPerMinute: 1000, history: 10, store: createFileFeedStore(path.join(dir, 'other.json')) });
    await sim.start();
    clock.advance(20_000);
    for (const cursor of ['5', 'zzzzzz.5', `${sim.definition().feedId}.99`]) {
      const refused = await page(sim, `after=${cursor}`);
      assert.deepEqual([refused.status, refused.body.error], [400, 'after is not a cursor of this feed'], cursor);
    }
    // The history arrived at start; then one entry a second.
    const since = await page(sim, `since=${new Date(start + 5_000).toISOString()}&limit=3`);
    assert.equal(since.status, 200);
    assert.deepEqual(since.body.entries.map((e) => e.createdAt), [start + 5_000, start + 6_000, start + 7_000].map((t) => new Date(t).toISOString()));
    assert.equal(since.body.nextCursor, sim.cursorAt(sim.positionAt(start + 5_000) + 3));
    const all = await page(sim, `since=${new Date(start - 3_600_000).toISOString()}`);
    assert.equal(all.body.entries.length, 30, 'a time before the feed: everything');
    const none = await page(sim, `since=${new Date(start + 60_000).toISOString()}`);
    assert.deepEqual([none.body.entries.length, none.body.hasMore, none.body.nextCursor], [0, false, sim.cursorAt(30)]);
    assert.equal((await page(sim, 'since=yesterday')).status, 400);
    assert.equal((await page(sim, `since=${new Date(start).toISOString()}&after=0`)).status, 400);
    // A late entry arrives now with an old createdAt: since=now still finds it (and only it: the next regular entry is due at 21 s).
    clock.advance(500);
    sim.fault({ kind: 'late', count: 1, ageMs: 7_200_000 });
    const late = await page(sim, `since=${new Date(clock.now()).toISOString()}`);
    assert.equal(late.body.entries.length, 1);
    await sim.close();
  });

  test('the reset fault forgets every cursor handed out (400), keeps the entries, and survives a restart', async () => {
    const clock = new VirtualClock(start);
    const store = createFileFeedStore(path.join(dir, 'reset.json'));
    const sim = createVendorSimulator({ clock, apiKeys: ['k'], entriesPerSecond: 0, requestsPerMinute: 1000, history: 40, store });
    await sim.start();
    const first = await page(sim, 'limit=10');
    sim.fault({ kind: 'reset' });
    const refused = await page(sim, `after=${first.body.nextCursor}`);
    assert.deepEqual([refused.status, refused.body.error], [400, 'after is not a cursor of this feed']);
    assert.equal(sim.stats().unknownCursors, 1);
    const again = await page(sim, 'limit=10');
    assert.deepEqual(again.body.entries, first.body.entries, 'the data stays');
    assert.equal(again.body.nextCursor, `${sim.definition().feedId}-r1.10`);
    await sim.close();
    const restarted = createVendorSimulator({ clock, apiKeys: ['k'], entriesPerSecond: 0, requestsPerMinute: 1000, store });
    await restarted.start();
    assert.equal((await page(restarted, `after=${again.body.nextCursor}`)).status, 200);
    assert.equal((await page(restarted, `after=${first.body.nextCursor}`)).status, 400);
    await restarted.close();
  });

  test('two simulators creating the same stored feed at once end up on one definition', async () => {
    const clock = new VirtualClock(start);
    const file = path.join(dir, 'race.json');
    const [a, b] = [0, 1].map(() => createVendorSimulator({ clock, apiKeys: ['k'], entriesPerSecond: 1, history: 5, store: createFileFeedStore(file) }));
    await Promise.all([a?.start(), b?.start()]);
    assert.equal(a?.definition().feedId, b?.definition().feedId);
    await Promise.all([a?.close(), b?.close()]);
    await writeFile(file, '{"version": 1}');
    const broken = createVendorSimulator({ clock, apiKeys: ['k'], entriesPerSecond: 1, store: createFileFeedStore(file) });
    await assert.rejects(broken.start(), /not a vendor feed definition: delete it/);
  });
});
