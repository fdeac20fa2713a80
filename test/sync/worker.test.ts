import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { verifyLedgerBalances } from '../../src/modules/sync/sync.verify.js';
import { syncDb } from '../../src/modules/sync/sync.tables.js';
import { assertLedgerEquals, setupSync, type SyncSetup } from './helpers.js';

describe('sync worker: exactly once, repeats, late and changed entries', () => {
  let s: SyncSetup;
  before(async () => {
    s = await setupSync();
  });
  after(async () => {
    await s.close();
  });

  test('a pass stores the whole feed once, with the cursor and account sums in step', async () => {
    s.vendor.append(95);
    const result = await s.worker().runPass();
    assert.equal(result.status, 'caught_up');
    assert.equal(result.pages, 5); // 20 + 20 + 20 + 20 + 15
    assert.equal(result.inserted, 95);
    await assertLedgerEquals(s.database, s.vendor.truth().entries);
    const feed = await syncDb(s.database.db).selectFrom('sync_feeds').selectAll().where('feed', '=', 'live').executeTakeFirstOrThrow();
    assert.equal(feed.cursor, '95');
    assert.equal(feed.pages, 5);
    assert.ok((await verifyLedgerBalances(s.database.db)).ok);
  });

  test('an entry repeated across pages is stored once; late entries with old timestamps still arrive', async () => {
    s.vendor.append(50);
    s.vendor.fault({ kind: 'overlap', count: 3 });
    s.vendor.fault({ kind: 'late', count: 7, ageMs: 6 * 3_600_000 });
    s.clock.advance(60_000);
    const result = await s.worker().runPass();
    assert.equal(result.status, 'caught_up');
    assert.equal(result.duplicates, 3, 'three entries came twice');
    assert.equal(result.inserted, 57);
    await assertLedgerEquals(s.database, s.vendor.truth().entries);
    const late = await s.database.db
      .selectFrom('ledger_entries')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('created_at', '<', new Date(s.clock.now() - 5 * 3_600_000))
      .executeTakeFirstOrThrow();
    assert.equal(Number(late.n), 7);
    assert.ok((await verifyLedgerBalances(s.database.db)).ok);
  });

  test('an id re-sent with another body is flagged in sync_conflicts, never overwritten', async () => {
    s.clock.advance(60_000);
    s.vendor.fault({ kind: 'changed_body', count: 2 });
    const result = await s.worker().runPass();
    assert.equal(result.conflicts, 2);
    assert.equal(result.inserted, 0);
    const truth = s.vendor.truth();
    assert.equal(truth.changed.length, 2);
    await assertLedgerEquals(s.database, truth.entries);
    const conflicts = await syncDb(s.database.db).selectFrom('sync_conflicts').select(['vendor_id', 'body']).orderBy('vendor_id').execute();
    assert.deepEqual(conflicts.map((c) => c.vendor_id), truth.changed.map((c) => c.id).sort());
    for (const conflict of conflicts) {
      const changed = truth.changed.find((c) => c.id === conflict.vendor_id);
      assert.equal((conflict.body as { amount: number }).amount, changed?.amount);
    }
    // Seen again (a backfill over the same history): still one row per distinct body.
    await syncDb(s.database.db).updateTable('sync_feeds').set({ cursor: null, status: 'idle' }).where('feed', '=', 'backfill').execute();
    s.clock.advance(60_000);
    const backfill = await s.worker().runPass({ feed: 'backfill' });
    assert.equal(backfill.status, 'done');
    assert.equal(backfill.inserted, 0);
    const again = await syncDb(s.database.db).selectFrom('sync_conflicts').select('vendor_id').execute();
    assert.equal(again.length, 2);
  });
});
