import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { createDashboardRepository, platformPeriods, type DashboardFilter } from '../../src/modules/reporting/dashboard.repository.js';
import type { Dashboard } from '../../src/modules/reporting/dashboard.schemas.js';
import { foldRollupDeltas, formatReport, refreshRollups, verifyRollups } from '../../src/modules/reporting/rollups.js';
import { SYSTEM_SCOPE } from '../../src/shared/scope.js';
import { bearer, createTestApp, insertUser, login, problemOf, type TestApp } from '../helpers/app.js';
import { seedBillingFixture, type BillingFixture } from '../helpers/billing.js';

/**
 * The dashboard over every school from the platform tier (migration 0033): the same
 * figures as the per-school tiers summed, whether the writers' deltas are folded or not;
 * a school's deletion, time zone or currency moving its whole contribution; `npm run
 * verify` seeing a corrupted row; bySchool as keyset pages; and a range's page of schools
 * read from each school's month and day sums (migration 0034).
 */

const DAY_MS = 86_400_000;
const utcDay = (offsetDays: number) => new Date(Date.now() + offsetDays * DAY_MS).toISOString().slice(0, 10);
const monthStart = (offsetDays: number) => `${utcDay(offsetDays).slice(0, 7)}-01`;

const QUERIES: DashboardFilter[] = [
  {},
  { grade: '3' },
  { method: 'card' },
  { from: utcDay(-45), to: utcDay(45) },
  { from: monthStart(-40), to: utcDay(40) },
  { from: utcDay(-40), to: utcDay(-40) },
  { from: utcDay(-1) },
  { to: utcDay(-2) },
  { from: utcDay(-400), to: utcDay(400), grade: '5', method: 'cash' },
];

const sorted = <T>(rows: T[]) => rows.map((row) => JSON.stringify(row)).sort();

describe('dashboard over every school: the platform tier', () => {
  let t: TestApp;
  let fx: BillingFixture;
  const repo = createDashboardRepository();
  const tokens: Record<string, string> = {};

  const get = async (user: string, query: Record<string, string | number> = {}) =>
    t.app.inject({ method: 'GET', url: `/api/v1/reports/dashboard?${new URLSearchParams(Object.entries(query).map(([k, v]): [string, string] => [k, String(v)])).toString()}`, headers: bearer(tokens[user] ?? '') });
  const dashboard = async (user: string, query: Record<string, string | number> = {}) => {
    const response = await get(user, query);
    assert.equal(response.statusCode, 200, response.body);
    return response.json<Dashboard>();
  };
  const rollupDeltas = async () =>
    Number((await sql<{ n: number }>`select (select count(*) from invoice_rollup_deltas) + (select count(*) from payment_rollup_deltas) as n`.execute(t.db)).rows[0]?.n);
  const deltas = async () =>
    Number((await sql<{ n: number }>`select (select count(*) from platform_invoice_deltas) + (select count(*) from platform_payment_deltas) as n`.execute(t.db)).rows[0]?.n);

  /** Platform levels against the per-school tiers summed over every school, for each query. */
  async function assertPlatformEqualsSchools(message: string) {
    for (const filter of QUERIES) {
      const [invoices, payments, schoolInvoices, schoolPayments] = await Promise.all([
        repo.platformInvoiceAggregates(t.db, filter),
        repo.platformPaymentAggregates(t.db, filter),
        repo.invoiceAggregates(t.db, SYSTEM_SCOPE, filter),
        repo.paymentAggregates(t.db, SYSTEM_SCOPE, filter),
      ]);
      const nonZeroInvoices = schoolInvoices.filter((row) => row.amountDue !== 0 || row.amountOutstanding !== 0);
      assert.deepEqual(sorted(invoices), sorted(nonZeroInvoices), `${message}: invoices ${JSON.stringify(filter)}`);
      const nonZeroPayments = schoolPayments.filter((row) => row.amount !== 0 || row.count !== 0);
      assert.deepEqual(sorted(payments), sorted(nonZeroPayments), `${message}: payments ${JSON.stringify(filter)}`);
    }
  }

  async function assertVerified(message: string) {
    const report = await verifyRollups(t.db);
    assert.ok(report.ok, `${message}\n${formatReport(report)}`);
  }

  before(async () => {
    t = await createTestApp();
    fx = await seedBillingFixture(t.db);
    await insertUser(t.db, { username: 'root', role: 'super_admin' });
    await insertUser(t.db, { username: 'admin-a', role: 'school_admin', schoolIds: [fx.schoolA] });
    for (const name of ['root', 'admin-a']) {
      tokens[name] = (await login(t.app, name)).accessToken;
    }
  });
  after(() => t.close());

  test('periods: whole months inside a range from month rows, its edges from day rows', () => {
    const text = (filter: DashboardFilter) => {
      const compiled = sql`select 1 where ${platformPeriods(filter)}`.compile(t.db);
      return { sql: compiled.sql.replace(/\s+/g, ' '), parameters: compiled.parameters };
    };
    assert.deepEqual(text({}).parameters, []);
    assert.match(text({}).sql, /period = 'a'/);
    // 15 March – 10 May: April whole; 15–31 March and 1–10 May by day.
    assert.deepEqual(text({ from: '2026-03-15', to: '2026-05-10' }).parameters, ['2026-04-01', '2026-05-01', '2026-03-15', '2026-04-01', '2026-05-01', '2026-05-10']);
    // A whole month exactly: no day rows.
    assert.deepEqual(text({ from: '2026-02-01', to: '2026-02-28' }).parameters, ['2026-02-01', '2026-03-01']);
    // Inside one month: days only.
    assert.deepEqual(text({ from: '2026-03-02', to: '2026-03-30' }).parameters, ['2026-03-02', '2026-03-30']);
    // Open ends reach every month on that side.
    assert.deepEqual(text({ to: '2026-03-10' }).parameters, ['2026-03-01', '2026-03-01', '2026-03-10']);
    assert.deepEqual(text({ from: '2026-03-10' }).parameters, ['2026-04-01', '2026-03-10', '2026-04-01']);
  });

  test('exact with the writers’ deltas waiting and after a fold; the fold empties them', async () => {
    // The writers append to the buckets' deltas (0035); their fold feeds the platform's.
    assert.ok((await rollupDeltas()) > 0, 'the fixture’s writes left bucket deltas');
    await foldRollupDeltas(t.db);
    assert.equal(await rollupDeltas(), 0);
    assert.ok((await deltas()) > 0, 'the buckets’ fold left platform deltas');
    await assertPlatformEqualsSchools('deltas waiting');
    await repo.foldPlatform(t.db);
    assert.equal(await deltas(), 0);
    await assertPlatformEqualsSchools('folded');
    // Half folded: a payment after the fold leaves a few deltas beside the sums.
    const pay = await t.app.inject({
      method: 'POST',
      url: '/api/v1/payments',
      headers: { ...bearer(tokens.root ?? ''), 'idempotency-key': 'platform-tier-1' },
      payload: { invoiceId: fx.invoices.overdueB, amount: 1_234, method: 'card' },
    });
    assert.equal(pay.statusCode, 201, pay.body);
    assert.equal(await deltas(), 0, 'a payment appends to the buckets’ deltas only');
    assert.ok((await rollupDeltas()) > 0);
    await foldRollupDeltas(t.db);
    assert.ok((await deltas()) > 0);
    await assertPlatformEqualsSchools('sums and deltas');
    await assertVerified('after a payment');
  });

  test('a school deleted, restored, moved to another time zone and currency: the tier follows it', async () => {
    await sql`update schools set deleted_at = now() where id = ${fx.schoolB}`.execute(t.db);
    await assertVerified('school B deleted');
    const withoutB = await repo.platformInvoiceAggregates(t.db, {});
    assert.deepEqual([...new Set(withoutB.map((row) => row.currency))], ['MXN']);
    await sql`update schools set deleted_at = null where id = ${fx.schoolB}`.execute(t.db);
    await assertVerified('school B restored');
    await sql`update schools set timezone = 'Pacific/Kiritimati' where id = ${fx.schoolB}`.execute(t.db);
    await assertVerified('school B in another zone');
    await sql`update schools set currency = 'CAD' where id = ${fx.schoolB}`.execute(t.db);
    await assertVerified('school B in another currency');
    await assertPlatformEqualsSchools('after the moves');
    await sql`update schools set currency = 'USD', timezone = 'America/New_York' where id = ${fx.schoolB}`.execute(t.db);
    await refreshRollups(t.db, fx.schoolB);
    await assertVerified('school B back, and refreshed');
    await repo.foldPlatform(t.db);
    await assertPlatformEqualsSchools('back and folded');
  });

  test('the all-schools figures are read from the platform tier; verify sees a corrupted row; a refresh repairs it', async () => {
    const truth = await dashboard('root');
    await repo.foldPlatform(t.db);
    await sql`update platform_invoice_sums set amount_due = amount_due + 1 where period = 'a' and grade = '' and currency = 'USD'`.execute(t.db);
    try {
      const body = await dashboard('root');
      const usd = body.totalsByCurrency.find((row) => row.currency === 'USD');
      assert.equal(usd?.amountDue, (truth.totalsByCurrency.find((row) => row.currency === 'USD')?.amountDue ?? 0) + 1);
      // One school singled out is read from its own tier.
      assert.equal((await dashboard('root', { schoolId: fx.schoolB })).totals.amountDue, truth.totalsByCurrency.find((row) => row.currency === 'USD')?.amountDue);
      const report = await verifyRollups(t.db);
      assert.equal(report.ok, false);
      assert.ok((report.tables.find((table) => table.table === 'platform_invoice_sums')?.unexpected.count ?? 0) >= 1, formatReport(report));
    } finally {
      await refreshRollups(t.db);
    }
    await assertVerified('after a refresh of every school');
    assert.deepEqual((await dashboard('root')).totalsByCurrency, truth.totalsByCurrency);
  });

  test('bySchool pages: schoolsLimit 1 walks every school once, by outstanding or by name; a bad cursor is a 400 naming schoolsCursor', async () => {
    const walk = async (user: string, sort: 'outstanding' | 'name') => {
      const seen: { name: string; outstanding: number }[] = [];
      let cursor: string | null = null;
      for (let i = 0; i < 10; i++) {
        const body: Dashboard = await dashboard(user, { schoolsLimit: 1, schoolsSort: sort, ...(cursor ? { schoolsCursor: cursor } : {}) });
        assert.ok(body.bySchool.length <= 1);
        seen.push(...body.bySchool.map((row) => ({ name: row.schoolName, outstanding: row.amountOutstanding })));
        assert.equal(body.bySchoolTruncated, body.bySchoolNextCursor !== null);
        assert.equal(body.schoolCount, user === 'root' ? 2 : 1);
        cursor = body.bySchoolNextCursor;
        if (cursor === null) {
          break;
        }
      }
      return seen;
    };
    const all = (await dashboard('root')).bySchool;
    const byOutstanding = await walk('root', 'outstanding');
    assert.deepEqual(byOutstanding, [...all].sort((a, b) => b.amountOutstanding - a.amountOutstanding).map((row) => ({ name: row.schoolName, outstanding: row.amountOutstanding })));
    assert.deepEqual((await walk('root', 'name')).map((row) => row.name), ['Beta Academy', 'Colegio Alfa']);
    assert.deepEqual((await walk('admin-a', 'outstanding')).map((row) => row.name), ['Colegio Alfa']);
    // A range and a grade rank by what is outstanding within them.
    const ranged = await dashboard('root', { from: utcDay(-45), to: utcDay(-30), grade: '3', schoolsLimit: 2 });
    assert.deepEqual(ranged.bySchool.map((row) => row.amountOutstanding), [...ranged.bySchool.map((row) => row.amountOutstanding)].sort((a, b) => b - a));

    const first = await dashboard('root', { schoolsLimit: 1 });
    for (const [query, reason] of [
      [{ schoolsCursor: 'not-a-cursor' }, 'garbage'],
      [{ schoolsCursor: first.bySchoolNextCursor ?? '', schoolsSort: 'name' }, 'a cursor of the other order'],
      [{ schoolsCursor: Buffer.from(JSON.stringify(['outstanding', 'x', 'y', 'z'])).toString('base64url') }, 'a forged cursor'],
    ] as const) {
      const response = await get('root', query);
      assert.equal(response.statusCode, 400, `${reason}: ${response.body}`);
      assert.equal(problemOf(response).errors?.[0]?.field, 'schoolsCursor', reason);
    }
    for (const schoolsLimit of [0, 201]) {
      const response = await get('root', { schoolsLimit });
      assert.equal(response.statusCode, 400);
      assert.equal(problemOf(response).errors?.[0]?.field, 'schoolsLimit');
    }
  });

  test('a range without a grade reads each school’s month and day sums: the same figures and order as its (grade, day) buckets; verify sees a corrupted row', async () => {
    const schools = [fx.schoolA, fx.schoolB];
    // What the (school, grade, day) buckets say, summed per school over [from, to].
    const fromBuckets = async (filter: DashboardFilter) => {
      const inRange = (column: string) =>
        sql`true ${filter.from === undefined ? sql`` : sql`and ${sql.ref(column)} >= ${filter.from}::date`} ${filter.to === undefined ? sql`` : sql`and ${sql.ref(column)} <= ${filter.to}::date`}`;
      const { rows } = await sql<{ schoolId: string; amountDue: number; amountOutstanding: number; amountCollected: number }>`
        select s.id as "schoolId",
               (select coalesce(sum(amount_due), 0) from invoice_rollups where school_id = s.id and ${inRange('due_date')})::bigint as "amountDue",
               (select coalesce(sum(amount_due - amount_paid), 0) from invoice_rollups where school_id = s.id and ${inRange('due_date')})::bigint as "amountOutstanding",
               (select coalesce(sum(amount), 0) from payment_rollups where school_id = s.id and ${inRange('paid_on')})::bigint as "amountCollected"
          from schools s where s.id = any(${schools}::uuid[]) order by s.id`.execute(t.db);
      return rows;
    };
    const ranges = QUERIES.filter((filter) => (filter.from !== undefined || filter.to !== undefined) && filter.grade === undefined && filter.method === undefined);
    assert.ok(ranges.length >= 4);
    for (const filter of ranges) {
      const figures = await repo.schoolFigures(t.db, SYSTEM_SCOPE, filter, schools);
      const expected = await fromBuckets(filter);
      assert.deepEqual(
        [...figures].sort((a, b) => a.schoolId.localeCompare(b.schoolId)).map(({ schoolId, amountDue, amountOutstanding, amountCollected }) => ({ schoolId, amountDue, amountOutstanding, amountCollected })),
        [...expected].sort((a, b) => a.schoolId.localeCompare(b.schoolId)),
        JSON.stringify(filter),
      );
      // Ranked by what is outstanding in the range, whichever side (inside or outside it) is read.
      const page = await repo.schoolPage(t.db, SYSTEM_SCOPE, filter, { sort: 'outstanding', limit: 10 });
      assert.deepEqual(
        page.rows.map((row) => row.outstanding),
        schools.map((id) => expected.find((row) => row.schoolId === id)?.amountOutstanding ?? 0).sort((a, b) => b - a),
        JSON.stringify(filter),
      );
    }
    assert.ok(
      (await fromBuckets({ from: utcDay(-45), to: utcDay(45) })).some((row) => row.amountDue > 0 && row.amountCollected > 0),
      'the fixture has invoices and money in the range',
    );

    const range = { from: utcDay(-45), to: utcDay(45) };
    const truth = await dashboard('root', range);
    await sql`update school_invoice_sums set amount_due = amount_due + 7 where school_id = ${fx.schoolA} and period = 'd' and period_start between ${range.from}::date and ${range.to}::date`.execute(t.db);
    await sql`update school_payment_sums set amount = amount + 5 where school_id = ${fx.schoolA} and period = 'd' and period_start between ${range.from}::date and ${range.to}::date`.execute(t.db);
    try {
      const changed = await dashboard('root', range);
      const before = truth.bySchool.find((row) => row.schoolId === fx.schoolA);
      const after = changed.bySchool.find((row) => row.schoolId === fx.schoolA);
      assert.ok(before && after);
      assert.ok(after.amountDue > before.amountDue, 'the page of schools reads the day sums');
      assert.ok(after.amountCollected > before.amountCollected, 'the page of schools reads the payment day sums');
      const report = await verifyRollups(t.db);
      assert.equal(report.ok, false);
      for (const table of ['school_invoice_sums', 'school_payment_sums'] as const) {
        assert.ok((report.tables.find((row) => row.table === table)?.unexpected.count ?? 0) >= 1, formatReport(report));
      }
    } finally {
      await refreshRollups(t.db, fx.schoolA);
    }
    await assertVerified('after a refresh of school A');
    assert.deepEqual((await dashboard('root', range)).bySchool, truth.bySchool);
  });

  test('concurrent payments in both schools while folds run: the tier stays exact', async () => {
    const invoices = [fx.invoices.overdueA, fx.invoices.pendingA, fx.invoices.overdueB];
    const work: Promise<unknown>[] = [];
    for (let i = 0; i < 24; i++) {
      work.push(
        t.app
          .inject({
            method: 'POST',
            url: '/api/v1/payments',
            headers: { ...bearer(tokens.root ?? ''), 'idempotency-key': `platform-race-${i}` },
            payload: { invoiceId: invoices[i % invoices.length], amount: 10 + i, method: i % 2 === 0 ? 'cash' : 'card' },
          })
          .then((response) => assert.equal(response.statusCode, 201, response.body)),
      );
      if (i % 4 === 0) {
        work.push(repo.foldPlatform(t.db));
      }
    }
    await Promise.all(work);
    await assertVerified('after the race');
    await assertPlatformEqualsSchools('after the race');
  });
});
