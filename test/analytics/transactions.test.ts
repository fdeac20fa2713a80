import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import type { TransactionPage } from '../../src/modules/analytics/analytics.schemas.js';
import { bearer, createTestApp, insertUser, login, problemOf, type TestApp } from '../helpers/app.js';
import { seedBillingFixture, type BillingFixture } from '../helpers/billing.js';

/**
 * GET /transactions against the billing fixture plus failed attempts at known times (some
 * sharing one created_at, to exercise the id tie-break of the keyset) and a row of
 * bulk-loaded history without xact_id. Every list is compared with an independent SQL
 * query over the raw table.
 */
const HOUR = 3_600_000;
type Query = Record<string, string | number | undefined>;

function urlOf(query: Query = {}): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined) {
      params.set(key, String(value));
    }
  }
  const text = params.toString();
  return text ? `/api/v1/transactions?${text}` : '/api/v1/transactions';
}

describe('GET /transactions', () => {
  let t: TestApp;
  let f: BillingFixture;
  const tokens = { super: '', admin: '', analyst: '', developer: '' };
  const tie = new Date(Date.now() - 2 * HOUR);
  let historyId = '';

  before(async () => {
    t = await createTestApp();
    f = await seedBillingFixture(t.db);
    const failed = (schoolId: string, invoiceId: string, createdAt: Date, method: 'card' | 'wallet', code: string, amount: number) =>
      t.db
        .insertInto('transactions')
        .values({ school_id: schoolId, invoice_id: invoiceId, amount, method, status: 'failed', gateway: 'stripe', failure_code: code, created_at: createdAt })
        .execute();
    for (let i = 0; i < 3; i++) {
      await failed(f.schoolA, f.invoices.overdueA, tie, 'card', 'card_declined', 100 + i);
    }
    await failed(f.schoolB, f.invoices.overdueB, new Date(Date.now() - 30 * HOUR), 'wallet', 'timeout', 700);
    await failed(f.schoolA, f.invoices.pendingA, new Date(Date.now() - 0.5 * HOUR), 'card', 'insufficient_funds', 800);
    // A failure without an invoice (no student to name).
    await t.db.insertInto('transactions').values({ school_id: f.schoolB, amount: 900, method: 'card', status: 'failed', failure_code: 'processing_error', created_at: new Date(Date.now() - 3 * HOUR) }).execute();
    // Bulk-loaded history: no xact_id, so no event id.
    historyId = (
      await t.db
        .insertInto('transactions')
        .values({ school_id: f.schoolB, invoice_id: f.invoices.overdueB, amount: 50, method: 'card', status: 'failed', failure_code: 'expired_card', created_at: new Date(Date.now() - 400 * HOUR), xact_id: null })
        .returning('id')
        .executeTakeFirstOrThrow()
    ).id;

    await insertUser(t.db, { username: 'tx.super', role: 'super_admin' });
    await insertUser(t.db, { username: 'tx.admin', role: 'school_admin', schoolIds: [f.schoolA] });
    await insertUser(t.db, { username: 'tx.analyst', role: 'finance_analyst' });
    await insertUser(t.db, { username: 'tx.developer', role: 'developer' });
    tokens.super = (await login(t.app, 'tx.super')).accessToken;
    tokens.admin = (await login(t.app, 'tx.admin')).accessToken;
    tokens.analyst = (await login(t.app, 'tx.analyst')).accessToken;
    tokens.developer = (await login(t.app, 'tx.developer')).accessToken;
  });
  after(() => t.close());

  const get = (query: Query = {}, token: string | null = tokens.super) => t.app.inject({ method: 'GET', url: urlOf(query), headers: token === null ? {} : bearer(token) });

  async function page(query: Query = {}, token = tokens.super): Promise<TransactionPage> {
    const response = await get(query, token);
    assert.equal(response.statusCode, 200, response.body);
    return response.json<TransactionPage>();
  }

  /** Every page of a query, following nextCursor. */
  async function walk(query: Query, token = tokens.super) {
    const rows: TransactionPage['data'] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const body = await page({ ...query, cursor }, token);
      rows.push(...body.data);
      cursor = body.nextCursor ?? undefined;
      pages++;
      assert.ok(pages < 100);
    } while (cursor);
    return { rows, pages };
  }

  /** Independent: ids newest first under the same filters. */
  async function expectedIds(filter: { schoolIds?: string[]; status?: string; method?: string; from?: string; to?: string } = {}) {
    const { rows } = await sql<{ id: string }>`
      select t.id from transactions t
      where (${filter.schoolIds ?? null}::uuid[] is null or t.school_id = any(${filter.schoolIds ?? null}::uuid[]))
        and (${filter.status ?? null}::text is null or t.status = ${filter.status ?? null})
        and (${filter.method ?? null}::text is null or t.method = ${filter.method ?? null})
        and (${filter.from ?? null}::timestamptz is null or t.created_at >= ${filter.from ?? null}::timestamptz)
        and (${filter.to ?? null}::timestamptz is null or t.created_at < ${filter.to ?? null}::timestamptz)
      order by t.created_at desc, t.id desc`.execute(t.db);
    return rows.map((row) => row.id);
  }

  test('newest first, every field, event ids and types', async () => {
    const body = await page({ limit: 200 });
    assert.equal(body.nextCursor, null);
    assert.deepEqual(body.data.map((row) => row.id), await expectedIds());
    const raw = await t.db.selectFrom('transactions').select(['id', sql<string | null>`xact_id::text`.as('xact')]).execute();
    const xact = new Map(raw.map((row) => [row.id, row.xact]));
    for (const row of body.data) {
      const x = xact.get(row.id);
      assert.equal(row.eventId, x === null || x === undefined ? null : `${x}.${row.id}`);
      assert.equal(row.type, row.status === 'failed' ? 'payment_failed' : row.status === 'refunded' ? 'payment_refunded' : 'payment_received');
    }
    assert.equal(body.data.find((row) => row.id === historyId)?.eventId, null);
    const latest = body.data[0];
    // The refund (created now) is the newest row.
    assert.equal(latest?.status, 'refunded');
    assert.deepEqual(
      { schoolName: latest.schoolName, currency: latest.currency, amount: latest.amount, studentName: latest.studentName, method: latest.method, invoiceId: latest.invoiceId },
      { schoolName: 'Colegio Alfa', currency: 'MXN', amount: 3_000, studentName: 'Beto Bravo', method: 'bank_transfer', invoiceId: f.invoices.partialA },
    );
    assert.match(latest.invoiceNumber ?? '', /^FX-\d+$/);
    const noInvoice = body.data.find((row) => row.failureCode === 'processing_error');
    assert.deepEqual([noInvoice?.invoiceId, noInvoice?.invoiceNumber, noInvoice?.studentName, noInvoice?.gateway], [null, null, null, 'internal']);
    const usd = body.data.find((row) => row.failureCode === 'timeout');
    assert.deepEqual([usd?.currency, usd?.schoolName, usd?.studentName], ['USD', 'Beta Academy', 'Carla Cruz']);
  });

  test('keyset pages: every row once, in order, ties on created_at broken by id', async () => {
    const all = await expectedIds();
    for (const limit of [1, 2, 3, 5]) {
      const { rows, pages } = await walk({ limit });
      assert.deepEqual(rows.map((row) => row.id), all, `limit ${limit}`);
      // limit + 1 rows are read, so the last page is never an empty one.
      assert.equal(pages, Math.ceil(all.length / limit));
    }
    const filtered = await walk({ limit: 2, status: 'failed', schoolId: f.schoolA });
    assert.deepEqual(filtered.rows.map((row) => row.id), await expectedIds({ status: 'failed', schoolIds: [f.schoolA] }));
    const tied = filtered.rows.filter((row) => Date.parse(row.createdAt) === tie.getTime());
    assert.equal(tied.length, 3);
  });

  test('filters: schoolId, status, method, from, to', async () => {
    const from = new Date(Date.now() - 24 * HOUR).toISOString();
    const to = new Date(Date.now() - HOUR).toISOString();
    const cases: [Query, Parameters<typeof expectedIds>[0]][] = [
      [{ schoolId: f.schoolA }, { schoolIds: [f.schoolA] }],
      [{ schoolId: f.schoolB }, { schoolIds: [f.schoolB] }],
      [{ status: 'succeeded' }, { status: 'succeeded' }],
      [{ status: 'failed' }, { status: 'failed' }],
      [{ status: 'refunded' }, { status: 'refunded' }],
      [{ method: 'card' }, { method: 'card' }],
      [{ method: 'cash' }, { method: 'cash' }],
      [{ from }, { from }],
      [{ to }, { to }],
      [{ from, to, status: 'failed', method: 'card', schoolId: f.schoolA }, { from, to, status: 'failed', method: 'card', schoolIds: [f.schoolA] }],
    ];
    for (const [query, filter] of cases) {
      const { rows } = await walk({ ...query, limit: 3 });
      assert.deepEqual(rows.map((row) => row.id), await expectedIds(filter), JSON.stringify(query));
    }
    assert.equal((await page({ status: 'refunded' })).data.length, 1);
    assert.equal((await page({ from, to })).data.length, 4); // 3 tied + the one without invoice
  });

  test('roles: school_admin sees only their schools (404 for another), analyst masked, developer 403, anonymous 401', async () => {
    const mine = await walk({ limit: 4 }, tokens.admin);
    assert.deepEqual(mine.rows.map((row) => row.id), await expectedIds({ schoolIds: [f.schoolA] }));
    assert.ok(mine.rows.every((row) => row.schoolId === f.schoolA));
    assert.equal(mine.rows[0]?.studentName, 'Beto Bravo');
    const other = await get({ schoolId: f.schoolB }, tokens.admin);
    assert.equal(other.statusCode, 404);
    assert.equal(problemOf(other).code, 'NOT_FOUND');
    assert.equal((await get({ schoolId: '00000000-0000-7000-8000-000000000000' })).statusCode, 404);

    const masked = await page({ limit: 200 }, tokens.analyst);
    assert.deepEqual(masked.data.map((row) => row.id), await expectedIds());
    assert.equal(masked.data[0]?.studentName, 'B. B.');
    const body = JSON.stringify(masked);
    for (const name of ['Beto', 'Bravo', 'Ana', 'Alvarez', 'Carla', 'Cruz', 'Dora']) {
      assert.ok(!body.includes(name), name);
    }

    const developer = await get({}, tokens.developer);
    assert.equal(developer.statusCode, 403);
    assert.equal(problemOf(developer).code, 'FORBIDDEN');
    assert.equal((await get({}, null)).statusCode, 401);
  });

  test('bad input is a 400 naming the field', async () => {
    const cases: [Query, string][] = [
      [{ limit: 0 }, 'limit'],
      [{ limit: 201 }, 'limit'],
      [{ status: 'pending' }, 'status'],
      [{ method: 'cheque' }, 'method'],
      [{ schoolId: 'nope' }, 'schoolId'],
      [{ from: 'yesterday' }, 'from'],
      [{ cursor: 'garbage' }, 'cursor'],
      [{ cursor: Buffer.from(JSON.stringify(['2026-01-01', 'x'])).toString('base64url') }, 'cursor'],
      [{ from: '2026-02-01T00:00:00Z', to: '2026-01-01T00:00:00Z' }, 'from'],
      [{ since: 1 }, 'since'],
    ];
    for (const [query, field] of cases) {
      const response = await get(query);
      assert.equal(response.statusCode, 400, `${JSON.stringify(query)} → ${response.body}`);
      assert.ok(problemOf(response).errors?.some((error) => error.field === field), `${JSON.stringify(query)}: ${response.body}`);
    }
  });
});
