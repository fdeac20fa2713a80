import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { sql } from 'kysely';
import { seededRandom } from '../../src/modules/vendor/vendor.feed.js';
import { createVendorSimulator, type VendorSimulator } from '../../src/modules/vendor/vendor.simulator.js';
import { createDatabaseFeedStore } from '../../src/modules/vendor/vendor.store.js';
import { systemClock } from '../../src/modules/sync/clock.js';
import { createSyncWorker, type SyncPoint } from '../../src/modules/sync/sync.worker.js';
import { syncDb, type SyncDb } from '../../src/modules/sync/sync.tables.js';
import { verifyLedgerBalances } from '../../src/modules/sync/sync.verify.js';
import { waitFor } from '../helpers/wait.js';
import { API_KEY, assertLedgerEquals, setupSync, type SyncSetup } from './helpers.js';

class Crash extends Error {}

const CHILD = fileURLToPath(new URL('./fixtures/sync-child.ts', import.meta.url));

/** Starts the child fixture; resolves once it printed "ready", with a promise of the signal it dies of. */
async function startChild(env: Record<string, string>) {
  const proc = spawn(process.execPath, ['--import', 'tsx', CHILD], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<NodeJS.Signals | null>((resolve) => proc.once('exit', (_code, signal) => resolve(signal)));
  await new Promise<void>((resolve, reject) => {
    proc.stdout.once('data', () => resolve());
    proc.once('exit', () => reject(new Error('the child exited before it was ready')));
  });
  return { proc, exited };
}

/** Waits until the live feed stored `more` pages beyond what it had. */
async function pagesGrow(db: SyncDb, more: number): Promise<void> {
  const pages = async () => (await db.selectFrom('sync_feeds').select('pages').where('feed', '=', 'live').executeTakeFirstOrThrow()).pages;
  const start = await pages();
  await waitFor(`${more} more pages`, async () => (await pages()) > start + more, 20_000);
}

/** The killed child's session holds the feed's advisory lock until PostgreSQL sees its socket close. */
async function locksReleased(db: SyncDb): Promise<void> {
  await waitFor('the killed child to release the feed', async () => {
    const { rows } = await sql<{ n: number }>`
      select count(*)::int as n from pg_locks
      where locktype = 'advisory' and database = (select oid from pg_database where datname = current_database())`.execute(db);
    return rows[0]?.n === 0;
  });
}

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
    try {
      let kills = 0;
      for (let round = 0; round < 4; round++) {
        vendor.append(400 + Math.floor(random() * 400));
        const { proc, exited } = await startChild({ DATABASE_URL: fresh.testDatabase.url, VENDOR_URL: vendor.url, VENDOR_API_KEY: API_KEY, PAGE_SIZE: '7' });
        // Let it store some pages, then kill it wherever it is (mid-request, mid-transaction, ...).
        await pagesGrow(syncDb(fresh.database.db), 3);
        await delay(Math.floor(random() * 60));
        proc.kill('SIGKILL');
        assert.equal(await exited, 'SIGKILL');
        kills += 1;
        assert.ok((await verifyLedgerBalances(fresh.database.db)).ok, `sums consistent after kill ${kills}`);
      }
      assert.equal(kills, 4);
      // A worker started before the killed session is gone is told 'busy', as it should be.
      await locksReleased(syncDb(fresh.database.db));
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

  test('npm start SIGKILLed mid-sync (simulator and worker in one process) and started again continues the same feed: no dead letter, no conflict, the exact ledger', async () => {
    // Issue 15: after the first restart the bundled simulator served a new feed. Here
    // each child runs the simulator (its feed kept in the database, as the app keeps it)
    // and the worker, on the real clock, and dies by SIGKILL wherever it is.
    const fresh = await setupSync();
    const db = syncDb(fresh.database.db);
    const random = seededRandom(15);
    const env = { DATABASE_URL: fresh.testDatabase.url, VENDOR_IN_CHILD: '1', VENDOR_RATE: '150', VENDOR_HISTORY: '2500', VENDOR_API_KEY: API_KEY, PAGE_SIZE: '40' };
    try {
      for (let round = 0; round < 3; round++) {
        const { proc, exited } = await startChild(env);
        await pagesGrow(db, 3);
        await delay(Math.floor(random() * 60));
        proc.kill('SIGKILL');
        assert.equal(await exited, 'SIGKILL');
        assert.ok((await verifyLedgerBalances(fresh.database.db)).ok, `sums consistent after kill ${round + 1}`);
      }
      await locksReleased(db);
      // Started again in-process: a new simulator object on the stored feed, a new worker.
      const vendor = createVendorSimulator({ apiKeys: [API_KEY], entriesPerSecond: 150, history: 2500, requestsPerMinute: 1_000_000, accounts: 11, store: createDatabaseFeedStore(fresh.database.db) });
      await vendor.start();
      try {
        const final = await createSyncWorker({
          db: fresh.database.db,
          clock: systemClock,
          vendor: { url: vendor.url, apiKey: API_KEY, timeoutMs: 2000 },
          pageSize: 500,
          requestsPerMinute: 1_000_000,
          maxAttempts: 3,
        }).runPass();
        assert.equal(final.status, 'caught_up');
        assert.equal(vendor.stats().unknownCursors, 0);
        assert.deepEqual(await db.selectFrom('sync_dead_letters').select('id').execute(), [], 'no dead letter');
        assert.deepEqual(await db.selectFrom('sync_conflicts').select('vendor_id').execute(), [], 'no conflict');
        const position = vendor.positionOf(final.cursor ?? '');
        assert.ok(position !== undefined && position > 2500);
        await assertLedgerEquals(fresh.database, vendor.truth(position).entries);
        assert.ok((await verifyLedgerBalances(fresh.database.db)).ok);
      } finally {
        await vendor.close();
      }
    } finally {
      await fresh.close();
    }
  });
});
