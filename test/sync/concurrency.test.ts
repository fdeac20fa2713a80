import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { VirtualClock } from '../../src/modules/sync/clock.js';
import { createSyncWorker } from '../../src/modules/sync/sync.worker.js';
import { syncDb } from '../../src/modules/sync/sync.tables.js';
import { verifyLedgerBalances } from '../../src/modules/sync/sync.verify.js';
import { API_KEY, assertLedgerEquals, setupSync, type SyncSetup } from './helpers.js';

/**
 * Two instances (separate pools) at once: a live worker on each, plus a backfill, all on
 * one API key. The budget row is the only thing keeping them under the vendor's limit.
 */
describe('workers of two instances share one budget', () => {
  let s: SyncSetup;
  const clock = new VirtualClock();
  before(async () => {
    s = await setupSync({ clock, vendor: { entriesPerSecond: 0.5, seed: 5, history: 400, timeline: true } });
  });
  after(async () => {
    await s.close();
  });

  test('never over the limit, every slot used while behind, each entry stored once', async () => {
    const second = s.secondDatabase();
    const make = (db: typeof s.database.db) =>
      createSyncWorker({ db, clock, vendor: { url: s.vendor.url, apiKey: API_KEY, timeoutMs: 2000 }, pageSize: 20, requestsPerMinute: 5, maxAttempts: 3 });
    await syncDb(s.database.db).updateTable('sync_feeds').set({ cursor: null, status: 'idle' }).where('feed', '=', 'backfill').execute();
    const deadline = clock.now() + 3 * 3_600_000;
    const run = async (worker: ReturnType<typeof make>, feed: 'live' | 'backfill') => {
      const leave = clock.join();
      try {
        return await worker.runPass({ feed, deadline, idleMs: 5_000 });
      } finally {
        leave();
      }
    };
    const [liveA, liveB, backfill] = await Promise.all([run(make(s.database.db), 'live'), run(make(second.db), 'live'), run(make(second.db), 'backfill')]);
    // One live pass per feed at a time: the other instance found it busy.
    assert.deepEqual([liveA.status, liveB.status].sort(), ['busy', 'deadline']);
    assert.equal(backfill.status, 'done');

    const stats = s.vendor.stats();
    assert.equal(stats.overLimit, 0, 'no request refused by the vendor');
    assert.ok(stats.maxInWindow <= 5);
    for (const [minute, count] of stats.perMinute) {
      assert.ok(count <= 5, `minute ${minute}: ${count}`);
    }
    // Behind at first (two feeds × 20 pages of history): together they used every slot.
    const busyMinutes = [...stats.perMinute.values()].slice(1, 6);
    assert.ok(busyMinutes.every((count) => count >= 4), `slots used per minute while behind: ${busyMinutes.join(',')}`);
    assert.ok(liveA.requests + liveB.requests > 0 && backfill.requests > 0, 'both feeds made requests');

    const cursor = Number(liveA.status === 'busy' ? liveB.cursor : liveA.cursor);
    const truth = s.vendor.truth(cursor);
    await assertLedgerEquals(s.database, truth.entries);
    assert.ok((await verifyLedgerBalances(s.database.db)).ok);
  });
});
