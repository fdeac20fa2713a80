import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import pg from 'pg';
import WebSocket from 'ws';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createDatabase, type Database } from '../../src/db/database.js';
import { parseEventId } from '../../src/modules/live/events.js';
import { comparePositions, eventsIn, horizon } from '../../src/modules/live/live.repository.js';
import { client } from '../helpers/api.js';
import { createTestApp, insertUser, login, TEST_JWT_SECRET, type TestApp } from '../helpers/app.js';
import { seedBillingFixture, type BillingFixture } from '../helpers/billing.js';
import { EVENTS_FINAL_WITHIN_MS, eventsSettled } from '../helpers/live.js';
import { waitFor } from '../helpers/wait.js';

/**
 * The live feed over real WebSockets against a real PostgreSQL: authentication and
 * origin at the handshake, scope and masking per role, event types, resume without
 * gaps or duplicates, commit-order safety, and two server instances on one database.
 */

interface Message {
  type: string;
  id?: string;
  lastEventId?: string;
  payment?: { schoolId: string; studentName: string | null; amount: number; status: string; invoiceId: string | null; paymentId: string | null; refundId: string | null };
}

/** A connected client collecting every message. */
class Feed {
  readonly messages: Message[] = [];
  private waiters: { predicate: () => boolean; resolve: () => void }[] = [];
  closeCode: number | undefined;

  constructor(readonly socket: WebSocket) {
    socket.on('message', (data: Buffer) => {
      this.messages.push(JSON.parse(data.toString()) as Message);
      this.check();
    });
    socket.on('close', (code) => {
      this.closeCode = code;
      this.check();
    });
  }

  events(): Message[] {
    return this.messages.filter((m) => m.type.startsWith('payment_'));
  }

  private check() {
    this.waiters = this.waiters.filter((w) => {
      if (w.predicate()) {
        w.resolve();
        return false;
      }
      return true;
    });
  }

  /** Resolves when `predicate` holds; fails the test after 10 s (a condition, not a timing assert). */
  until(predicate: () => boolean, what: string): Promise<void> {
    if (predicate()) {
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.messages.map((m) => m.type))}`)), 10_000);
      this.waiters.push({ predicate, resolve: () => (clearTimeout(timer), resolve()) });
    });
  }

  close() {
    this.socket.close();
  }
}

function open(base: string, query: Record<string, string>, headers: Record<string, string> = {}): Promise<Feed> {
  const url = `${base.replace('http', 'ws')}/api/v1/live?${new URLSearchParams(query).toString()}`;
  const socket = new WebSocket(url, { headers });
  const feed = new Feed(socket);
  return new Promise((resolve, reject) => {
    socket.once('unexpected-response', (request, response) => {
      // With this listener, ws leaves the refused request open: end it, or the server waits for it on close.
      request.destroy();
      response.destroy();
      reject(new Error(`HTTP ${response.statusCode}`));
    });
    socket.once('error', reject);
    // Ready once the hello has arrived (the hub has registered the client).
    void feed.until(() => feed.messages.some((m) => m.type === 'hello'), 'hello').then(() => resolve(feed), reject);
  });
}

describe('live feed', () => {
  let t: TestApp;
  let fx: BillingFixture;
  let base: string;
  const tokens: Record<string, string> = {};
  let second: { app: FastifyInstance; database: Database; base: string } | undefined;

  const pay = async (invoiceId: string, amount = 100) => {
    const response = await client(t.app, tokens.root ?? '').pay({ invoiceId, amount, method: 'card' });
    assert.equal(response.statusCode, 201, response.body);
    return response.json<{ id: string }>().id;
  };

  before(async () => {
    t = await createTestApp();
    fx = await seedBillingFixture(t.db);
    await insertUser(t.db, { username: 'root', role: 'super_admin' });
    await insertUser(t.db, { username: 'admin-b', role: 'school_admin', schoolIds: [fx.schoolB] });
    await insertUser(t.db, { username: 'analyst', role: 'finance_analyst' });
    await insertUser(t.db, { username: 'dev', role: 'developer' });
    for (const name of ['root', 'admin-b', 'analyst', 'dev']) {
      tokens[name] = (await login(t.app, name)).accessToken;
    }
    base = await t.app.listen({ port: 0, host: '127.0.0.1' });
    // The fixture's events are live events too; let the hub deliver them (to nobody)
    // before any test listens, or a slow horizon could mix them into a test's stream.
    await waitFor('the hub to pass the setup events', async () => {
      const probe = await open(base, { token: tokens.root ?? '' });
      probe.close();
      const at = parseEventId(probe.messages.find((m) => m.type === 'hello')?.lastEventId ?? '');
      return at !== undefined && (await eventsSettled(t.db, at));
    }, EVENTS_FINAL_WITHIN_MS);
  });
  after(async () => {
    if (second) {
      await second.app.close();
      await second.database.close();
    }
    await t.close();
  });

  test('the handshake needs a token, a role with reports:read, a same-origin browser and a valid lastEventId', async () => {
    await assert.rejects(open(base, {}), /HTTP 401/);
    await assert.rejects(open(base, { token: 'not-a-token' }), /HTTP 401/);
    await assert.rejects(open(base, { token: tokens.dev ?? '' }), /HTTP 403/);
    await assert.rejects(open(base, { token: tokens.root ?? '' }, { origin: 'https://evil.example' }), /HTTP 403/);
    await assert.rejects(open(base, { token: tokens.root ?? '', lastEventId: 'nope' }), /HTTP 400/);
    const same = await open(base, { token: tokens.root ?? '' }, { origin: base });
    same.close();
  });

  test('payments, refunds and failed attempts reach the clients allowed to see them, masked per role', async () => {
    const root = await open(base, { token: tokens.root ?? '' });
    const adminB = await open(base, { token: tokens['admin-b'] ?? '' });
    const analyst = await open(base, { token: tokens.analyst ?? '' });

    const paymentA = await pay(fx.invoices.pendingA, 1_000); // school A: admin-b must not see it
    await client(t.app, tokens.root ?? '').refund(paymentA, { amount: 400 });
    await sql`insert into transactions (school_id, invoice_id, amount, method, status, failure_code, gateway)
              values (${fx.schoolA}, ${fx.invoices.pendingA}, 500, 'card', 'failed', 'card_declined', 'stripe')`.execute(t.db);
    await pay(fx.invoices.overdueB, 2_000); // school B: everyone

    await root.until(() => root.events().length >= 4, 'four events for super_admin');
    assert.deepEqual(root.events().map((m) => m.type), ['payment_received', 'payment_refunded', 'payment_failed', 'payment_received']);
    const first = root.events()[0];
    assert.equal(first?.payment?.amount, 1_000);
    assert.equal(first?.payment?.paymentId, paymentA, 'the event names the payment the API returned');
    assert.equal(root.events()[1]?.payment?.paymentId, paymentA, 'a refund names the refunded payment');
    assert.ok(root.events()[1]?.payment?.refundId);
    assert.equal(root.events()[2]?.payment?.paymentId, null, 'a failed attempt moved no money');
    assert.equal(first?.payment?.studentName, 'Beto Bravo');

    await adminB.until(() => adminB.events().length >= 1, 'school B payment for admin-b');
    assert.deepEqual(adminB.events().map((m) => [m.type, m.payment?.schoolId]), [['payment_received', fx.schoolB]], 'nothing of school A');

    await analyst.until(() => analyst.events().length >= 4, 'four events for analyst');
    for (const event of analyst.events()) {
      assert.match(event.payment?.studentName ?? '', /^[A-Z]\. [A-Z]\.$/, 'initials only');
    }
    const ids = root.events().map((m) => parseEventId(m.id ?? ''));
    assert.ok(ids.every(Boolean));
    for (let i = 1; i < ids.length; i++) {
      assert.ok(comparePositions(ids[i - 1] ?? { xactId: '0', id: '' }, ids[i] ?? { xactId: '0', id: '' }) < 0, 'ids increase');
    }
    assert.deepEqual(analyst.events().map((m) => m.id), root.events().map((m) => m.id), 'same ids for every client');
    root.close();
    adminB.close();
    analyst.close();
  });

  test('resuming with lastEventId replays exactly the missed events, in order, then continues live', async () => {
    const feed = await open(base, { token: tokens.root ?? '' });
    await pay(fx.invoices.overdueB, 10);
    await pay(fx.invoices.overdueB, 11);
    await feed.until(() => feed.events().length >= 2, 'two events');
    const last = feed.events()[1]?.id ?? '';
    feed.close();

    // Missed while away: three payments (one in another school).
    await pay(fx.invoices.overdueB, 12);
    await pay(fx.invoices.pendingA, 13);
    await pay(fx.invoices.overdueB, 14);

    const resumed = await open(base, { token: tokens.root ?? '', lastEventId: last });
    await resumed.until(() => resumed.events().length >= 3, 'the three missed events');
    await pay(fx.invoices.overdueB, 15);
    await resumed.until(() => resumed.events().length >= 4, 'the next live event');
    assert.deepEqual(resumed.events().map((m) => m.payment?.amount), [12, 13, 14, 15]);
    assert.equal(new Set(resumed.events().map((m) => m.id)).size, 4, 'no duplicates');

    // A school admin resuming from the same point gets only their school's share.
    const adminB = await open(base, { token: tokens['admin-b'] ?? '', lastEventId: last });
    await adminB.until(() => adminB.events().length >= 3, 'school B events since');
    assert.deepEqual(adminB.events().map((m) => m.payment?.amount), [12, 14, 15]);
    resumed.close();
    adminB.close();
  });

  test('an event is not published before every older transaction has ended (commit order is safe)', async () => {
    const feed = await open(base, { token: tokens.root ?? '' });
    const early = new pg.Client({ connectionString: t.url });
    await early.connect();
    try {
      // T1 takes its xid first and stays open; T2 writes and commits after it.
      await early.query('begin');
      await early.query(`insert into transactions (school_id, invoice_id, amount, method, status, failure_code)
                         values ($1, $2, 21, 'card', 'failed', 'do_not_honor')`, [fx.schoolA, fx.invoices.pendingA]);
      await pay(fx.invoices.overdueB, 22);
      // T2 is committed but below no horizon yet: nothing after T1's xid is final.
      const hello = feed.messages.find((m) => m.type === 'hello');
      const from = parseEventId(hello?.lastEventId ?? '');
      assert.ok(from);
      const below = await horizon(t.db);
      const final = await eventsIn(t.db, { after: from, below, limit: 100 });
      assert.deepEqual(final.map((row) => row.amount), [], 'T2 is not publishable while T1 is open');
      const pending = await eventsIn(t.db, { after: from, limit: 100 });
      assert.deepEqual(pending.map((row) => row.amount), [22], 'T2 is committed (T1 is not yet visible)');
      await early.query('commit');
      await feed.until(() => feed.events().length >= 2, 'both, once T1 committed');
      assert.deepEqual(feed.events().map((m) => m.payment?.amount), [21, 22], 'older transaction first');
    } finally {
      await early.end();
      feed.close();
    }
  });

  test('a second server instance on the same database delivers every event too', async () => {
    const config = loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent', DATABASE_URL: t.url });
    const database = createDatabase({ connectionString: t.url, max: 3 });
    const app = await buildApp({ config, database, jwtSecret: TEST_JWT_SECRET, logger: false });
    await app.ready();
    second = { app, database, base: await app.listen({ port: 0, host: '127.0.0.1' }) };

    const one = await open(base, { token: tokens.root ?? '' });
    const two = await open(second.base, { token: tokens.root ?? '' });
    await pay(fx.invoices.overdueB, 31); // written through instance one
    const viaTwo = await client(second.app, tokens.root ?? '').pay({ invoiceId: fx.invoices.overdueB, amount: 32, method: 'cash' });
    assert.equal(viaTwo.statusCode, 201, viaTwo.body);
    await one.until(() => one.events().length >= 2, 'both events on instance one');
    await two.until(() => two.events().length >= 2, 'both events on instance two');
    assert.deepEqual(one.events().map((m) => m.id), two.events().map((m) => m.id));

    // Resuming on the other instance continues from the same ids.
    const lastOnOne = one.events()[0]?.id ?? '';
    const resumed = await open(second.base, { token: tokens.root ?? '', lastEventId: lastOnOne });
    await resumed.until(() => resumed.events().length >= 1, 'the event after it');
    assert.deepEqual(resumed.events().map((m) => m.payment?.amount), [32]);
    one.close();
    two.close();
    resumed.close();
  });

  test('concurrent payments arrive once each, in one increasing order', async () => {
    const feed = await open(base, { token: tokens.root ?? '' });
    const results = await Promise.all(Array.from({ length: 30 }, (_, i) => client(t.app, tokens.root ?? '').pay({ invoiceId: fx.invoices.overdueB, amount: 40 + i, method: 'card' })));
    assert.ok(results.every((r) => r.statusCode === 201));
    await feed.until(() => feed.events().length >= 30, '30 events');
    assert.deepEqual(feed.events().map((m) => m.payment?.amount).sort((a, b) => (a ?? 0) - (b ?? 0)), Array.from({ length: 30 }, (_, i) => 40 + i));
    const ids = feed.events().map((m) => parseEventId(m.id ?? '') ?? { xactId: '0', id: '' });
    for (let i = 1; i < ids.length; i++) {
      assert.ok(comparePositions(ids[i - 1] ?? ids[0]!, ids[i] ?? ids[0]!) < 0);
    }
    feed.close();
  });
});
