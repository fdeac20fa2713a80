import assert from 'node:assert/strict';
import { createDatabase, type Database } from '../../src/db/database.js';
import { VirtualClock, type Clock } from '../../src/modules/sync/clock.js';
import { createSyncWorker, type SyncWorkerOptions } from '../../src/modules/sync/sync.worker.js';
import { createVendorSimulator, type VendorSimulator, type VendorSimulatorOptions } from '../../src/modules/vendor/vendor.simulator.js';
import type { VendorEntry } from '../../src/modules/vendor/vendor.feed.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';

export const API_KEY = 'test-vendor-key';

export interface SyncSetup {
  clock: VirtualClock;
  vendor: VendorSimulator;
  database: Database;
  testDatabase: TestDatabase;
  /** A worker on its own pool (pass `db` to share one). */
  worker(options?: Partial<SyncWorkerOptions> & { clock?: Clock }): ReturnType<typeof createSyncWorker>;
  /** Another pool on the same database (a second instance). */
  secondDatabase(): Database;
  close(): Promise<void>;
}

export async function setupSync(
  options: { vendor?: Partial<VendorSimulatorOptions>; clock?: VirtualClock } = {},
): Promise<SyncSetup> {
  const clock = options.clock ?? new VirtualClock();
  const testDatabase = await createTestDatabase();
  const database = createDatabase({ connectionString: testDatabase.url, max: 4 });
  const vendor = createVendorSimulator({ clock, apiKeys: [API_KEY], entriesPerSecond: 0, ...options.vendor });
  await vendor.start();
  const extra: Database[] = [];
  return {
    clock,
    vendor,
    database,
    testDatabase,
    worker: (overrides = {}) =>
      createSyncWorker({
        db: database.db,
        clock,
        vendor: { url: vendor.url, apiKey: API_KEY, timeoutMs: 2000 },
        pageSize: 20,
        requestsPerMinute: 5,
        maxAttempts: 3,
        backoffBaseMs: 1000,
        random: () => 0.5,
        ...overrides,
      }),
    secondDatabase() {
      const second = createDatabase({ connectionString: testDatabase.url, max: 4 });
      extra.push(second);
      return second;
    },
    async close() {
      await vendor.close();
      for (const d of extra) {
        await d.close();
      }
      await database.close();
      await testDatabase.drop();
    },
  };
}

interface StoredEntry {
  id: string;
  accountId: string;
  createdAt: string;
  type: string;
  amount: number;
}

export async function storedEntries(database: Database): Promise<StoredEntry[]> {
  const rows = await database.db
    .selectFrom('ledger_entries')
    .select(['vendor_id as id', 'account_id as accountId', 'created_at as createdAt', 'type', 'amount'])
    .orderBy('vendor_id')
    .execute();
  return rows.map((row) => ({ ...row, createdAt: row.createdAt.toISOString() }));
}

/** Asserts the ledger holds exactly the vendor's first bodies, id by id. */
export async function assertLedgerEquals(database: Database, expected: Map<string, VendorEntry>): Promise<void> {
  const stored = await storedEntries(database);
  const want = [...expected.values()].sort((a, b) => (a.id < b.id ? -1 : 1)).map((e) => ({ ...e }));
  assert.equal(stored.length, want.length, 'stored entry count');
  assert.deepEqual(stored, want);
}
