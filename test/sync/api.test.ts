import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { createSyncWorker } from '../../src/modules/sync/sync.worker.js';
import { VirtualClock } from '../../src/modules/sync/clock.js';
import { createVendorSimulator, type VendorSimulator } from '../../src/modules/vendor/vendor.simulator.js';
import { client, type Client } from '../helpers/api.js';
import { bearer, createTestApp, insertUser, login, problemOf, type TestApp } from '../helpers/app.js';

/** The gateway-sync API: role access, shapes, pagination and problem+json for bad input. */
describe('accounts and sync API', () => {
  let t: TestApp;
  let vendor: VendorSimulator;
  const clock = new VirtualClock();
  const as: Record<'admin' | 'analyst' | 'developer' | 'school', Client> = {} as never;
  let anonymous: Client;
  let devToken: string;

  before(async () => {
    t = await createTestApp();
    vendor = createVendorSimulator({ clock, apiKeys: [t.config.vendor.apiKey], entriesPerSecond: 0, accounts: 6, seed: 3 });
    await vendor.start();
    vendor.append(300);
    const worker = createSyncWorker({
      db: t.db,
      clock,
      vendor: { url: vendor.url, apiKey: t.config.vendor.apiKey, timeoutMs: 2000 },
      pageSize: 100,
      requestsPerMinute: 5,
      maxAttempts: 3,
    });
    assert.equal((await worker.runPass()).status, 'caught_up');
    await insertUser(t.db, { username: 'root', role: 'super_admin' });
    await insertUser(t.db, { username: 'analyst', role: 'finance_analyst' });
    await insertUser(t.db, { username: 'dev', role: 'developer' });
    await insertUser(t.db, { username: 'head', role: 'school_admin' });
    as.admin = client(t.app, (await login(t.app, 'root')).accessToken);
    as.analyst = client(t.app, (await login(t.app, 'analyst')).accessToken);
    devToken = (await login(t.app, 'dev')).accessToken;
    as.developer = client(t.app, devToken);
    as.school = client(t.app, (await login(t.app, 'head')).accessToken);
    anonymous = client(t.app, null);
  });
  after(async () => {
    await vendor.close();
    await t.close();
  });

  /** The vendor's sums per account, straight from its feed. */
  function expectedAccounts() {
    const sums = new Map<string, { earned: number; spent: number; payout: number; paidOut: number }>();
    for (const entry of vendor.truth().entries.values()) {
      const s = sums.get(entry.accountId) ?? { earned: 0, spent: 0, payout: 0, paidOut: 0 };
      if (entry.type === 'paid_out') {
        s.paidOut += entry.amount;
      } else {
        s[entry.type] += entry.amount;
      }
      sums.set(entry.accountId, s);
    }
    return sums;
  }

  test('role access: money is super_admin/finance_analyst, sync is developer/super_admin, school_admin gets neither', async () => {
    const routes: [string, 'accounts' | 'sync'][] = [
      ['/accounts', 'accounts'],
      ['/accounts/acct_00001', 'accounts'],
      ['/accounts/acct_00001/payouts', 'accounts'],
      ['/sync/status', 'sync'],
      ['/sync/dead-letters', 'sync'],
    ];
    for (const [url, kind] of routes) {
      assert.equal((await as.admin.get(url)).statusCode, 200, `super_admin ${url}`);
      assert.equal((await as.analyst.get(url)).statusCode, kind === 'accounts' ? 200 : 403, `finance_analyst ${url}`);
      assert.equal((await as.developer.get(url)).statusCode, kind === 'sync' ? 200 : 403, `developer ${url}`);
      const school = await as.school.get(url);
      assert.equal(school.statusCode, 403, `school_admin ${url}`);
      assert.equal(problemOf(school).code, 'FORBIDDEN');
      assert.equal((await anonymous.get(url)).statusCode, 401, `anonymous ${url}`);
    }
    assert.equal((await as.analyst.post('/sync/run', {})).statusCode, 403);
    assert.equal((await as.school.post('/sync/run', {})).statusCode, 403);
    assert.equal((await as.developer.post('/sync/run', {})).statusCode, 202);
    const bodiless = await t.app.inject({ method: 'POST', url: '/api/v1/sync/run', headers: bearer(devToken) });
    assert.equal(bodiless.statusCode, 202, 'no body = a live run');
    assert.deepEqual(bodiless.json(), { mode: 'live', queued: false, from: null });
  });

  test('GET /accounts/:id: {accountId, earned, spent, payout, paidOut, balance} equal the vendor feed', async () => {
    const expected = expectedAccounts();
    assert.equal(expected.size, 6);
    for (const [accountId, sums] of expected) {
      const response = await as.analyst.get(`/accounts/${accountId}`);
      assert.equal(response.statusCode, 200);
      const body = response.json<Record<string, unknown>>();
      assert.deepEqual(
        { accountId: body.accountId, earned: body.earned, spent: body.spent, payout: body.payout, paidOut: body.paidOut, balance: body.balance },
        { accountId, ...sums, balance: sums.earned - sums.spent - sums.paidOut },
      );
    }
    assert.equal(problemOf(await as.analyst.get('/accounts/nobody')).status, 404);
  });

  test('GET /accounts pages by id with a cursor and covers every account once', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const response = await as.admin.get(`/accounts?limit=4${cursor ? `&cursor=${cursor}` : ''}`);
      assert.equal(response.statusCode, 200);
      const page = response.json<{ data: { accountId: string }[]; nextCursor: string | null }>();
      assert.ok(page.data.length <= 4);
      seen.push(...page.data.map((a) => a.accountId));
      cursor = page.nextCursor;
    } while (cursor !== null);
    assert.deepEqual(seen, [...expectedAccounts().keys()].sort());
  });

  test('GET /accounts/:id/payouts: requested, paidOut, outstanding and the entries newest first, paginated', async () => {
    const accountId = [...expectedAccounts().keys()].sort()[0] ?? '';
    const feed = [...vendor.truth().entries.values()].filter((e) => e.accountId === accountId && (e.type === 'payout' || e.type === 'paid_out'));
    assert.ok(feed.length > 3, 'the account has payouts');
    const requested = feed.filter((e) => e.type === 'payout').reduce((sum, e) => sum + e.amount, 0);
    const paidOut = feed.filter((e) => e.type === 'paid_out').reduce((sum, e) => sum + e.amount, 0);
    const entries: { id: string; createdAt: string }[] = [];
    let cursor: string | null = null;
    do {
      const response = await as.analyst.get(`/accounts/${accountId}/payouts?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      assert.equal(response.statusCode, 200);
      const body = response.json<{ requested: number; paidOut: number; outstanding: number; entries: { id: string; createdAt: string }[]; nextCursor: string | null }>();
      assert.deepEqual([body.requested, body.paidOut, body.outstanding], [requested, paidOut, requested - paidOut]);
      assert.ok(body.outstanding >= 0);
      entries.push(...body.entries);
      cursor = body.nextCursor;
    } while (cursor !== null);
    assert.deepEqual(entries.map((e) => e.id).sort(), feed.map((e) => e.id).sort());
    const times = entries.map((e) => Date.parse(e.createdAt));
    assert.deepEqual(times, [...times].sort((a, b) => b - a), 'newest first');
  });

  test('GET /sync/status reports the cursor, budget use and counts', async () => {
    const response = await as.developer.get('/sync/status');
    assert.equal(response.statusCode, 200);
    const status = response.json<{ cursor: string; entries: number; accounts: number; deadLetters: number; failures: number; budget: { limit: number; requestsTotal: number }; feeds: { feed: string; status: string }[] }>();
    assert.equal(status.cursor, '300');
    assert.equal(status.entries, 300);
    assert.equal(status.accounts, 6);
    assert.equal(status.deadLetters, 0);
    assert.equal(status.failures, 0);
    assert.equal(status.budget.limit, 5);
    assert.equal(status.budget.requestsTotal, 3);
    assert.deepEqual(status.feeds.map((f) => f.feed), ['live', 'backfill']);
  });

  test('bad input is a problem+json 400 naming the field, never a 500', async () => {
    const cases: [Promise<LightMyRequestResponse>, string][] = [
      [as.admin.get('/accounts?limit=0'), 'limit'],
      [as.admin.get('/accounts?limit=501'), 'limit'],
      [as.admin.get('/accounts?cursor=%%%'), 'cursor'],
      [as.admin.get('/accounts/acct_00001/payouts?cursor=bm9wZQ'), 'cursor'],
      [as.admin.get('/sync/dead-letters?status=lost'), 'status'],
      [as.admin.get('/sync/dead-letters?cursor=WyJ4Il0'), 'cursor'],
      [as.admin.post('/sync/dead-letters/not-a-uuid/retry', {}), 'id'],
      [as.admin.post('/sync/run', { mode: 'sideways' }), 'mode'],
      [as.admin.post('/sync/run', { mode: 'live', from: '10' }), 'from'],
      [as.admin.post('/sync/run', { extra: 1 }), 'extra'],
      [as.admin.get('/accounts/bad%20id'), 'id'],
    ];
    for (const [pending, field] of cases) {
      const response = await pending;
      assert.equal(response.statusCode, 400, `${field}: ${response.body}`);
      const problem = problemOf(response);
      assert.ok(problem.errors?.some((e) => e.field.includes(field)), `names ${field}: ${response.body}`);
    }
    const missing = await as.admin.post('/sync/dead-letters/00000000-0000-7000-8000-000000000000/retry', {});
    assert.equal(problemOf(missing).status, 404);
  });

  test('POST /sync/run {mode: backfill} restarts the backfill feed (202)', async () => {
    const response = await as.developer.post('/sync/run', { mode: 'backfill', from: '100' });
    assert.equal(response.statusCode, 202);
    assert.deepEqual(response.json(), { mode: 'backfill', queued: false, from: '100' });
    const status = (await as.developer.get('/sync/status')).json<{ feeds: { feed: string; status: string; cursor: string | null }[] }>();
    assert.deepEqual(status.feeds.find((f) => f.feed === 'backfill'), { ...status.feeds.find((f) => f.feed === 'backfill'), status: 'idle', cursor: '100' });
  });

  test('/metrics exposes the sync gauges', async () => {
    const response = await t.app.inject({ method: 'GET', url: '/metrics' });
    assert.match(response.body, /bursar_sync_lag_seconds\{feed="live"\} \d/);
    assert.match(response.body, /bursar_sync_dead_letters_open 0/);
    assert.match(response.body, /bursar_sync_budget_used \d/);
  });
});
