import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { VirtualClock } from '../../src/modules/sync/clock.js';
import { verifyLedgerBalances } from '../../src/modules/sync/sync.verify.js';
import { storedEntries, setupSync, type SyncSetup } from './helpers.js';

/**
 * A simulated day at the vendor's full production rate, scaled: pages of 20 instead of
 * 1000 with the same 5 requests per minute, so the ceiling is 100 entries a minute and
 * the vendor produces exactly that (5 × 20 / 60 s). Virtual clock: 1440 minutes in a
 * few seconds. The full-size run (7.2 M rows) is bench/sync.ts.
 */
const PAGE = 20;
const MINUTES = 1440;
const DAY_MS = MINUTES * 60_000;

describe('a simulated day at the vendor ceiling', () => {
  let s: SyncSetup;
  const clock = new VirtualClock();
  before(async () => {
    s = await setupSync({ clock, vendor: { entriesPerSecond: (5 * PAGE) / 60, seed: 7, accounts: 40 } });
  });
  after(async () => {
    await s.close();
  });

  test('ingests ≥ 99 % of the ceiling with no request over the limit and no duplicate', async () => {
    const start = clock.now();
    const worker = s.worker({ pageSize: PAGE });
    const result = await worker.runPass({ deadline: start + DAY_MS, idleMs: 12_000 });
    assert.equal(result.status, 'deadline');

    const stats = s.vendor.stats();
    assert.equal(stats.overLimit, 0, 'the vendor refused no request');
    assert.ok(stats.maxInWindow <= 5, `at most 5 requests in any 60 s window (saw ${stats.maxInWindow})`);
    for (const [minute, count] of stats.perMinute) {
      assert.ok(count <= 5, `minute ${minute}: ${count} requests`);
    }
    const ceiling = (MINUTES * 5 * PAGE);
    const stored = await storedEntries(s.database);
    const share = stored.length / ceiling;
    assert.ok(share >= 0.99, `ingested ${stored.length} of ${ceiling} (${(share * 100).toFixed(2)} %)`);
    // Exactly the vendor's first `cursor` entries, each once.
    const truth = s.vendor.truth(Number(result.cursor));
    assert.equal(stored.length, truth.entries.size);
    assert.equal(new Set(stored.map((e) => e.id)).size, stored.length);
    assert.deepEqual(stored, [...truth.entries.values()].sort((a, b) => (a.id < b.id ? -1 : 1)));
    assert.ok((await verifyLedgerBalances(s.database.db)).ok);
    console.log(`# day: ${stats.accepted} requests, ${stored.length}/${ceiling} entries (${(share * 100).toFixed(2)} %), max ${stats.maxInWindow}/window`);
  });
});
