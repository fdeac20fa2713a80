import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { rangeSide } from '../../src/modules/reporting/dashboard.repository.js';
import type { Dashboard } from '../../src/modules/reporting/dashboard.schemas.js';
import { refreshRollups } from '../../src/modules/reporting/rollups.js';
import { bearer, createTestApp, insertUser, login, problemOf, type TestApp } from '../helpers/app.js';
import { seedBillingFixture, type BillingFixture } from '../helpers/billing.js';

/**
 * GET /api/v1/reports/dashboard against the fixture of test/helpers/billing.ts (school A
 * in MXN, school B in USD). Numbers are checked against values worked out by hand from
 * the fixture's docblock and against independent SQL over the raw tables (invoices,
 * payments, refunds — never the rollups), for each filter and across roles.
 */

type Query = Record<string, string | undefined>;
interface Amounts {
  amountDue: number;
  amountCollected: number;
  amountOutstanding: number;
  amountOverdue: number;
}

const DAY_MS = 86_400_000;
const utcDay = (offsetDays: number) => new Date(Date.now() + offsetDays * DAY_MS).toISOString().slice(0, 10);

function urlOf(query: Query = {}): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined) {
      params.set(key, value);
    }
  }
  const text = params.toString();
  return `/api/v1/reports/dashboard${text ? `?${text}` : ''}`;
}

/** The dashboard's numbers recomputed from the raw tables, keyed by a grouping column. */
async function expected(t: TestApp, group: 'currency' | 'school' | 'grade', query: Query, schoolIds?: string[]): Promise<Map<string, Amounts>> {
  const key = group === 'currency' ? sql`sc.currency` : group === 'school' ? sql`sc.id::text` : sql`st.grade || '/' || sc.currency`;
  const schoolFilter = schoolIds ? sql`and sc.id in (${sql.join(schoolIds)})` : sql``;
  const grade = query.grade === undefined ? sql`` : sql`and st.grade = ${query.grade}`;
  const dueRange = sql`${query.from === undefined ? sql`` : sql`and i.due_date >= ${query.from}::date`} ${query.to === undefined ? sql`` : sql`and i.due_date <= ${query.to}::date`}`;
  const local = (column: ReturnType<typeof sql>) => sql`(${column} at time zone sc.timezone)::date`;
  const dayRange = (column: ReturnType<typeof sql>) =>
    sql`${query.from === undefined ? sql`` : sql`and ${local(column)} >= ${query.from}::date`} ${query.to === undefined ? sql`` : sql`and ${local(column)} <= ${query.to}::date`}`;
  const method = query.method === undefined ? sql`` : sql`and p.method = ${query.method}`;
  const result = await sql<{ key: string; due: number; outstanding: number; overdue: number; collected: number }>`
    select k.key,
           coalesce(inv.due, 0)::bigint as due, coalesce(inv.outstanding, 0)::bigint as outstanding, coalesce(inv.overdue, 0)::bigint as overdue,
           (coalesce(pay.total, 0) - coalesce(ref.total, 0))::bigint as collected
      from (select distinct ${key} as key from schools sc left join students st on st.school_id = sc.id where true ${schoolFilter}) k
      left join (select ${key} as key, sum(i.amount) as due, sum(i.amount - i.paid_amount) as outstanding,
                        sum(i.amount - i.paid_amount) filter (where i.due_date < (now() at time zone sc.timezone)::date) as overdue
                   from invoices i join students st on st.id = i.student_id join schools sc on sc.id = i.school_id
                  where i.cancelled_at is null ${schoolFilter} ${grade} ${dueRange}
                  group by 1) inv on inv.key = k.key
      left join (select ${key} as key, sum(p.amount) as total
                   from payments p join invoices i on i.id = p.invoice_id join students st on st.id = i.student_id join schools sc on sc.id = p.school_id
                  where true ${schoolFilter} ${grade} ${method} ${dayRange(sql`p.paid_at`)}
                  group by 1) pay on pay.key = k.key
      left join (select ${key} as key, sum(r.amount) as total
                   from refunds r join payments p on p.id = r.payment_id join invoices i on i.id = r.invoice_id
                   join students st on st.id = i.student_id join schools sc on sc.id = r.school_id
                  where true ${schoolFilter} ${grade} ${method} ${dayRange(sql`r.created_at`)}
                  group by 1) ref on ref.key = k.key`.execute(t.db);
  return new Map(
    result.rows
      .filter((row) => row.key !== null)
      .map((row) => [row.key, { amountDue: row.due, amountCollected: row.collected, amountOutstanding: row.outstanding, amountOverdue: row.overdue }]),
  );
}

const amountsOf = (row: Amounts): Amounts => ({
  amountDue: row.amountDue,
  amountCollected: row.amountCollected,
  amountOutstanding: row.amountOutstanding,
  amountOverdue: row.amountOverdue,
});

describe('reports: dashboard', () => {
  let t: TestApp;
  let fx: BillingFixture;
  const tokens: Record<string, string> = {};

  const get = async (role: string, query: Query = {}) => {
    const response = await t.app.inject({ method: 'GET', url: urlOf(query), headers: bearer(tokens[role] ?? '') });
    assert.equal(response.statusCode, 200, response.body);
    return response.json<Dashboard>();
  };

  /** Every number of the response against the independent SQL, for the given query. */
  async function assertMatchesRawTables(body: Dashboard, query: Query, schoolIds?: string[]) {
    const byCurrency = await expected(t, 'currency', query, schoolIds);
    assert.deepEqual(
      body.totalsByCurrency.map((row) => [row.currency, amountsOf(row)]),
      [...byCurrency].sort(([a], [b]) => a.localeCompare(b)),
      'totalsByCurrency',
    );
    const bySchool = await expected(t, 'school', query, schoolIds);
    assert.deepEqual(new Map(body.bySchool.map((row) => [row.schoolId, amountsOf(row)])), bySchool, 'bySchool');
    const byGrade = await expected(t, 'grade', query, schoolIds);
    const nonZero = [...byGrade].filter(([, a]) => a.amountDue !== 0 || a.amountCollected !== 0 || a.amountOutstanding !== 0);
    for (const row of body.byGrade) {
      assert.deepEqual(amountsOf(row), byGrade.get(`${row.grade}/${row.currency}`), `byGrade ${row.grade}/${row.currency}`);
    }
    for (const [key] of nonZero) {
      assert.ok(body.byGrade.some((row) => `${row.grade}/${row.currency}` === key), `byGrade lists ${key}`);
    }
    const currencyTotals = body.totalsByCurrency;
    assert.deepEqual(
      body.totals,
      currencyTotals.length === 1 ? currencyTotals[0] : { currency: null, amountDue: null, amountCollected: null, amountOutstanding: null, amountOverdue: null },
      'totals is filled exactly when there is one currency',
    );
  }

  before(async () => {
    t = await createTestApp();
    fx = await seedBillingFixture(t.db);
    await insertUser(t.db, { username: 'root', role: 'super_admin' });
    await insertUser(t.db, { username: 'admin-a', role: 'school_admin', schoolIds: [fx.schoolA] });
    await insertUser(t.db, { username: 'analyst', role: 'finance_analyst' });
    await insertUser(t.db, { username: 'dev', role: 'developer' });
    for (const name of ['root', 'admin-a', 'analyst', 'dev']) {
      tokens[name] = (await login(t.app, name)).accessToken;
    }
  });
  after(() => t.close());

  test('all schools: per-currency totals by hand and by SQL; totals null across two currencies', async () => {
    const body = await get('root');
    assert.deepEqual(body.totalsByCurrency, [
      // A: live invoices 10 000 + 5 000 + 8 000 + 9 000; paid 10 000 + 2 000 + 6 000; overdue 3 000;
      // collected 6 000 + 4 000 + 2 000 + 9 000 − 3 000
      { currency: 'MXN', amountDue: 32_000, amountCollected: 18_000, amountOutstanding: 14_000, amountOverdue: 3_000 },
      // B: 20 000 overdue unpaid, 15 000 paid
      { currency: 'USD', amountDue: 35_000, amountCollected: 15_000, amountOutstanding: 20_000, amountOverdue: 20_000 },
    ]);
    assert.deepEqual(body.totals, { currency: null, amountDue: null, amountCollected: null, amountOutstanding: null, amountOverdue: null });
    assert.deepEqual(body.bySchool.map((row) => [row.schoolName, row.currency, row.amountOutstanding]), [
      ['Beta Academy', 'USD', 20_000],
      ['Colegio Alfa', 'MXN', 14_000],
    ]);
    assert.equal(body.bySchoolTruncated, false);
    assert.deepEqual(body.byPaymentMethod, [
      { method: 'bank_transfer', currency: 'MXN', amount: 6_000, count: 1 },
      { method: 'bank_transfer', currency: 'USD', amount: 15_000, count: 1 },
      { method: 'card', currency: 'MXN', amount: 8_000, count: 2 },
      { method: 'cash', currency: 'MXN', amount: 4_000, count: 1 },
    ]);
    assert.deepEqual(
      body.byGrade.map((row) => [row.grade, row.currency, row.amountDue, row.amountCollected]),
      [
        ['3', 'MXN', 15_000, 12_000],
        ['3', 'USD', 20_000, 0],
        ['5', 'MXN', 17_000, 6_000],
        ['7', 'USD', 15_000, 15_000],
      ],
    );
    assert.ok(!Number.isNaN(Date.parse(body.generatedAt)));
    await assertMatchesRawTables(body, {});
  });

  test('outstanding sample: oldest due first, only bills that owe money, names in clear for super_admin', async () => {
    const body = await get('root');
    const [first, second] = [fx.invoices.overdueA, fx.invoices.overdueB].sort();
    assert.deepEqual(
      body.outstandingSample.map((row) => row.invoiceId),
      [first, second, fx.invoices.pendingA, fx.invoices.partialA],
    );
    const overdueA = body.outstandingSample.find((row) => row.invoiceId === fx.invoices.overdueA);
    assert.deepEqual(overdueA && { ...overdueA }, {
      invoiceId: fx.invoices.overdueA,
      number: overdueA?.number,
      schoolId: fx.schoolA,
      schoolName: 'Colegio Alfa',
      studentId: fx.students.anaA,
      studentName: 'Ana Alvarez',
      grade: '3',
      dueDate: fx.past,
      amount: 5_000,
      pendingAmount: 3_000,
      currency: 'MXN',
      status: 'OVERDUE',
    });
    assert.deepEqual(body.outstandingSample.map((row) => row.status), ['OVERDUE', 'OVERDUE', 'PENDING', 'PARTIAL']);
  });

  test('filter schoolId: one school, one currency, totals filled', async () => {
    const body = await get('root', { schoolId: fx.schoolA });
    assert.deepEqual(body.totals, { currency: 'MXN', amountDue: 32_000, amountCollected: 18_000, amountOutstanding: 14_000, amountOverdue: 3_000 });
    assert.deepEqual(body.bySchool.map((row) => row.schoolId), [fx.schoolA]);
    assert.ok(body.outstandingSample.every((row) => row.schoolId === fx.schoolA));
    await assertMatchesRawTables(body, {}, [fx.schoolA]);
  });

  test('filter grade: only that grade’s invoices and money', async () => {
    const body = await get('root', { grade: '3' });
    assert.deepEqual(body.totalsByCurrency.map((row) => [row.currency, row.amountDue, row.amountCollected]), [
      ['MXN', 15_000, 12_000],
      ['USD', 20_000, 0],
    ]);
    assert.ok(body.outstandingSample.every((row) => row.grade === '3'));
    assert.deepEqual(body.byGrade.map((row) => row.grade), ['3', '3']);
    await assertMatchesRawTables(body, { grade: '3' });
  });

  test('filter method: collected only that method; due figures unchanged', async () => {
    const body = await get('root', { method: 'card' });
    assert.deepEqual(body.totalsByCurrency.map((row) => [row.currency, row.amountDue, row.amountCollected]), [
      ['MXN', 32_000, 8_000],
      ['USD', 35_000, 0],
    ]);
    assert.deepEqual(body.byPaymentMethod.map((row) => row.method), ['card']);
    await assertMatchesRawTables(body, { method: 'card' });
  });

  test('filter from/to: due dates and school-local payment days in range', async () => {
    const query = { from: utcDay(-20), to: utcDay(60) };
    const body = await get('root', query);
    // A: only the two future invoices; money: 2 000 (10 days ago) + 9 000 (5 days ago) − 3 000 refund (now)
    assert.deepEqual(body.totalsByCurrency.map((row) => [row.currency, row.amountDue, row.amountCollected, row.amountOverdue]), [
      ['MXN', 17_000, 8_000, 0],
      ['USD', 0, 0, 0],
    ]);
    assert.deepEqual(body.outstandingSample.map((row) => row.invoiceId), [fx.invoices.pendingA, fx.invoices.partialA]);
    await assertMatchesRawTables(body, query);
    const past = { from: utcDay(-50), to: utcDay(-30) };
    await assertMatchesRawTables(await get('root', past), past);
    const combined = { schoolId: fx.schoolA, grade: '5', method: 'bank_transfer', from: utcDay(-30), to: utcDay(0) };
    await assertMatchesRawTables(await get('root', combined), combined, [fx.schoolA]);
  });

  test('a range is summed inside it or as totals minus outside it, with the same exact result', async () => {
    const ranges: Query[] = [
      { from: utcDay(-400) },
      { to: utcDay(400) },
      { from: utcDay(-400), to: utcDay(400) },
      { from: utcDay(-1) },
      { to: utcDay(-45) },
      { from: utcDay(-45), to: utcDay(5) },
      { from: utcDay(-400), to: utcDay(-1), grade: '5' },
      { from: utcDay(-400), to: utcDay(400), method: 'card' },
    ];
    const sides = new Set<string>();
    for (const query of ranges) {
      for (const [table, column] of [['invoice_rollups', 'due_date'], ['payment_rollups', 'paid_on']] as const) {
        sides.add(`${table}:${await rangeSide(t.db, table, column, query)}`);
      }
      await assertMatchesRawTables(await get('root', query), query);
    }
    for (const side of ['invoice_rollups:inside', 'invoice_rollups:outside', 'payment_rollups:inside', 'payment_rollups:outside']) {
      assert.ok(sides.has(side), `${side} was exercised (${[...sides].join(', ')})`);
    }
  });

  test('the aggregates are read from the rollup tables', async () => {
    await sql`update invoice_rollups set amount_due = amount_due + 1 where school_id = ${fx.schoolB}`.execute(t.db);
    try {
      const body = await get('root', { schoolId: fx.schoolB });
      assert.ok((body.totals.amountDue ?? 0) > 35_000);
    } finally {
      await refreshRollups(t.db);
    }
    assert.equal((await get('root', { schoolId: fx.schoolB })).totals.amountDue, 35_000);
  });

  test('school_admin sees only their schools; another school is a 404', async () => {
    const body = await get('admin-a');
    assert.deepEqual(body.bySchool.map((row) => row.schoolId), [fx.schoolA]);
    assert.equal(body.totals.currency, 'MXN');
    assert.equal(body.totals.amountDue, 32_000);
    assert.ok(body.outstandingSample.length > 0 && body.outstandingSample.every((row) => row.schoolId === fx.schoolA));
    await assertMatchesRawTables(body, {}, [fx.schoolA]);
    const response = await t.app.inject({ method: 'GET', url: urlOf({ schoolId: fx.schoolB }), headers: bearer(tokens['admin-a'] ?? '') });
    assert.equal(response.statusCode, 404);
    assert.equal(problemOf(response).code, 'NOT_FOUND');
  });

  test('finance_analyst sees every school with student names masked', async () => {
    const body = await get('analyst');
    assert.equal(body.bySchool.length, 2);
    const names = body.outstandingSample.map((row) => row.studentName);
    assert.ok(names.includes('A. A.') && names.includes('C. C.'), names.join(', '));
    assert.ok(names.every((name) => /^[A-Z]\. [A-Z]\.$/.test(name)), names.join(', '));
    assert.ok(!JSON.stringify(body).includes('Alvarez'));
  });

  test('developer 403, anonymous 401', async () => {
    const dev = await t.app.inject({ method: 'GET', url: urlOf(), headers: bearer(tokens.dev ?? '') });
    assert.equal(dev.statusCode, 403);
    assert.equal(problemOf(dev).code, 'FORBIDDEN');
    const anonymous = await t.app.inject({ method: 'GET', url: urlOf() });
    assert.equal(anonymous.statusCode, 401);
    assert.equal(problemOf(anonymous).code, 'UNAUTHENTICATED');
  });

  test('bad input is a 400 problem naming the field', async () => {
    const cases: [Query, string][] = [
      [{ from: '2026-13-45' }, 'from'],
      [{ to: 'yesterday' }, 'to'],
      [{ from: '2026-05-02', to: '2026-05-01' }, 'from'],
      [{ method: 'bitcoin' }, 'method'],
      [{ schoolId: 'not-a-uuid' }, 'schoolId'],
      [{ grade: '' }, 'grade'],
      [{ schoolID: fx.schoolA }, 'schoolID'],
    ];
    for (const [query, field] of cases) {
      const response = await t.app.inject({ method: 'GET', url: urlOf(query), headers: bearer(tokens.root ?? '') });
      assert.equal(response.statusCode, 400, `${JSON.stringify(query)}: ${response.body}`);
      const problem = problemOf(response);
      assert.equal(problem.code, 'VALIDATION_FAILED');
      assert.ok(problem.errors?.some((error) => error.field === field), `${JSON.stringify(query)} names ${field}: ${response.body}`);
    }
  });
});
