import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import fc from 'fast-check';
import type { PaymentMethod } from '../../src/db/types.js';
import type { FailuresReport } from '../../src/modules/reporting/failures.schemas.js';
import { scrubFailureMessage } from '../../src/modules/reporting/failures.service.js';
import { windowBoundaries } from '../../src/modules/reporting/failures.repository.js';
import { bearer, createTestApp, insertUser, login, problemOf, type TestApp } from '../helpers/app.js';
import { seedBillingFixture, type BillingFixture } from '../helpers/billing.js';

/**
 * The failed-transactions monitoring feed against failures inserted at known times
 * (minutes to days ago). Every number is checked against an independent SQL aggregate
 * over the raw table for the window the response reports; PII is checked by looking
 * for every name, e-mail and reference this file inserted in the raw JSON.
 */

const URL_FAILURES = '/api/v1/reports/transactions/failures';
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
  return text ? `${URL_FAILURES}?${text}` : URL_FAILURES;
}

interface Failure {
  schoolId: string;
  hoursAgo: number;
  method: PaymentMethod;
  gateway: string;
  code: string;
  amount: number;
  message?: string;
}

describe('transaction failures feed', () => {
  let t: TestApp;
  let f: BillingFixture;
  const tokens = { super: '', developer: '', analyst: '', admin: '' };
  const PII = ['Ana', 'Alvarez', 'Carla', 'Cruz', 'ana.alvarez@families.example', 'carla.cruz@families.example', 'REF-', '4111111111111111'];

  before(async () => {
    t = await createTestApp();
    f = await seedBillingFixture(t.db);
    const failures: Failure[] = [
      { schoolId: f.schoolA, hoursAgo: 0.2, method: 'card', gateway: 'stripe', code: 'card_declined', amount: 1_000, message: 'declined for ana.alvarez@families.example card 4111111111111111' },
      { schoolId: f.schoolA, hoursAgo: 0.5, method: 'card', gateway: 'stripe', code: 'card_declined', amount: 2_000 },
      { schoolId: f.schoolA, hoursAgo: 3.5, method: 'card', gateway: 'stripe', code: 'insufficient_funds', amount: 3_000 },
      { schoolId: f.schoolB, hoursAgo: 3.6, method: 'bank_transfer', gateway: 'spei', code: 'account_closed', amount: 4_000 },
      { schoolId: f.schoolB, hoursAgo: 10, method: 'card', gateway: 'stripe', code: 'card_declined', amount: 5_000 },
      { schoolId: f.schoolB, hoursAgo: 23.5, method: 'wallet', gateway: 'mercadopago', code: 'timeout', amount: 6_000 },
      { schoolId: f.schoolA, hoursAgo: 30, method: 'card', gateway: 'stripe', code: 'card_declined', amount: 7_000 },
      { schoolId: f.schoolB, hoursAgo: 100, method: 'card', gateway: 'stripe', code: 'expired_card', amount: 8_000 },
      { schoolId: f.schoolA, hoursAgo: 700, method: 'cash_voucher', gateway: 'oxxo', code: 'voucher_expired', amount: 9_000 },
      { schoolId: f.schoolA, hoursAgo: 800, method: 'card', gateway: 'stripe', code: 'card_declined', amount: 10_000 },
    ];
    const now = Date.now();
    for (const failure of failures) {
      await t.db
        .insertInto('transactions')
        .values({
          school_id: failure.schoolId,
          invoice_id: failure.schoolId === f.schoolA ? f.invoices.overdueA : f.invoices.overdueB,
          amount: failure.amount,
          method: failure.method,
          status: 'failed',
          gateway: failure.gateway,
          failure_code: failure.code,
          failure_message: failure.message ?? `gateway said ${failure.code}`,
          created_at: new Date(now - failure.hoursAgo * HOUR),
        })
        .execute();
    }
    // Not failures: a succeeded and a pending attempt in the window never count.
    await t.db
      .insertInto('transactions')
      .values({ school_id: f.schoolA, amount: 1, method: 'card', status: 'pending', gateway: 'stripe', created_at: new Date(now - HOUR) })
      .execute();

    await insertUser(t.db, { username: 'mon.super', role: 'super_admin' });
    await insertUser(t.db, { username: 'mon.developer', role: 'developer' });
    await insertUser(t.db, { username: 'mon.analyst', role: 'finance_analyst' });
    await insertUser(t.db, { username: 'mon.admin', role: 'school_admin', schoolIds: [f.schoolA] });
    tokens.super = (await login(t.app, 'mon.super')).accessToken;
    tokens.developer = (await login(t.app, 'mon.developer')).accessToken;
    tokens.analyst = (await login(t.app, 'mon.analyst')).accessToken;
    tokens.admin = (await login(t.app, 'mon.admin')).accessToken;
  });
  after(() => t.close());

  const get = (query: Query = {}, token: string | null = tokens.developer, more = '') =>
    t.app.inject({ method: 'GET', url: `${urlOf(query)}${more}`, headers: token === null ? {} : bearer(token) });

  async function report(query: Query = {}, token: string = tokens.developer): Promise<FailuresReport> {
    const response = await get(query, token);
    assert.equal(response.statusCode, 200, response.body);
    return response.json<FailuresReport>();
  }

  /** Independent aggregates over the raw table for the window the response reports. */
  async function independent(body: FailuresReport, filter: { schoolId?: string; method?: string; gateway?: string; failureCode?: string } = {}) {
    const where = sql`
      status = 'failed' and created_at >= ${body.window.from}::timestamptz and created_at <= ${body.window.to}::timestamptz
      and (${filter.schoolId ?? null}::uuid is null or school_id = ${filter.schoolId ?? null}::uuid)
      and (${filter.method ?? null}::text is null or method = ${filter.method ?? null})
      and (${filter.gateway ?? null}::text is null or gateway = any(string_to_array(${filter.gateway ?? null}, ',')))
      and (${filter.failureCode ?? null}::text is null or failure_code = any(string_to_array(${filter.failureCode ?? null}, ',')))`;
    const unit = body.window.lastHours > 72 ? 'day' : 'hour';
    const [codes, gateways, buckets, recent] = await Promise.all([
      sql<{ failureCode: string; count: number; amount: number }>`
        select failure_code as "failureCode", count(*)::int as count, sum(amount)::bigint as amount
        from transactions where ${where} group by failure_code`.execute(t.db),
      sql<{ gateway: string; count: number }>`select gateway, count(*)::int as count from transactions where ${where} group by gateway`.execute(t.db),
      sql<{ bucket: string; count: number }>`
        select to_char(date_trunc(${unit}, created_at at time zone 'UTC'), 'YYYY-MM-DD"T"HH24:MI:SS"Z"') as bucket, count(*)::int as count
        from transactions where ${where} group by 1`.execute(t.db),
      sql<{ id: string }>`select id from transactions where ${where} order by created_at desc, id desc limit 50`.execute(t.db),
    ]);
    return { codes: codes.rows, gateways: gateways.rows, buckets: buckets.rows, recent: recent.rows.map((row) => row.id) };
  }

  const byName = <T>(key: (row: T) => string) => (a: T, b: T) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0);

  async function checkAgainstSql(query: Query, filter: Parameters<typeof independent>[1] = {}) {
    const body = await report(query);
    const want = await independent(body, filter);
    assert.equal(body.total, want.codes.reduce((sum, row) => sum + row.count, 0));
    assert.deepEqual(
      body.byCode.map(({ failureCode, count, amount }) => ({ failureCode, count, amount })).sort(byName((row) => row.failureCode)),
      want.codes.sort(byName((row) => row.failureCode)),
    );
    assert.deepEqual([...body.byGateway].sort(byName((row) => row.gateway)), want.gateways.sort(byName((row) => row.gateway)));
    const nonEmpty = body.series.filter((bucket) => bucket.count > 0);
    assert.deepEqual(nonEmpty, want.buckets.sort(byName((row) => row.bucket)));
    assert.deepEqual(body.recent.map((row) => row.id), want.recent);
    return body;
  }

  test('default window (24 h): counts by code and gateway, hourly series and recent equal independent SQL', async () => {
    const body = await checkAgainstSql({});
    assert.equal(body.window.lastHours, 24);
    assert.equal(Date.parse(body.window.to) - Date.parse(body.window.from), 24 * HOUR);
    // By hand: the six failures of the last 24 h.
    assert.equal(body.total, 6);
    assert.deepEqual(body.byCode[0], {
      failureCode: 'card_declined',
      count: 3,
      amount: 8_000,
      amountByCurrency: [
        { currency: 'MXN', amount: 3_000 },
        { currency: 'USD', amount: 5_000 },
      ],
    });
    assert.deepEqual(body.byGateway[0], { gateway: 'stripe', count: 4 });
    // Every hour of the window, oldest first, each the start of a UTC hour.
    assert.ok(body.series.length === 24 || body.series.length === 25, String(body.series.length));
    for (const [i, bucket] of body.series.entries()) {
      assert.match(bucket.bucket, /^\d{4}-\d{2}-\d{2}T\d{2}:00:00Z$/);
      if (i > 0) {
        assert.equal(Date.parse(bucket.bucket) - Date.parse(body.series[i - 1]?.bucket ?? ''), HOUR);
      }
    }
    assert.equal(body.series.reduce((sum, bucket) => sum + bucket.count, 0), body.total);
    const [latest] = body.recent;
    assert.equal(latest?.failureCode, 'card_declined');
    assert.equal(latest.amount, 1_000);
    assert.equal(latest.currency, 'MXN');
    assert.equal(latest.schoolName, 'Colegio Alfa');
  });

  test('windows of 1, 72, 73 and 720 hours (daily buckets beyond 72)', async () => {
    const one = await checkAgainstSql({ lastHours: 1 });
    assert.equal(one.total, 2);
    const three = await checkAgainstSql({ lastHours: 72 });
    assert.equal(three.total, 7);
    assert.ok(three.series.every((bucket) => /T\d{2}:00:00Z$/.test(bucket.bucket)));
    const daily = await checkAgainstSql({ lastHours: 73 });
    assert.ok(daily.series.every((bucket) => bucket.bucket.endsWith('T00:00:00Z')));
    assert.ok(daily.series.length === 4 || daily.series.length === 5);
    const month = await checkAgainstSql({ lastHours: 720 });
    assert.equal(month.total, 9);
    assert.ok(month.series.length === 30 || month.series.length === 31, String(month.series.length));
    assert.equal(month.series.reduce((sum, bucket) => sum + bucket.count, 0), 9);
  });

  test('filters: school, method, gateway, failureCode (alone and together)', async () => {
    const cases: Parameters<typeof independent>[1][] = [
      { schoolId: f.schoolA },
      { schoolId: f.schoolB },
      { method: 'card' },
      { method: 'bank_transfer' },
      { gateway: 'stripe' },
      { gateway: 'no-such-gateway' },
      { failureCode: 'card_declined' },
      { schoolId: f.schoolB, method: 'card', gateway: 'stripe', failureCode: 'card_declined' },
      // Several values, comma-separated: any of them.
      { gateway: 'stripe,spei' },
      { gateway: 'oxxo,mercadopago,no-such-gateway' },
      { failureCode: 'card_declined,timeout' },
      { schoolId: f.schoolA, failureCode: 'card_declined,voucher_expired', gateway: 'stripe,oxxo' },
    ];
    for (const filter of cases) {
      const body = await checkAgainstSql({ lastHours: 720, ...filter }, filter);
      if (filter?.schoolId !== undefined) {
        assert.ok(body.recent.every((row) => row.schoolId === filter.schoolId));
      }
    }
    const stripe = await report({ lastHours: 720, gateway: 'stripe' });
    assert.equal(stripe.total, 6);
    // The parameter repeated is the same filter as the values comma-separated.
    const repeated = await get({ lastHours: 720 }, tokens.developer, '&gateway=stripe&gateway=oxxo&failureCode=card_declined&failureCode=voucher_expired');
    assert.equal(repeated.statusCode, 200, repeated.body);
    const commas = await report({ lastHours: 720, gateway: 'stripe,oxxo', failureCode: 'card_declined,voucher_expired' });
    assert.ok(commas.total > 0);
    assert.deepEqual({ ...repeated.json<FailuresReport>(), window: null }, { ...commas, window: null });
    const combined = await report({ lastHours: 720, schoolId: f.schoolB, method: 'card', failureCode: 'card_declined' });
    assert.equal(combined.total, 1);
    const none = await report({ gateway: 'no-such-gateway' });
    assert.deepEqual([none.total, none.byCode, none.byGateway, none.recent], [0, [], [], []]);
    assert.ok(none.series.every((bucket) => bucket.count === 0));
  });

  test('lastHours bounds and other bad input are 400s naming the field', async () => {
    const cases: [Query, string][] = [
      [{ lastHours: 0 }, 'lastHours'],
      [{ lastHours: 721 }, 'lastHours'],
      [{ lastHours: 1.5 }, 'lastHours'],
      [{ lastHours: 'day' }, 'lastHours'],
      [{ method: 'cheque' }, 'method'],
      [{ schoolId: 'nope' }, 'schoolId'],
      [{ gateway: 'g'.repeat(65) }, 'gateway'],
      [{ failureCode: '' }, 'failureCode'],
      [{ gateway: 'stripe,,spei' }, 'gateway'],
      [{ failureCode: `ok,${'c'.repeat(65)}` }, 'failureCode'],
      [{ gateway: Array.from({ length: 21 }, (_, i) => `g${i}`).join(',') }, 'gateway'],
      [{ since: 3 }, 'since'],
    ];
    for (const [query, field] of cases) {
      const response = await get(query);
      assert.equal(response.statusCode, 400, `${JSON.stringify(query)} → ${response.body}`);
      assert.ok(problemOf(response).errors?.some((error) => error.field === field), `${JSON.stringify(query)}: ${response.body}`);
    }
    const unknownSchool = await get({ schoolId: '00000000-0000-7000-8000-000000000000' });
    assert.equal(unknownSchool.statusCode, 404);
  });

  test('no PII anywhere in the response', async () => {
    for (const token of [tokens.developer, tokens.super]) {
      const response = await get({ lastHours: 720 }, token);
      assert.equal(response.statusCode, 200);
      for (const pii of PII) {
        assert.ok(!response.body.includes(pii), `the body contains ${pii}`);
      }
      const body = response.json<FailuresReport>();
      const keys = new Set(body.recent.flatMap((row) => Object.keys(row)));
      for (const field of ['studentName', 'studentId', 'email', 'reference', 'invoiceId', 'paymentId']) {
        assert.ok(!keys.has(field), field);
      }
      // The message that quoted an e-mail and a card number is still there, scrubbed.
      const scrubbed = body.recent.find((row) => row.failureMessage?.startsWith('declined for'));
      assert.equal(scrubbed?.failureMessage, 'declined for a***@f***.example card ***1111');
    }
    assert.equal(scrubFailureMessage(null), null);
    assert.equal(scrubFailureMessage('call 55 1234 5678 now'), 'call ***5678 now');
    assert.equal(scrubFailureMessage('code 12345'), 'code 12345');
  });

  test('roles: developer and super_admin 200; finance_analyst and school_admin 403; anonymous 401', async () => {
    assert.equal((await get({}, tokens.developer)).statusCode, 200);
    assert.equal((await get({}, tokens.super)).statusCode, 200);
    for (const token of [tokens.analyst, tokens.admin]) {
      const response = await get({}, token);
      assert.equal(response.statusCode, 403);
      assert.equal(problemOf(response).code, 'FORBIDDEN');
    }
    const anonymous = await get({}, null);
    assert.equal(anonymous.statusCode, 401);
    assert.equal(problemOf(anonymous).code, 'UNAUTHENTICATED');
  });

  test("a window's whole hours and days are PostgreSQL's date_trunc in UTC, at any millisecond (hours and days edges included)", async () => {
    // Around hour and day boundaries as often as anywhere: an instant on an edge, a millisecond either side, or anywhere.
    const instant = fc.tuple(fc.integer({ min: 1_700_000_000, max: 1_800_000_000 }), fc.constantFrom(0, 1, -1, 'any' as const), fc.integer({ min: 0, max: HOUR - 1 })).map(([seconds, nudge, within]) => {
      const base = Math.floor((seconds * 1000) / HOUR) * HOUR;
      return new Date(nudge === 'any' ? base + within : base + nudge);
    });
    await fc.assert(
      fc.asyncProperty(instant, fc.integer({ min: 1, max: 720 * HOUR }), async (from, span) => {
        const to = new Date(from.getTime() + span);
        const { rows } = await sql<{ whole: Date; current: Date; firstDay: Date; lastDay: Date }>`
          select w.whole, w.current, date_trunc('day', w.whole + interval '1 day' - interval '1 microsecond', 'UTC') as "firstDay",
                 date_trunc('day', w.current, 'UTC') as "lastDay"
            from (select date_trunc('hour', ${from}::timestamptz + interval '1 hour' - interval '1 microsecond', 'UTC') as whole,
                         date_trunc('hour', ${to}::timestamptz, 'UTC') as current) w`.execute(t.db);
        assert.deepEqual(windowBoundaries(from, to), rows[0]);
      }),
      { numRuns: 200 },
    );
  });
});
