import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { createDatabase } from '../../src/db/database.js';
import { VirtualClock } from '../../src/modules/sync/clock.js';
import { deriveFeedState } from '../../src/modules/sync/sync.state.js';
import { createSyncRepository } from '../../src/modules/sync/sync.repository.js';
import { syncDb } from '../../src/modules/sync/sync.tables.js';
import { verifyLedgerBalances } from '../../src/modules/sync/sync.verify.js';
import { createSyncWorker } from '../../src/modules/sync/sync.worker.js';
import { createVendorSimulator, type VendorSimulatorOptions } from '../../src/modules/vendor/vendor.simulator.js';
import { createDatabaseFeedStore } from '../../src/modules/vendor/vendor.store.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { waitFor } from '../helpers/wait.js';
import { API_KEY, assertLedgerEquals } from './helpers.js';

class Crash extends Error {}

const ROOT = path.resolve(import.meta.dirname, '../..');

/** `bursar worker` (bin/bursar.mjs, as deployed): the jobs of `npm start`, here with the bundled simulator. */
function startWorker(env: Record<string, string>): Promise<{ child: ChildProcess; exited: Promise<NodeJS.Signals | null>; output: () => string }> {
  const base = { ...process.env };
  for (const name of ['DATABASE_URL', 'DATABASE_READ_URL', 'REDIS_URL', 'VENDOR_URL']) {
    delete base[name];
  }
  const child = spawn(process.execPath, [path.join(ROOT, 'bin/bursar.mjs'), 'worker'], { cwd: ROOT, env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`worker: not listening within 60 s:\n${output}`)), 60_000);
    child.stdout?.on('data', () => {
      if (/listening on http/.test(output)) {
        clearTimeout(timer);
        resolve({ child, exited, output: () => output });
      }
    });
    child.once('exit', () => reject(new Error(`worker exited:\n${output}`)));
  });
}

/**
 * Issue 15, the first restart of `npm start`: the bundled simulator started a new feed,
 * the stored cursor was unknown to it (400, retried into a dead letter) and the same ids
 * came back with other bodies (2 271 conflicts on backfill). Here the simulator and the
 * worker are stopped in the middle of a pass — the worker dies after the vendor answered
 * and before it stored the page — and brand-new objects (new pool, new simulator, new
 * worker) continue on the same database after a downtime.
 */
describe('a restart mid-sync continues the same feed', () => {
  let testDatabase: TestDatabase;
  before(async () => {
    testDatabase = await createTestDatabase();
  });
  after(async () => {
    await testDatabase.drop();
  });

  test('new simulator and worker objects continue from the stored cursor: no dead letter, no conflict, the exact ledger', async () => {
    const clock = new VirtualClock(Date.UTC(2026, 3, 1, 8));
    const vendorOptions = (db: ReturnType<typeof createDatabase>['db']): VendorSimulatorOptions => ({
      clock,
      apiKeys: [API_KEY],
      entriesPerSecond: 2,
      history: 500,
      seed: 5,
      accounts: 15,
      store: createDatabaseFeedStore(db),
    });
    const workerOptions = { clock, pageSize: 100, requestsPerMinute: 5, maxAttempts: 3, random: () => 0.5 };

    // Before the restart: four pages stored, the fifth fetched and never stored.
    const first = createDatabase({ connectionString: testDatabase.url, max: 3 });
    const vendorBefore = createVendorSimulator(vendorOptions(first.db));
    await vendorBefore.start();
    let fetched = 0;
    const worker = createSyncWorker({
      ...workerOptions,
      db: first.db,
      vendor: { url: vendorBefore.url, apiKey: API_KEY, timeoutMs: 2000 },
      hook: (point) => {
        if (point === 'fetched' && ++fetched === 5) {
          throw new Crash('the process stops here');
        }
      },
    });
    await assert.rejects(worker.runPass(), Crash);
    const stored = await syncDb(first.db).selectFrom('sync_feeds').select(['cursor', 'pages']).where('feed', '=', 'live').executeTakeFirstOrThrow();
    assert.equal(stored.pages, 4);
    const feedId = vendorBefore.definition().feedId;
    assert.equal(stored.cursor, `${feedId}.400`);
    const servedBefore = vendorBefore.truth(500);
    await vendorBefore.close();
    await first.close();

    // Down for 20 minutes: 2 400 more entries arrive at the vendor meanwhile.
    clock.advance(20 * 60_000);

    const second = createDatabase({ connectionString: testDatabase.url, max: 3 });
    try {
      const vendorAfter = createVendorSimulator(vendorOptions(second.db));
      await vendorAfter.start();
      try {
        assert.equal(vendorAfter.definition().feedId, feedId, 'the same feed');
        assert.equal(vendorAfter.feedLength(), 500 + 2400);
        assert.deepEqual([...vendorAfter.truth(500).entries.values()], [...servedBefore.entries.values()], 'the same bodies for the same ids');
        const result = await createSyncWorker({ ...workerOptions, db: second.db, vendor: { url: vendorAfter.url, apiKey: API_KEY, timeoutMs: 2000 } }).runPass();
        assert.equal(result.status, 'caught_up');
        assert.equal(result.failures, 0);
        assert.equal(result.conflicts, 0);
        assert.equal(vendorAfter.stats().unknownCursors, 0, 'the stored cursor is one of this feed');

        const db = syncDb(second.db);
        const deadLetters = await db.selectFrom('sync_dead_letters').selectAll().execute();
        assert.deepEqual(deadLetters, [], 'no dead letter');
        const conflicts = await db.selectFrom('sync_conflicts').selectAll().execute();
        assert.deepEqual(conflicts, [], 'no conflict');
        const position = vendorAfter.positionOf(result.cursor ?? '');
        assert.ok(position !== undefined && position >= 2900);
        await assertLedgerEquals(second, vendorAfter.truth(position).entries);
        assert.ok((await verifyLedgerBalances(second.db)).ok);

        const row = await createSyncRepository().loadFeed(db, 'live');
        assert.equal(row.status, 'idle');
        const state = deriveFeedState(row, { now: clock.now(), running: false, enabled: true, intervalSeconds: 60, notBefore: null });
        assert.equal(state.state, 'caught_up');
        assert.equal(row.newestEntryAt?.toISOString(), vendorAfter.entryAt(position - 1).createdAt);

        // Issue 15's backfill flagged 2 271 conflicts: the same ids came back with other bodies. Now they come back identical.
        await db.updateTable('sync_feeds').set({ cursor: null, status: 'idle' }).where('feed', '=', 'backfill').execute();
        const backfill = await createSyncWorker({ ...workerOptions, db: second.db, vendor: { url: vendorAfter.url, apiKey: API_KEY, timeoutMs: 2000 } }).runPass({ feed: 'backfill' });
        assert.deepEqual([backfill.status, backfill.conflicts], ['done', 0]);
        assert.deepEqual(await db.selectFrom('sync_conflicts').selectAll().execute(), []);
      } finally {
        await vendorAfter.close();
      }
    } finally {
      await second.close();
    }
  });

  test('the worker process of npm start, SIGKILLed mid-pass and started again, goes on at once with the same feed', async () => {
    // The process dies holding an active pg-boss job; before, the next pass waited for
    // pg-boss to expire it (10 min), on a feed the new simulator did not know.
    const fresh = await createTestDatabase();
    const database = createDatabase({ connectionString: fresh.url, max: 3 });
    const db = syncDb(database.db);
    const env = {
      NODE_ENV: 'test',
      LOG_LEVEL: 'warn',
      PORT: '0',
      DATABASE_URL: fresh.url,
      DATABASE_POOL_MAX: '4',
      SEED_DEMO: 'off',
      SIMULATOR: 'off',
      MAINTENANCE: 'off',
      SYNC: 'on',
      VENDOR_SIMULATOR: 'on',
      VENDOR_SIMULATOR_RATE: '0',
      VENDOR_API_KEY: API_KEY,
      SYNC_INTERVAL_SECONDS: '1',
      SYNC_REQUESTS_PER_MINUTE: '10000',
      SYNC_PAGE_SIZE: '10',
    };
    const pages = async () => (await db.selectFrom('sync_feeds').select('pages').where('feed', '=', 'live').executeTakeFirstOrThrow()).pages;
    try {
      const first = await startWorker(env);
      await waitFor('some pages', async () => (await pages()) >= 20, 30_000);
      first.child.kill('SIGKILL');
      assert.equal(await first.exited, 'SIGKILL');
      const storedAtKill = await pages();
      assert.ok(storedAtKill < 200, `killed mid-pass (${storedAtKill} of 200 pages)`);
      const orphan = await sql<{ n: number }>`select count(*)::int as n from pgboss.job where name = 'bursar-sync' and state = 'active'`.execute(database.db);
      assert.equal(orphan.rows[0]?.n, 1, 'the dead process left its pass active');

      const second = await startWorker(env);
      try {
        await waitFor('the whole history', async () => (await pages()) >= 200, 60_000);
        const vendor = createVendorSimulator({ apiKeys: [API_KEY], entriesPerSecond: 0, store: createDatabaseFeedStore(database.db) });
        await vendor.start();
        const truth = vendor.truth();
        await vendor.close();
        assert.equal(truth.entries.size, 2000);
        await assertLedgerEquals(database, truth.entries);
        assert.deepEqual(await db.selectFrom('sync_dead_letters').select('id').execute(), [], 'no dead letter');
        assert.deepEqual(await db.selectFrom('sync_conflicts').select('vendor_id').execute(), [], 'no conflict');
        assert.ok((await verifyLedgerBalances(database.db)).ok);
        const failed = await sql<{ n: number }>`select count(*)::int as n from pgboss.job where name = 'bursar-sync' and state = 'failed'`.execute(database.db);
        assert.equal(failed.rows[0]?.n, 1, 'the orphan was released, not waited out');
        assert.doesNotMatch(second.output(), /needs a reset|no longer knows|dead-lettered/);
      } finally {
        second.child.kill('SIGTERM');
        await second.exited;
      }
    } finally {
      await database.close();
      await fresh.drop();
    }
  });
});
