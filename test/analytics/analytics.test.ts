import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import type { PaymentMethod } from '../../src/db/types.js';
import type { MethodsReport, MetricsReport, TrendsReport } from '../../src/modules/analytics/analytics.schemas.js';
import { bearer, createTestApp, insertUser, login, problemOf, type TestApp } from '../helpers/app.js';
import { seedBillingFixture, type BillingFixture } from '../helpers/billing.js';

/**
 * Metrics, trends and methods on hand-built transactions at known times (minutes to 40
 * days ago) in two currencies, plus a third school (MXN) the school_admin cannot see.
 * Every figure is checked against independent SQL over the raw table for the window the
 * response reports, for each role; a few are also checked by hand.
 */
const HOUR = 3_600_000;
type Row = { schoolId: string; invoiceId: string; hoursAgo: number; status: 'succeeded' | 'failed' | 'refunded' | 'pending'; method: PaymentMethod; amount: number };

describe('analytics: metrics, trends, methods', () => {
  let t: TestApp;
  let f: BillingFixture;
  let schoolC = '';
  const tokens = { super: '', admin: '', analyst: '', developer: '' };

  before(async () => {
    t = await createTestApp();
    f = await seedBillingFixture(t.db);
    // A third school, MXN like A, outside the school_admin's scope.
    schoolC = (await t.db.insertInto('schools').values({ name: 'Colegio Gamma', currency: 'MXN', timezone: 'America/Mexico_City' }).returning('id').executeTakeFirstOrThrow()).id;
    const studentC = (await t.db.insertInto('students').values({ school_id: schoolC, first_name: 'Gil', last_name: 'Gomez', grade: '1' }).returning('id').executeTakeFirstOrThrow()).id;
    const invoiceC = (
      await t.db.insertInto('invoices').values({ school_id: schoolC, student_id: studentC, number: 'GC-1', amount: 1_000_000, paid_amount: 0, due_date: f.future }).returning('id').executeTakeFirstOrThrow()
    ).id;

    const now = Date.now();
    const rows: Row[] = [
      // School A (MXN): succeeded at 0.3 h, 1.2 h, 1.4 h ago (card, card, cash), failed, refunded, pending.
      { schoolId: f.schoolA, invoiceId: f.invoices.pendingA, hoursAgo: 0.3, status: 'succeeded', method: 'card', amount: 1_001 },
      { schoolId: f.schoolA, invoiceId: f.invoices.pendingA, hoursAgo: 5.2, status: 'succeeded', method: 'card', amount: 2_000 },
      { schoolId: f.schoolA, invoiceId: f.invoices.pendingA, hoursAgo: 5.4, status: 'succeeded', method: 'cash', amount: 500 },
      { schoolId: f.schoolA, invoiceId: f.invoices.pendingA, hoursAgo: 2, status: 'failed', method: 'card', amount: 7_000 },
      { schoolId: f.schoolA, invoiceId: f.invoices.pendingA, hoursAgo: 3, status: 'failed', method: 'wallet', amount: 7_000 },
      { schoolId: f.schoolA, invoiceId: f.invoices.pendingA, hoursAgo: 4, status: 'refunded', method: 'card', amount: 300 },
      { schoolId: f.schoolA, invoiceId: f.invoices.pendingA, hoursAgo: 1, status: 'pending', method: 'card', amount: 99_999 },
      { schoolId: f.schoolA, invoiceId: f.invoices.pendingA, hoursAgo: 100, status: 'succeeded', method: 'bank_transfer', amount: 4_000 },
      { schoolId: f.schoolA, invoiceId: f.invoices.pendingA, hoursAgo: 600, status: 'failed', method: 'card', amount: 4_000 },
      // School B (USD)
      { schoolId: f.schoolB, invoiceId: f.invoices.overdueB, hoursAgo: 0.1, status: 'succeeded', method: 'bank_transfer', amount: 10_000 },
      { schoolId: f.schoolB, invoiceId: f.invoices.overdueB, hoursAgo: 10, status: 'failed', method: 'card', amount: 10_000 },
      { schoolId: f.schoolB, invoiceId: f.invoices.overdueB, hoursAgo: 150, status: 'succeeded', method: 'card', amount: 3_000 },
      // School C (MXN), not the admin's
      { schoolId: schoolC, invoiceId: invoiceC, hoursAgo: 5.1, status: 'succeeded', method: 'direct_debit', amount: 50_000 },
      { schoolId: schoolC, invoiceId: invoiceC, hoursAgo: 5.3, status: 'succeeded', method: 'direct_debit', amount: 50_000 },
      { schoolId: schoolC, invoiceId: invoiceC, hoursAgo: 200, status: 'failed', method: 'direct_debit', amount: 50_000 },
      { schoolId: schoolC, invoiceId: invoiceC, hoursAgo: 960, status: 'succeeded', method: 'card', amount: 9_000 },
    ];
    for (const row of rows) {
      const createdAt = new Date(now - row.hoursAgo * HOUR);
      let paymentId: string | null = null;
      if (row.status === 'succeeded') {
        paymentId = (
          await t.db
            .insertInto('payments')
            .values({ school_id: row.schoolId, invoice_id: row.invoiceId, amount: row.amount, method: row.method, paid_at: createdAt })
            .returning('id')
            .executeTakeFirstOrThrow()
        ).id;
      }
      await t.db
        .insertInto('transactions')
        .values({
          school_id: row.schoolId,
          invoice_id: row.invoiceId,
          payment_id: paymentId,
          amount: row.amount,
          method: row.method,
          status: row.status,
          failure_code: row.status === 'failed' ? 'card_declined' : null,
          created_at: createdAt,
        })
        .execute();
    }

    await insertUser(t.db, { username: 'an.super', role: 'super_admin' });
    await insertUser(t.db, { username: 'an.admin', role: 'school_admin', schoolIds: [f.schoolA] });
    await insertUser(t.db, { username: 'an.analyst', role: 'finance_analyst' });
    await insertUser(t.db, { username: 'an.developer', role: 'developer' });
    tokens.super = (await login(t.app, 'an.super')).accessToken;
    tokens.admin = (await login(t.app, 'an.admin')).accessToken;
    tokens.analyst = (await login(t.app, 'an.analyst')).accessToken;
    tokens.developer = (await login(t.app, 'an.developer')).accessToken;
  });
  after(() => t.close());

  const get = (path: string, query: Record<string, string> = {}, token: string | null = tokens.super) =>
    t.app.inject({ method: 'GET', url: `/api/v1/analytics/${path}?${new URLSearchParams(query).toString()}`, headers: token === null ? {} : bearer(token) });
  async function json<T>(path: string, query: Record<string, string>, token: string): Promise<T> {
    const response = await get(path, query, token);
    assert.equal(response.statusCode, 200, response.body);
    return response.json<T>();
  }

  /** The school filter of a role: a school_admin sees A only. */
  const schoolsOf = (token: string, schoolId?: string): string[] | null =>
    schoolId !== undefined ? [schoolId] : token === tokens.admin ? [f.schoolA] : null;

  const where = (from: string, to: string, schools: string[] | null) => sql`
    t.created_at >= ${from}::timestamptz and t.created_at <= ${to}::timestamptz
    and (${schools}::uuid[] is null or t.school_id = any(${schools}::uuid[]))`;

  async function expectedMetrics(body: MetricsReport, schools: string[] | null) {
    const totals = await sql<{ currency: string; succeeded: number; succeededAmount: number; failed: number; refunded: number; refunds: number }>`
      select s.currency,
             count(t.id) filter (where t.status = 'succeeded')::int as succeeded,
             coalesce(sum(t.amount) filter (where t.status = 'succeeded'), 0)::bigint as "succeededAmount",
             count(t.id) filter (where t.status = 'failed')::int as failed,
             coalesce(sum(t.amount) filter (where t.status = 'refunded'), 0)::bigint as refunded,
             count(t.id) filter (where t.status = 'refunded')::int as refunds
        from schools s
        left join transactions t on t.school_id = s.id and ${where(body.from, body.to, schools)}
       where (${schools}::uuid[] is null or s.id = any(${schools}::uuid[]))
       group by s.currency order by s.currency`.execute(t.db);
    const peak = await sql<{ currency: string; hour: number }>`
      select distinct on (s.currency) s.currency, extract(hour from t.created_at at time zone 'UTC')::int as hour
        from transactions t join schools s on s.id = t.school_id
       where t.status = 'succeeded' and ${where(body.from, body.to, schools)}
       group by 1, 2 order by s.currency, count(*) desc, 2`.execute(t.db);
    const top = await sql<{ currency: string; method: string }>`
      select distinct on (s.currency) s.currency, t.method
        from transactions t join schools s on s.id = t.school_id
       where t.status = 'succeeded' and ${where(body.from, body.to, schools)}
       group by 1, 2 order by s.currency, count(*) desc, 2`.execute(t.db);
    return totals.rows.map((row) => ({
      currency: row.currency,
      totalVolume: row.succeededAmount - row.refunded,
      totalPayments: row.succeeded,
      successRate: row.succeeded + row.failed === 0 ? null : row.succeeded / (row.succeeded + row.failed),
      averageAmount: row.succeeded === 0 ? 0 : Math.round(row.succeededAmount / row.succeeded),
      peakHour: peak.rows.find((p) => p.currency === row.currency)?.hour ?? null,
      topPaymentMethod: top.rows.find((p) => p.currency === row.currency)?.method ?? null,
      failedPayments: row.failed,
      refundedAmount: row.refunded,
      succeededAmount: row.succeededAmount,
      refunds: row.refunds,
    }));
  }

  const roles = () => [tokens.super, tokens.admin, tokens.analyst];

  test('metrics equal independent SQL for every role, period and school filter', async () => {
    for (const token of roles()) {
      for (const period of ['day', 'week', 'month']) {
        for (const schoolId of [undefined, f.schoolA, ...(token === tokens.admin ? [] : [f.schoolB, schoolC])]) {
          const body = await json<MetricsReport>('metrics', { period, ...(schoolId ? { schoolId } : {}) }, token);
          assert.equal(body.period, period);
          const days = period === 'day' ? 1 : period === 'week' ? 7 : 30;
          assert.equal(Date.parse(body.to) - Date.parse(body.from), days * 24 * HOUR);
          assert.deepEqual(body.byCurrency, await expectedMetrics(body, schoolsOf(token, schoolId)), `${period} ${schoolId ?? 'all'}`);
        }
      }
    }
  });

  test('metrics by hand: the last day, all schools', async () => {
    const body = await json<MetricsReport>('metrics', {}, tokens.super);
    assert.equal(body.period, 'day');
    const [mxn, usd] = body.byCurrency;
    // MXN: A 1 001 + 2 000 + 500 and C 50 000 + 50 000 succeeded; 300 and the fixture's 3 000 refunded; 2 failed.
    assert.equal(mxn?.currency, 'MXN');
    assert.equal(mxn.totalPayments, 5);
    assert.equal(mxn.totalVolume, 103_501 - 3_300);
    assert.equal(mxn.refundedAmount, 3_300);
    assert.equal(mxn.failedPayments, 2);
    assert.equal(mxn.successRate, 5 / 7);
    assert.equal(mxn.averageAmount, Math.round(103_501 / 5));
    assert.equal(mxn.topPaymentMethod, 'card'); // card 2, direct_debit 2, cash 1: ties go to the first by name
    assert.equal(usd?.currency, 'USD');
    assert.deepEqual([usd.totalPayments, usd.totalVolume, usd.failedPayments, usd.successRate, usd.topPaymentMethod], [1, 10_000, 1, 0.5, 'bank_transfer']);
    // The school_admin sees only school A (MXN).
    const mine = await json<MetricsReport>('metrics', {}, tokens.admin);
    assert.deepEqual(mine.byCurrency.map((row) => [row.currency, row.totalPayments, row.totalVolume, row.successRate]), [['MXN', 3, 3_501 - 3_300, 3 / 5]]);
  });

  test('a currency without activity is listed with zeros and nulls', async () => {
    const body = await json<MetricsReport>('metrics', { schoolId: schoolC, period: 'day' }, tokens.super);
    const week = await json<MetricsReport>('metrics', { schoolId: f.schoolB, period: 'day' }, tokens.super);
    assert.equal(body.byCurrency.length, 1);
    assert.equal(week.byCurrency.length, 1);
    const empty = await t.db.insertInto('schools').values({ name: 'Quiet School', currency: 'EUR', timezone: 'Europe/Madrid' }).returning('id').executeTakeFirstOrThrow();
    const quiet = await json<MetricsReport>('metrics', { schoolId: empty.id }, tokens.super);
    assert.deepEqual(quiet.byCurrency, [
      { currency: 'EUR', totalVolume: 0, totalPayments: 0, successRate: null, averageAmount: 0, peakHour: null, topPaymentMethod: null, failedPayments: 0, refundedAmount: 0, succeededAmount: 0, refunds: 0 },
    ]);
    const trends = await json<TrendsReport>('trends', { schoolId: empty.id }, tokens.super);
    assert.equal(trends.points.length, 24);
    assert.ok(trends.points.every((point) => point.currency === 'EUR' && point.amount === 0 && point.count === 0 && point.failed === 0));
    await t.db.updateTable('schools').set({ deleted_at: new Date() }).where('id', '=', empty.id).execute();
  });

  test('trends: every bucket × currency, numbers equal independent SQL', async () => {
    for (const token of roles()) {
      for (const period of ['day', 'week', 'month'] as const) {
        const body = await json<TrendsReport>('trends', { period }, token);
        const unit = period === 'day' ? 'hour' : 'day';
        const buckets = period === 'day' ? 24 : period === 'week' ? 7 : 30;
        const step = unit === 'hour' ? HOUR : 24 * HOUR;
        assert.equal(body.unit, unit);
        const currencies = token === tokens.admin ? ['MXN'] : ['MXN', 'USD'];
        assert.equal(body.points.length, buckets * currencies.length);
        const starts = [...new Set(body.points.map((point) => point.bucket))];
        assert.equal(starts.length, buckets);
        assert.equal(starts[0], body.from.replace('.000Z', 'Z'));
        for (const [i, start] of starts.entries()) {
          assert.equal(Date.parse(start) % step, 0);
          assert.ok(i === 0 || Date.parse(start) - Date.parse(starts[i - 1] ?? '') === step);
          assert.deepEqual(body.points.filter((point) => point.bucket === start).map((point) => point.currency), currencies);
        }
        assert.ok(Date.parse(starts.at(-1) ?? '') <= Date.parse(body.to) && Date.parse(body.to) - Date.parse(starts.at(-1) ?? '') < step);
        const { rows } = await sql<{ bucket: string; currency: string; amount: number; count: number; failed: number; refunded: number }>`
          select to_char(date_trunc(${unit}, t.created_at at time zone 'UTC'), 'YYYY-MM-DD"T"HH24:MI:SS"Z"') as bucket, s.currency,
                 coalesce(sum(t.amount) filter (where t.status = 'succeeded'), 0)::bigint as amount,
                 count(*) filter (where t.status = 'succeeded')::int as count,
                 count(*) filter (where t.status = 'failed')::int as failed,
                 coalesce(sum(t.amount) filter (where t.status = 'refunded'), 0)::bigint as refunded
            from transactions t join schools s on s.id = t.school_id
           where t.status <> 'pending' and ${where(body.from, body.to, schoolsOf(token))}
           group by 1, 2 order by 1, 2`.execute(t.db);
        const nonZero = body.points.filter((point) => point.amount || point.count || point.failed || point.refunded);
        assert.deepEqual(nonZero, rows, `${period}`);
      }
    }
    const day = await json<TrendsReport>('trends', {}, tokens.super);
    assert.equal(day.period, 'day');
    const mxn = day.points.filter((point) => point.currency === 'MXN');
    assert.equal(mxn.reduce((sum, point) => sum + point.count, 0), 5);
    assert.equal(mxn.reduce((sum, point) => sum + point.amount - point.refunded, 0), 103_501 - 3_300);
  });

  test('methods equal independent SQL for every role and period', async () => {
    for (const token of roles()) {
      for (const period of ['day', 'week', 'month']) {
        for (const schoolId of [undefined, f.schoolA]) {
          const body = await json<MethodsReport>('methods', { period, ...(schoolId ? { schoolId } : {}) }, token);
          const { rows } = await sql<{ method: string; currency: string; amount: number; count: number; failed: number; refunded: number }>`
            select t.method, s.currency,
                   coalesce(sum(t.amount) filter (where t.status = 'succeeded'), 0)::bigint as amount,
                   count(*) filter (where t.status = 'succeeded')::int as count,
                   count(*) filter (where t.status = 'failed')::int as failed,
                   coalesce(sum(t.amount) filter (where t.status = 'refunded'), 0)::bigint as refunded
              from transactions t join schools s on s.id = t.school_id
             where t.status <> 'pending' and ${where(body.from, body.to, schoolsOf(token, schoolId))}
             group by 1, 2 order by s.currency, 3 desc, 4 desc, 1`.execute(t.db);
          assert.deepEqual(body.methods, rows, `${period} ${schoolId ?? 'all'}`);
        }
      }
    }
    const day = await json<MethodsReport>('methods', {}, tokens.super);
    assert.deepEqual(day.methods.find((row) => row.currency === 'MXN' && row.method === 'card'), { method: 'card', currency: 'MXN', amount: 3_001, count: 2, failed: 1, refunded: 300 });
  });

  test('peak hour and trend buckets in a time zone equal independent SQL in that zone', async () => {
    for (const timeZone of ['America/New_York', 'Asia/Kolkata', 'America/Bogota', 'UTC']) {
      for (const token of [tokens.super, tokens.admin]) {
        const schools = schoolsOf(token);
        const metrics = await json<MetricsReport>('metrics', { period: 'week', timeZone }, token);
        assert.equal(metrics.timeZone, timeZone);
        const peak = await sql<{ currency: string; hour: number }>`
          select distinct on (s.currency) s.currency, extract(hour from t.created_at at time zone ${timeZone})::int as hour
            from transactions t join schools s on s.id = t.school_id
           where t.status = 'succeeded' and ${where(metrics.from, metrics.to, schools)}
           group by 1, 2 order by s.currency, count(*) desc, 2`.execute(t.db);
        assert.deepEqual(
          metrics.byCurrency.map((row) => [row.currency, row.peakHour]),
          metrics.byCurrency.map((row) => [row.currency, peak.rows.find((p) => p.currency === row.currency)?.hour ?? null]),
          `${timeZone} peak hour`,
        );
        for (const period of ['day', 'week', 'month'] as const) {
          const body = await json<TrendsReport>('trends', { period, timeZone }, token);
          assert.equal(body.timeZone, timeZone);
          const unit = period === 'day' ? 'hour' : 'day';
          const starts = [...new Set(body.points.map((point) => point.bucket))];
          assert.equal(starts.length, period === 'day' ? 24 : period === 'week' ? 7 : 30);
          // Every bucket starts on the zone's hour or at its midnight.
          const wall = new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
          for (const start of starts) {
            assert.match(wall.format(new Date(start)), unit === 'hour' ? /^\d\d:00$/ : /^00:00$/, `${timeZone} ${period} ${start}`);
          }
          const { rows } = await sql<{ bucket: string; currency: string; amount: number; count: number; failed: number; refunded: number }>`
            select to_char(date_trunc(${unit}, t.created_at, ${timeZone}) at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') as bucket, s.currency,
                   coalesce(sum(t.amount) filter (where t.status = 'succeeded'), 0)::bigint as amount,
                   count(*) filter (where t.status = 'succeeded')::int as count,
                   count(*) filter (where t.status = 'failed')::int as failed,
                   coalesce(sum(t.amount) filter (where t.status = 'refunded'), 0)::bigint as refunded
              from transactions t join schools s on s.id = t.school_id
             where t.status <> 'pending' and ${where(body.from, body.to, schools)}
             group by 1, 2 order by 1, 2`.execute(t.db);
          const nonZero = body.points.filter((point) => point.amount || point.count || point.failed || point.refunded);
          assert.deepEqual(nonZero, rows, `${timeZone} ${period}`);
        }
      }
    }
    // Kolkata is UTC+5:30: its hours start at half past the UTC hour.
    const kolkata = await json<TrendsReport>('trends', { period: 'day', timeZone: 'Asia/Kolkata' }, tokens.super);
    assert.ok(kolkata.points.every((point) => point.bucket.slice(14, 16) === '30'));
    // Zone names are matched as Intl and PostgreSQL do, and answered in their canonical spelling.
    assert.equal((await json<MetricsReport>('metrics', { timeZone: 'america/bogota' }, tokens.super)).timeZone, 'America/Bogota');
  });

  test('a time zone that is not an IANA zone name is a 400 naming timeZone', async () => {
    for (const path of ['metrics', 'trends']) {
      for (const timeZone of ['Mars/Olympus_Mons', '+05:00', 'UTC+5', "UTC'; select 1", '', 'x'.repeat(65)]) {
        const response = await get(path, { timeZone });
        assert.equal(response.statusCode, 400, `${path} ${timeZone}: ${response.body}`);
        assert.ok(problemOf(response).errors?.some((error) => error.field === 'timeZone'), `${path} ${timeZone}: ${response.body}`);
      }
    }
  });

  test('scope and input: 404 for a school not visible, developer 403, bad period 400', async () => {
    for (const path of ['metrics', 'trends', 'methods']) {
      const other = await get(path, { schoolId: f.schoolB }, tokens.admin);
      assert.equal(other.statusCode, 404, path);
      assert.equal(problemOf(other).code, 'NOT_FOUND');
      assert.equal((await get(path, { schoolId: '00000000-0000-7000-8000-000000000000' })).statusCode, 404);
      const developer = await get(path, {}, tokens.developer);
      assert.equal(developer.statusCode, 403);
      assert.equal((await get(path, {}, null)).statusCode, 401);
      const bad = await get(path, { period: 'year' });
      assert.equal(bad.statusCode, 400);
      assert.ok(problemOf(bad).errors?.some((error) => error.field === 'period'));
    }
  });
});
