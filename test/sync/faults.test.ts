import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { VirtualClock } from '../../src/modules/sync/clock.js';
import { budgetKey, createSyncWorker } from '../../src/modules/sync/sync.worker.js';
import { syncDb } from '../../src/modules/sync/sync.tables.js';
import { verifyLedgerBalances } from '../../src/modules/sync/sync.verify.js';
import { createVendorSimulator, type VendorSimulator } from '../../src/modules/vendor/vendor.simulator.js';
import { client, type Client } from '../helpers/api.js';
import { createTestApp, insertUser, login, type TestApp } from '../helpers/app.js';
import { assertLedgerEquals } from './helpers.js';

/** 5xx, hangs, 429s: backoff with jitter, Retry-After, dead letters and their retry. */
describe('sync under vendor faults', () => {
  let t: TestApp;
  let vendor: VendorSimulator;
  let dev: Client;
  const clock = new VirtualClock();
  let key: string;
  const worker = (overrides: Partial<Parameters<typeof createSyncWorker>[0]> = {}) =>
    createSyncWorker({
      db: t.db,
      clock,
      vendor: { url: vendor.url, apiKey: key, timeoutMs: 300 },
      pageSize: 10,
      requestsPerMinute: 5,
      maxAttempts: 3,
      backoffBaseMs: 1000,
      blockedRetryMs: 600_000,
      random: () => 0.5,
      ...overrides,
    });
  const sync = () => syncDb(t.db);
  /** Feed requests since the n-th (virtual times, statuses). */
  const timeline = (from = 0) => vendor.stats().timeline.slice(from);

  before(async () => {
    t = await createTestApp();
    key = t.config.vendor.apiKey;
    vendor = createVendorSimulator({ clock, apiKeys: [key], entriesPerSecond: 0, timeline: true, seed: 11 });
    await vendor.start();
    await insertUser(t.db, { username: 'dev', role: 'developer' });
    dev = client(t.app, (await login(t.app, 'dev')).accessToken);
  });
  after(async () => {
    await vendor.close();
    await t.close();
  });

  test('5xx and a hang are retried with exponential backoff and jitter, then the page is stored', async () => {
    vendor.append(15);
    vendor.fault({ kind: 'error', count: 1 });
    vendor.fault({ kind: 'hang', count: 1 });
    const start = timeline().length;
    const result = await worker().runPass();
    assert.equal(result.status, 'caught_up');
    assert.equal(result.failures, 2);
    const calls = timeline(start);
    assert.deepEqual(calls.map((c) => c.status), [503, 599, 200, 200], '503, then a hang (no answer), then the two pages');
    // random() = 0.5: each delay is 3/4 of base·2^(n−1): 750 ms, then 1500 ms (virtual time).
    assert.equal((calls[1]?.at ?? 0) - (calls[0]?.at ?? 0), 750);
    assert.equal((calls[2]?.at ?? 0) - (calls[1]?.at ?? 0), 1500);
    await assertLedgerEquals({ db: t.db } as never, vendor.truth().entries);
    const feed = await sync().selectFrom('sync_feeds').selectAll().where('feed', '=', 'live').executeTakeFirstOrThrow();
    assert.equal(feed.consecutive_failures, 0);
  });

  test('backoff grows exponentially, stays within [½, 1] of its ceiling and is capped', async () => {
    for (const random of [0, 0.999]) {
      clock.advance(120_000);
      vendor.append(3);
      vendor.fault({ kind: 'error', count: 4 });
      const start = timeline().length;
      const result = await worker({ random: () => random, maxAttempts: 6, backoffCapMs: 3000 }).runPass();
      assert.equal(result.status, 'caught_up');
      const calls = timeline(start);
      const gaps = calls.slice(1).map((c, i) => c.at - (calls[i]?.at ?? 0));
      const ceilings = [1000, 2000, 3000, 3000];
      gaps.forEach((gap, i) => {
        const ceiling = ceilings[i] ?? 0;
        assert.ok(gap >= ceiling / 2 && gap <= ceiling, `gap ${i}: ${gap} within [${ceiling / 2}, ${ceiling}] (random ${random})`);
      });
      assert.equal(gaps.length, 4);
    }
  });

  test('after max attempts the page is dead-lettered and the feed parks on it; retry converges', async () => {
    clock.advance(120_000);
    vendor.append(25);
    const before = await sync().selectFrom('sync_feeds').select('cursor').where('feed', '=', 'live').executeTakeFirstOrThrow();
    vendor.fault({ kind: 'error', count: 3 });
    const blocked = await worker().runPass();
    assert.equal(blocked.status, 'blocked');
    assert.equal(blocked.failures, 3);

    const letters = (await dev.get('/sync/dead-letters')).json<{ data: { id: string; status: string; cursor: string | null; attempts: number; lastError: string }[] }>();
    assert.equal(letters.data.length, 1);
    const letter = letters.data[0];
    assert.ok(letter);
    assert.deepEqual([letter.status, letter.cursor, letter.attempts], ['open', before.cursor, 3]);
    assert.match(letter.lastError, /503/);
    const status = (await dev.get('/sync/status')).json<{ deadLetters: number; feeds: { feed: string; status: string; cursor: string }[] }>();
    assert.equal(status.deadLetters, 1);
    assert.deepEqual(status.feeds.find((f) => f.feed === 'live')?.status, 'blocked');

    // Parked: nothing is skipped and no request is spent until the retry.
    const requests = vendor.stats().requests;
    assert.equal((await worker().runPass()).status, 'blocked');
    assert.equal(vendor.stats().requests, requests);
    const cursor = await sync().selectFrom('sync_feeds').select('cursor').where('feed', '=', 'live').executeTakeFirstOrThrow();
    assert.equal(cursor.cursor, before.cursor);

    const retried = await dev.post(`/sync/dead-letters/${letter.id}/retry`, {});
    assert.equal(retried.statusCode, 202);
    assert.equal(retried.json<{ status: string }>().status, 'retrying');
    const resumed = await worker().runPass();
    assert.equal(resumed.status, 'caught_up');
    await assertLedgerEquals({ db: t.db } as never, vendor.truth().entries);
    const resolved = (await dev.get('/sync/dead-letters?status=resolved')).json<{ data: { id: string }[] }>();
    assert.deepEqual(resolved.data.map((d) => d.id), [letter.id]);
    assert.equal((await dev.post(`/sync/dead-letters/${letter.id}/retry`, {})).statusCode, 409);
    assert.ok((await verifyLedgerBalances(t.db)).ok);
  });

  test('a parked feed tries its page again by itself after the cool-down', async () => {
    clock.advance(120_000);
    vendor.append(5);
    vendor.fault({ kind: 'error', count: 3 });
    assert.equal((await worker().runPass()).status, 'blocked');
    clock.advance(599_000);
    assert.equal((await worker().runPass()).status, 'blocked', 'still cooling down');
    clock.advance(1_000);
    vendor.fault({ kind: 'error', count: 1 });
    assert.equal((await worker().runPass()).status, 'blocked', 'one attempt after the cool-down, and it failed');
    const letter = (await dev.get('/sync/dead-letters?status=open')).json<{ data: { attempts: number }[] }>().data[0];
    assert.equal(letter?.attempts, 4, '3 attempts, then 1 after the cool-down');
    clock.advance(600_000);
    assert.equal((await worker().runPass()).status, 'caught_up');
    await assertLedgerEquals({ db: t.db } as never, vendor.truth().entries);
    assert.equal((await dev.get('/sync/status')).json<{ deadLetters: number }>().deadLetters, 0);
  });

  test("Retry-After is honoured and kept in PostgreSQL: a restarted worker waits it out too", async () => {
    clock.advance(120_000);
    vendor.append(12);
    vendor.fault({ kind: 'rate_limit', count: 1, retryAfterSeconds: 30 });
    const start = timeline().length;
    const controller = new AbortController();
    const first = await worker({
      observer: {
        request: () => undefined,
        failure: (reason) => reason === 'rate_limited' && controller.abort(new Error('crash after the 429')),
        stored: () => undefined,
        conflicts: () => undefined,
        deadLetter: () => undefined,
      },
    }).runPass({ signal: controller.signal });
    assert.equal(first.status, 'aborted');
    const [limited] = timeline(start);
    assert.equal(limited?.status, 429);
    const budget = await sync().selectFrom('sync_budget').select('not_before').where('api_key_hash', '=', budgetKey(key)).executeTakeFirstOrThrow();
    assert.equal(budget.not_before, (limited?.at ?? 0) + 30_000);

    const second = await worker().runPass();
    assert.equal(second.status, 'caught_up');
    const calls = timeline(start);
    assert.ok(calls.length >= 2);
    assert.ok((calls[1]?.at ?? 0) >= (limited?.at ?? 0) + 30_000, 'the next request waited for Retry-After');
    assert.equal(vendor.stats().overLimit, 0);
    await assertLedgerEquals({ db: t.db } as never, vendor.truth().entries);
  });

  test('a natural 429 (budget used by someone else on this key) is waited out, not counted as a page failure', async () => {
    clock.advance(120_000);
    vendor.append(10);
    // Another client on the same key spends the vendor's window behind our back.
    for (let i = 0; i < 5; i++) {
      await fetch(`${vendor.url}/v1/entries?after=0&limit=1`, { headers: { 'x-api-key': key } });
    }
    const start = timeline().length;
    const result = await worker().runPass();
    assert.equal(result.status, 'caught_up');
    assert.equal(result.failures, 0);
    assert.equal(result.rateLimited, 1);
    const calls = timeline(start);
    assert.deepEqual(calls.map((c) => c.status), [429, 200]);
    assert.ok((calls[1]?.at ?? 0) - (calls[0]?.at ?? 0) >= 60_000 - 1000);
    await assertLedgerEquals({ db: t.db } as never, vendor.truth().entries);
  });
});
