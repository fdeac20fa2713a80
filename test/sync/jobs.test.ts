import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { verifyLedgerBalances } from '../../src/modules/sync/sync.verify.js';
import { createVendorSimulator, type VendorSimulator } from '../../src/modules/vendor/vendor.simulator.js';
import { client, type Client } from '../helpers/api.js';
import { createTestApp, insertUser, login, type TestApp } from '../helpers/app.js';
import { waitFor } from '../helpers/wait.js';
import { assertLedgerEquals } from './helpers.js';

const count = async (t: TestApp) =>
  Number((await t.db.selectFrom('ledger_entries').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);

/** The production path: sync.worker.plugin starts pg-boss, which runs the passes. */
describe('pg-boss sync worker (SYNC=on)', () => {
  let t: TestApp;
  let vendor: VendorSimulator;
  let dev: Client;
  before(async () => {
    vendor = createVendorSimulator({ apiKeys: ['jobs-key'], entriesPerSecond: 0, requestsPerMinute: 600, seed: 9 });
    await vendor.start();
    vendor.append(250);
    t = await createTestApp({
      env: {
        SYNC: 'on',
        VENDOR_URL: vendor.url,
        VENDOR_API_KEY: 'jobs-key',
        SYNC_PAGE_SIZE: '40',
        SYNC_REQUESTS_PER_MINUTE: '600',
        SYNC_INTERVAL_SECONDS: '3600',
      },
    });
    await insertUser(t.db, { username: 'dev', role: 'developer' });
    dev = client(t.app, (await login(t.app, 'dev')).accessToken);
  });
  after(async () => {
    await t.close();
    await vendor.close();
  });

  test('the start-up tick queues a live pass that stores the whole feed', async () => {
    await waitFor('the feed to be stored', async () => (await count(t)) === 250);
    await assertLedgerEquals({ db: t.db } as never, vendor.truth().entries);
    // pg-boss records a job's completion after its handler returns, without awaiting it:
    // the entries can be stored a moment before the job reads as completed.
    await waitFor('a completed bursar-sync job', async () => {
      const jobs = await sql<{ n: number }>`select count(*)::int as n from pgboss.job where name = 'bursar-sync' and state = 'completed'`.execute(t.db);
      return (jobs.rows[0]?.n ?? 0) >= 1;
    });
  });

  test('POST /sync/run queues a pass at once (202) that picks up new entries', async () => {
    vendor.append(90);
    vendor.fault({ kind: 'error', count: 1 });
    await waitFor('no queued or running pass', async () => {
      const busy = await sql<{ n: number }>`select count(*)::int as n from pgboss.job where name = 'bursar-sync' and state in ('created', 'active', 'retry')`.execute(t.db);
      return busy.rows[0]?.n === 0;
    });
    const response = await dev.post('/sync/run', {});
    assert.equal(response.statusCode, 202);
    assert.deepEqual(response.json(), { mode: 'live', queued: true, from: null });
    await waitFor('the new entries', async () => (await count(t)) === 340);
    await assertLedgerEquals({ db: t.db } as never, vendor.truth().entries);
    assert.ok((await verifyLedgerBalances(t.db)).ok);
    const status = (await dev.get('/sync/status')).json<{ enabled: boolean; cursor: string; entries: number }>();
    assert.deepEqual([status.enabled, status.cursor, status.entries], [true, '340', 340]);
    const metrics = await t.app.inject({ method: 'GET', url: '/metrics' });
    assert.match(metrics.body, /bursar_sync_entries_stored_total 340/);
    assert.match(metrics.body, /bursar_sync_failures_total\{reason="server"\} 1/);
  });

  test('a backfill walks the feed again under the same budget and stores nothing twice', async () => {
    const response = await dev.post('/sync/run', { mode: 'backfill' });
    assert.equal(response.statusCode, 202);
    await waitFor('the backfill to finish', async () => {
      const status = (await dev.get('/sync/status')).json<{ feeds: { feed: string; status: string }[] }>();
      return status.feeds.find((f) => f.feed === 'backfill')?.status === 'done';
    });
    assert.equal(await count(t), 340);
    assert.equal(vendor.stats().overLimit, 0);
  });
});

describe('npm start defaults: the app runs the vendor simulator and syncs from it', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp({ env: { SYNC: 'on', VENDOR_SIMULATOR: 'on', VENDOR_SIMULATOR_RATE: '0' } });
  });
  after(async () => {
    await t.close();
  });

  test('the demo history is synced', async () => {
    await waitFor('the demo history', async () => (await count(t)) === 2000, 20_000);
    assert.ok((await verifyLedgerBalances(t.db)).ok);
  });
});
