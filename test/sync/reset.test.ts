import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { syncDb } from '../../src/modules/sync/sync.tables.js';
import { verifyLedgerBalances } from '../../src/modules/sync/sync.verify.js';
import { createVendorSimulator, type VendorSimulator } from '../../src/modules/vendor/vendor.simulator.js';
import type { VendorEntry } from '../../src/modules/vendor/vendor.feed.js';
import { client, type Client } from '../helpers/api.js';
import { createTestApp, insertUser, login, problemOf, type TestApp } from '../helpers/app.js';
import { waitFor } from '../helpers/wait.js';
import { assertLedgerEquals, storedEntries } from './helpers.js';

interface Status {
  state: string;
  summary: string;
  action: string | null;
  cursor: string | null;
  newestEntryAt: string | null;
  deadLetters: number;
  conflicts: number;
  entries: number;
  lastRunAt: string | null;
}
interface Letter {
  id: string;
  status: string;
  reason: string | null;
  resolution: string | null;
  retryable: boolean;
  explanation: string;
}

/**
 * A vendor that forgets our cursor (issue 15: "after is not a cursor of this feed",
 * retried into a dead letter that Retry did not clear, logged at info). Through the
 * production path: the app with SYNC=on (pg-boss worker), a real vendor simulator on
 * loopback, the real clock.
 */
describe('a vendor that forgets the cursor: needs_reset, then POST /sync/reset {from}', () => {
  let t: TestApp;
  let vendor: VendorSimulator;
  let admin: Client;
  let dev: Client;
  const logs: { level: number; msg: string }[] = [];

  const status = async () => (await dev.get('/sync/status')).json<Status>();
  const letters = async () => (await dev.get('/sync/dead-letters')).json<{ data: Letter[] }>().data;
  const waitForState = (state: string) => waitFor(`sync state ${state}`, async () => (await status()).state === state, 20_000);
  /** Queues a live pass and waits until one has run since. */
  const runPass = async () => {
    const before = (await status()).lastRunAt;
    await waitFor('no queued or running pass', async () => {
      const busy = await sql<{ n: number }>`select count(*)::int as n from pgboss.job where name = 'bursar-sync' and state in ('created', 'active', 'retry')`.execute(t.db);
      return busy.rows[0]?.n === 0;
    });
    assert.equal((await dev.post('/sync/run', {})).statusCode, 202);
    await waitFor('a pass', async () => (await status()).lastRunAt !== before, 20_000);
    await waitFor('the pass to end', async () => {
      const busy = await sql<{ n: number }>`select count(*)::int as n from pgboss.job where name = 'bursar-sync' and state in ('created', 'active', 'retry')`.execute(t.db);
      return busy.rows[0]?.n === 0;
    });
  };
  const feedEntries = (from: number, to: number): VendorEntry[] => Array.from({ length: to - from }, (_, i) => vendor.entryAt(from + i));

  before(async () => {
    vendor = createVendorSimulator({ apiKeys: ['reset-key'], entriesPerSecond: 0, requestsPerMinute: 6000, seed: 31, accounts: 8 });
    await vendor.start();
    vendor.append(300);
    const stream = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString().split('\n').filter(Boolean)) {
          logs.push(JSON.parse(line) as { level: number; msg: string });
        }
        done();
      },
    });
    t = await createTestApp({
      env: {
        SYNC: 'on',
        VENDOR_URL: vendor.url,
        VENDOR_API_KEY: 'reset-key',
        SYNC_PAGE_SIZE: '40',
        SYNC_REQUESTS_PER_MINUTE: '6000',
        SYNC_INTERVAL_SECONDS: '3600',
        SYNC_MAX_ATTEMPTS: '2',
      },
      logger: { level: 'debug', stream },
    });
    await insertUser(t.db, { username: 'root', role: 'super_admin' });
    await insertUser(t.db, { username: 'dev', role: 'developer' });
    admin = client(t.app, (await login(t.app, 'root')).accessToken);
    dev = client(t.app, (await login(t.app, 'dev')).accessToken);
    await waitFor('the first 300 entries', async () => (await status()).entries === 300, 20_000);
  });
  after(async () => {
    await t.close();
    await vendor.close();
  });

  test('an unknown cursor stops the feed in needs_reset at warn, with what to do, and is not retried into a dead letter', async () => {
    vendor.fault({ kind: 'reset' });
    vendor.append(100);
    await runPass();
    const parked = await status();
    assert.equal(parked.state, 'needs_reset');
    assert.equal(parked.cursor, '300');
    assert.match(parked.summary, /no longer knows the live feed's cursor 300.*after is not a cursor of this feed/);
    assert.match(parked.action ?? '', /POST \/api\/v1\/sync\/reset/);
    assert.equal(parked.deadLetters, 0, 'no dead letter');
    assert.equal(vendor.stats().unknownCursors, 1, 'one request: no retry can succeed');
    const warned = logs.filter((line) => line.level === 40 && /needs_reset/.test(line.msg));
    assert.equal(warned.length, 1, JSON.stringify(logs.filter((line) => line.level >= 40)));
    assert.match(warned[0]?.msg ?? '', /POST \/api\/v1\/sync\/reset/);
    assert.ok(!logs.some((line) => line.level === 30 && /sync pass/.test(line.msg)), 'routine passes are not info lines');

    // Parked: later passes make no request and do not warn again.
    await runPass();
    assert.equal(vendor.stats().unknownCursors, 1);
    assert.equal(logs.filter((line) => line.level === 40 && /reset/.test(line.msg)).length, 1);
    const metrics = await t.app.inject({ method: 'GET', url: '/metrics' });
    assert.match(metrics.body, /bursar_sync_state\{feed="live",state="needs_reset"\} 1/);
    assert.match(metrics.body, /bursar_sync_state\{feed="live",state="caught_up"\} 0/);
  });

  test('POST /sync/reset is super_admin only, and `from` is a time not in the future nor more than 366 days back', async () => {
    assert.equal((await dev.post('/sync/reset', { from: new Date().toISOString() })).statusCode, 403);
    const cases: [object, RegExp][] = [
      [{ from: new Date(Date.now() + 3_600_000).toISOString() }, /future/],
      [{ from: new Date(Date.now() - 400 * 86_400_000).toISOString() }, /366 days/],
      [{ from: 'yesterday' }, /date-time|format/],
      [{ from: '0001-01-01T00:00:00Z' }, /366 days/],
      [{}, /from/],
      [{ from: new Date().toISOString(), feed: 'backfill' }, /feed/],
    ];
    for (const [body, message] of cases) {
      const response = await admin.post('/sync/reset', body);
      assert.equal(response.statusCode, 400, `${JSON.stringify(body)}: ${response.body}`);
      const problem = problemOf(response);
      assert.ok(problem.errors?.some((e) => e.field === 'from' || e.field === 'feed'), response.body);
      assert.match(JSON.stringify(problem), message);
    }
    assert.equal((await status()).state, 'needs_reset', 'nothing changed');
  });

  test('a reset from the newest stored entry resumes with every entry once: re-sent identical bodies are no conflicts', async () => {
    const before = await status();
    assert.ok(before.newestEntryAt !== null);
    const served = vendor.stats().entriesServed;
    const response = await admin.post('/sync/reset', { from: before.newestEntryAt });
    assert.equal(response.statusCode, 202, response.body);
    assert.deepEqual(response.json(), { feed: 'live', from: before.newestEntryAt, previousStatus: 'needs_reset', previousCursor: '300', deadLettersClosed: 0, queued: true });
    await waitForState('caught_up');
    const after = await status();
    assert.equal(after.entries, 400);
    assert.equal(after.conflicts, 0, 'the re-sent entries had identical bodies');
    assert.equal(after.cursor, vendor.cursorAt(400));
    // The 300 entries created at the newest stored time came again and were skipped.
    assert.ok(vendor.stats().entriesServed - served >= 400);
    await assertLedgerEquals({ db: t.db } as never, vendor.truth().entries);
    assert.ok((await verifyLedgerBalances(t.db)).ok);
    const audit = await t.db.selectFrom('audit_log').select(['action', 'entity_id', 'actor_username', 'changes']).where('action', '=', 'sync.reset').execute();
    assert.equal(audit.length, 1);
    assert.deepEqual([audit[0]?.entity_id, audit[0]?.actor_username], ['live', 'root']);
  });

  test('a reset from a later time skips only what arrived before it: no duplicate, no lost entry after `from`', async () => {
    vendor.fault({ kind: 'reset' });
    vendor.append(50); // arrives before `from`: skipped by the operator's choice
    await waitFor('the clock to move on', () => Date.now() > Date.parse(vendor.entryAt(449).createdAt) + 5);
    vendor.append(50); // arrives at `from`
    const from = vendor.entryAt(450).createdAt;
    await runPass();
    assert.equal((await status()).state, 'needs_reset');
    assert.equal((await admin.post('/sync/reset', { from })).statusCode, 202);
    await waitForState('caught_up');
    const expected = new Map([...vendor.truth(400).entries, ...feedEntries(450, 500).map((e) => [e.id, e] as const)]);
    await assertLedgerEquals({ db: t.db } as never, expected);
    const ids = (await storedEntries({ db: t.db } as never)).map((e) => e.id);
    assert.equal(new Set(ids).size, ids.length);
    for (const skipped of feedEntries(400, 450)) {
      assert.ok(!ids.includes(skipped.id), `${skipped.id} arrived before from`);
    }
  });

  test('a dead letter that can no longer succeed says why, and Retry answers 409 SYNC_NEEDS_RESET until the reset closes it', async () => {
    // A page that keeps failing: dead-lettered, the feed blocked on it.
    vendor.append(10);
    vendor.fault({ kind: 'error', count: 2 });
    await runPass();
    assert.equal((await status()).state, 'blocked');
    const [letter] = await letters();
    assert.ok(letter);
    assert.deepEqual([letter.status, letter.reason, letter.retryable], ['open', 'server', true]);
    assert.match(letter.explanation, /failed 2 times.*tried again by itself/);
    assert.ok(logs.some((line) => line.level === 50 && /dead-lettered/.test(line.msg)), 'a dead letter is an error line');

    // Meanwhile the vendor forgot the cursor: the retried page gets the 400.
    vendor.fault({ kind: 'reset' });
    assert.equal((await dev.post(`/sync/dead-letters/${letter.id}/retry`, {})).statusCode, 202);
    await waitForState('needs_reset');
    const [stuck] = await letters();
    assert.ok(stuck);
    assert.deepEqual([stuck.id, stuck.status, stuck.reason, stuck.retryable], [letter.id, 'open', 'cursor_unknown', false]);
    assert.match(stuck.explanation, /no longer knows cursor .*cannot succeed.*POST \/api\/v1\/sync\/reset/);
    const refused = await dev.post(`/sync/dead-letters/${letter.id}/retry`, {});
    assert.equal(refused.statusCode, 409);
    const problem = problemOf(refused);
    assert.equal(problem.code, 'SYNC_NEEDS_RESET');
    assert.match(problem.detail, /Retry cannot succeed.*POST \/api\/v1\/sync\/reset/);

    const newest = (await status()).newestEntryAt;
    const reset = await admin.post('/sync/reset', { from: newest });
    assert.equal(reset.json<{ deadLettersClosed: number }>().deadLettersClosed, 1);
    await waitForState('caught_up');
    const closed = (await dev.get('/sync/dead-letters?status=resolved')).json<{ data: Letter[] }>().data.find((l) => l.id === letter.id);
    assert.deepEqual([closed?.resolution, closed?.retryable], ['reset', false]);
    assert.match(closed?.explanation ?? '', /Closed by a reset/);
    assert.equal(problemOf(await dev.post(`/sync/dead-letters/${letter.id}/retry`, {})).code, 'CONFLICT');
    const final = await status();
    assert.deepEqual([final.deadLetters, final.conflicts, final.entries], [0, 0, 460]);
    assert.ok((await verifyLedgerBalances(t.db)).ok);
    const feed = await syncDb(t.db).selectFrom('sync_feeds').select(['status', 'resume_from']).where('feed', '=', 'live').executeTakeFirstOrThrow();
    assert.deepEqual(feed, { status: 'idle', resume_from: null });
  });
});
