import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { sql } from 'kysely';
import { seededRandom } from '../../src/modules/vendor/vendor.feed.js';
import { createVendorSimulator, type VendorSimulator } from '../../src/modules/vendor/vendor.simulator.js';
import { systemClock } from '../../src/modules/sync/clock.js';
import { createSyncWorker, type SyncPoint } from '../../src/modules/sync/sync.worker.js';
import { syncDb } from '../../src/modules/sync/sync.tables.js';
import { verifyLedgerBalances } from '../../src/modules/sync/sync.verify.js';
import { waitFor } from '../helpers/wait.js';
import { API_KEY, assertLedgerEquals, setupSync, type SyncSetup } from './helpers.js';

class Crash extends Error {}

/**
 * Crash safety: the worker dies at named points (after reserving a slot, after the
 * vendor answered, after storing rows but before commit, after commit but before moving
 * on) and, in a child process, under SIGKILL at random moments. After each restart the
 * ledger must equal the vendor's data exactly: nothing lost, nothing doubled.
 */
describe('crash at any point loses nothing and doubles nothing', () => {
  let s: SyncSetup;
  before(async () => {
    s = await setupSync({ vendor: { seed: 21, accounts: 12 } });
  });
  after(async () => {
    await s.close();
  });

  test('fault-injected crashes at every named point, in random order, then restart', async () => {
    const random = seededRandom(99);
    const points: SyncPoint[] = ['reserved', 'fetched', 'stored', 'committed'];
    let crashes = 0;
    for (let round = 0; round < 24; round++) {
      s.vendor.append(5 + Math.floor(random() * 40));
      if (round % 5 === 0) {
        s.vendor.fault({ kind: 'overlap', count: 2 });
      }
      s.clock.advance(60_000);
      const point = points[round % points.length] as SyncPoint;
      let seen = 0;
      const at = Math.floor(random() * 3);
      const worker = s.worker({
        hook: (where) => {
          if (where === point && seen++ === at) {
            throw new Crash(`crash at ${where}`);
          }
        },
      });
      try {
        await worker.runPass();
      } catch (error) {
        assert.ok(error instanceof Crash, String(error));
        crashes += 1;
      }
      // The ledger never holds a partial page: sums equal a recomputation after every crash.
      assert.ok((await verifyLedgerBalances(s.database.db)).ok, `after a crash at ${point}`);
    }
    assert.ok(crashes >= 12, `crashed ${crashes} times`);
    s.clock.advance(60_000);
    const final = await s.worker().runPass();
    assert.equal(final.status, 'caught_up');
    await assertLedgerEquals(s.database, s.vendor.truth().entries);
  });

  test('a child process SIGKILLed at random moments, restarted each time, ends with the exact ledger', async () => {
    // Real clock here: the vendor allows far more than 5/min so the child does work fast.
    const vendor: VendorSimulator = createVendorSimulator({ apiKeys: [API_KEY], entriesPerSecond: 0, requestsPerMinute: 1_000_000, seed: 4, accounts: 9 });
    await vendor.start();
    // A fresh database: this vendor's feed starts over.
    const fresh = await setupSync();
    const random = seededRandom(7);
    const child = fileURLToPath(new URL('./fixtures/sync-child.ts', import.meta.url));
    try {
      let kills = 0;
      for (let round = 0; round < 4; round++) {
        vendor.append(400 + Math.floor(random() * 400));
        const proc = spawn(process.execPath, ['--import', 'tsx', child], {
          env: { ...process.env, DATABASE_URL: fresh.testDatabase.url, VENDOR_URL: vendor.url, VENDOR_API_KEY: API_KEY, PAGE_SIZE: '7' },
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        const exited = new Promise<NodeJS.Signals | null>((resolve) => proc.once('exit', (_code, signal) => resolve(signal)));
        await new Promise<void>((resolve, reject) => {
          proc.stdout.once('data', () => resolve());
          proc.once('exit', () => reject(new Error('the child exited before it was ready')));
        });
        // Let it store some pages, then kill it wherever it is (mid-request, mid-transaction, ...).
        const stored = await syncDb(fresh.database.db).selectFrom('sync_feeds').select('pages').where('feed', '=', 'live').executeTakeFirstOrThrow();
        for (let i = 0; i < 500; i++) {
          const now = await syncDb(fresh.database.db).selectFrom('sync_feeds').select('pages').where('feed', '=', 'live').executeTakeFirstOrThrow();
          if (now.pages > stored.pages + 3) {
            break;
          }
          await delay(10);
        }
        await delay(Math.floor(random() * 60));
        proc.kill('SIGKILL');
        assert.equal(await exited, 'SIGKILL');
        kills += 1;
        assert.ok((await verifyLedgerBalances(fresh.database.db)).ok, `sums consistent after kill ${kills}`);
      }
      assert.equal(kills, 4);
      // The killed child's session holds the feed's advisory lock until PostgreSQL sees
      // its socket close (after the statement it was running, if any); a worker started
      // before that is told 'busy', as it should be. Restart once the old session is gone.
      await waitFor('the killed child to release the feed', async () => {
        const { rows } = await sql<{ n: number }>`
          select count(*)::int as n from pg_locks
          where locktype = 'advisory' and database = (select oid from pg_database where datname = current_database())`.execute(fresh.database.db);
        return rows[0]?.n === 0;
      });
      // Restart in-process, on the same database, and finish the feed.
      const final = await createSyncWorker({
        db: fresh.database.db,
        clock: systemClock,
        vendor: { url: vendor.url, apiKey: API_KEY, timeoutMs: 2000 },
        pageSize: 500,
        requestsPerMinute: 1_000_000,
        maxAttempts: 3,
      }).runPass();
      assert.equal(final.status, 'caught_up');
      await assertLedgerEquals(fresh.database, vendor.truth().entries);
      assert.ok((await verifyLedgerBalances(fresh.database.db)).ok);
    } finally {
      await vendor.close();
      await fresh.close();
    }
  });
});
