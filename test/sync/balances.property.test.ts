import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { createSyncWorker } from '../../src/modules/sync/sync.worker.js';
import { syncDb } from '../../src/modules/sync/sync.tables.js';
import { verifyLedgerBalances } from '../../src/modules/sync/sync.verify.js';
import type { Fetcher } from '../../src/modules/sync/vendor.client.js';
import { VirtualClock } from '../../src/modules/sync/clock.js';
import { createDatabase, type Database } from '../../src/db/database.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';

type Type = 'earned' | 'spent' | 'payout' | 'paid_out';
interface Entry {
  id: string;
  accountId: string;
  createdAt: string;
  type: Type;
  amount: number;
}

/**
 * Property: whatever the feed sends — any mix of types and amounts, ids repeated inside
 * a page or on later pages, the same id with another body — the incrementally kept
 * account sums equal (a) a full recomputation from the stored entries and (b) a model
 * that keeps the first body of each id. The feed is served from memory (injected fetch).
 */
describe('balances equal a full recomputation (property)', () => {
  let testDatabase: TestDatabase;
  let database: Database;
  before(async () => {
    testDatabase = await createTestDatabase();
    database = createDatabase({ connectionString: testDatabase.url, max: 2 });
  });
  after(async () => {
    await database.close();
    await testDatabase.drop();
  });

  test('for any feed', async () => {
    const log: Entry[] = [];
    const model = new Map<string, Entry>();
    const clock = new VirtualClock();
    const fetcher: Fetcher = (url) => {
      const params = new URL(url).searchParams;
      const from = Number(params.get('after') ?? 0);
      const limit = Number(params.get('limit'));
      const entries = log.slice(from, from + limit);
      const next = from + entries.length;
      return Promise.resolve(new Response(JSON.stringify({ entries, nextCursor: String(next), hasMore: next < log.length }), { status: 200 }));
    };
    const worker = createSyncWorker({
      db: database.db,
      clock,
      vendor: { url: 'http://vendor.invalid', apiKey: 'property', timeoutMs: 1000, fetch: fetcher },
      pageSize: 6,
      requestsPerMinute: 1_000_000,
      maxAttempts: 2,
    });
    let run = 0;
    const entry = fc.record({
      // A small id space per run, so repeats (same or other body) are frequent.
      id: fc.integer({ min: 0, max: 15 }),
      accountId: fc.constantFrom('a', 'b', 'c', 'd'),
      minute: fc.integer({ min: 0, max: 100_000 }),
      type: fc.constantFrom<Type>('earned', 'spent', 'payout', 'paid_out'),
      amount: fc.integer({ min: 0, max: 1_000_000_000 }),
      reuseEarlierRun: fc.boolean(),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(entry, { minLength: 1, maxLength: 40 }), async (batch) => {
        run += 1;
        for (const e of batch) {
          const prefix = e.reuseEarlierRun && run > 1 ? 1 : run;
          const item: Entry = { id: `r${prefix}-${e.id}`, accountId: e.accountId, createdAt: new Date(Date.UTC(2026, 0, 1) + e.minute * 60_000).toISOString(), type: e.type, amount: e.amount };
          log.push(item);
          if (!model.has(item.id)) {
            model.set(item.id, item);
          }
        }
        const result = await worker.runPass();
        assert.equal(result.status, 'caught_up');
        const report = await verifyLedgerBalances(database.db);
        assert.ok(report.ok, JSON.stringify(report.mismatches));
        const expected = new Map<string, { earned: number; spent: number; payout: number; paid_out: number; entries: number }>();
        for (const e of model.values()) {
          const sums = expected.get(e.accountId) ?? { earned: 0, spent: 0, payout: 0, paid_out: 0, entries: 0 };
          sums[e.type] += e.amount;
          sums.entries += 1;
          expected.set(e.accountId, sums);
        }
        const rows = await syncDb(database.db).selectFrom('ledger_accounts').select(['account_id', 'earned', 'spent', 'payout', 'paid_out', 'entries', 'balance']).orderBy('account_id').execute();
        assert.deepEqual(
          rows,
          [...expected.entries()]
            .sort(([a], [b]) => (a < b ? -1 : 1))
            .map(([account_id, s]) => ({ account_id, ...s, balance: s.earned - s.spent - s.paid_out })),
        );
      }),
      { numRuns: 40, seed: 20260101 },
    );
  });
});
