import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { parse } from 'csv-parse/sync';
import { sql } from 'kysely';
import type {
  DailyCollectionsRow,
  InvoiceDetailsRow,
  MonthlyRevenueRow,
  OverdueRow,
  PaymentHistoryRow,
  SchoolSummaryRow,
  StudentBalanceRow,
} from '../../src/modules/reporting/billing-reports.schemas.js';
import { todayIn } from '../../src/shared/time.js';
import { bearer, createTestApp, insertUser, login, problemOf, type TestApp } from '../helpers/app.js';
import { seedBillingFixture, type BillingFixture } from '../helpers/billing.js';

/**
 * The seven billing reports against the fixture of test/helpers/billing.ts. Each
 * report's numbers are checked three ways: against values worked out by hand from the
 * fixture's docblock, against an independent SQL aggregate over the raw tables (written
 * without invoice_status or the report's own query shape), and across roles.
 */

type Query = Record<string, string | number | boolean | undefined>;
interface PageBody<T> {
  data: T[];
  nextCursor: string | null;
}

const REPORTS = {
  balance: '/api/v1/reports/students/balance',
  summary: '/api/v1/reports/schools/summary',
  details: '/api/v1/reports/invoices/details',
  overdue: '/api/v1/reports/invoices/overdue',
  payments: '/api/v1/reports/payments/history',
  daily: '/api/v1/reports/collections/daily',
  monthly: '/api/v1/reports/revenue/monthly',
} as const;
type Report = keyof typeof REPORTS;
const ALL_REPORTS = Object.keys(REPORTS) as Report[];

const TZ_A = 'America/Mexico_City';
const TZ_B = 'America/New_York';
const DAY_MS = 86_400_000;

/** 'YYYY-MM-DD' shifted by whole days (pure calendar arithmetic). */
const addDays = (date: string, days: number) => new Date(Date.parse(`${date}T00:00:00Z`) + days * DAY_MS).toISOString().slice(0, 10);
const utcDay = (offsetDays: number) => new Date(Date.now() + offsetDays * DAY_MS).toISOString().slice(0, 10);
const byKey = <T>(key: (row: T) => string) => (a: T, b: T) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0);
const sum = (values: number[]) => values.reduce((total, value) => total + value, 0);

/** Wide enough to include every movement of the fixture (45 days ago … 40 days ahead) in any zone. */
const WIDE_DAILY = () => ({ from: utcDay(-60) });
const WIDE_MONTHLY = () => ({ from: utcDay(-60).slice(0, 7), to: utcDay(60).slice(0, 7) });

function urlOf(report: Report, query: Query = {}): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined) {
      params.set(key, String(value));
    }
  }
  const text = params.toString();
  return text ? `${REPORTS[report]}?${text}` : REPORTS[report];
}

describe('billing reports', () => {
  let t: TestApp;
  let f: BillingFixture;
  const tokens = { super: '', admin: '', analyst: '', developer: '' };

  before(async () => {
    t = await createTestApp();
    f = await seedBillingFixture(t.db);
    await insertUser(t.db, { username: 'rep.super', role: 'super_admin' });
    await insertUser(t.db, { username: 'rep.admin', role: 'school_admin', schoolIds: [f.schoolA] });
    await insertUser(t.db, { username: 'rep.analyst', role: 'finance_analyst' });
    await insertUser(t.db, { username: 'rep.developer', role: 'developer' });
    tokens.super = (await login(t.app, 'rep.super')).accessToken;
    tokens.admin = (await login(t.app, 'rep.admin')).accessToken;
    tokens.analyst = (await login(t.app, 'rep.analyst')).accessToken;
    tokens.developer = (await login(t.app, 'rep.developer')).accessToken;
  });
  after(() => t.close());

  const get = (report: Report, query: Query = {}, token: string | null = tokens.super) =>
    t.app.inject({ method: 'GET', url: urlOf(report, query), headers: token === null ? {} : bearer(token) });

  /** One page of at most 500 rows, asserting 200 and that it is the last page. */
  async function list<T>(report: Report, query: Query = {}, token: string = tokens.super): Promise<T[]> {
    const response = await get(report, { limit: 500, ...query }, token);
    assert.equal(response.statusCode, 200, response.body);
    const page = response.json<PageBody<T>>();
    assert.equal(page.nextCursor, null);
    return page.data;
  }

  /** Every page with limit=1, following nextCursor until it is null. */
  async function walk<T>(report: Report, query: Query = {}, token: string = tokens.super): Promise<{ rows: T[]; pages: number }> {
    const rows: T[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const response = await get(report, { ...query, limit: 1, cursor }, token);
      assert.equal(response.statusCode, 200, response.body);
      const page = response.json<PageBody<T>>();
      assert.ok(page.data.length <= 1);
      rows.push(...page.data);
      cursor = page.nextCursor ?? undefined;
      pages++;
      assert.ok(pages <= 50, 'pagination does not terminate');
    } while (cursor !== undefined);
    return { rows, pages };
  }

  const schoolName = (schoolId: string) => (schoolId === f.schoolA ? 'Colegio Alfa' : 'Beta Academy');
  const currencyOf = (schoolId: string) => (schoolId === f.schoolA ? 'MXN' : 'USD');
  const zoneOf = (schoolId: string) => (schoolId === f.schoolA ? TZ_A : TZ_B);

  // --- 1. Student balances -----------------------------------------------------------
  describe('students/balance', () => {
    const expected = (): StudentBalanceRow[] =>
      [
        { studentId: f.students.anaA, schoolId: f.schoolA, studentName: 'Ana Alvarez', grade: '3', invoiceCount: 2, totalInvoiced: 15_000, totalPaid: 12_000, totalCredited: 0, balance: 3_000, overdueAmount: 3_000, oldestOverdueDueDate: f.past },
        // the cancelled 7 000 counts nowhere
        { studentId: f.students.beto, schoolId: f.schoolA, studentName: 'Beto Bravo', grade: '5', invoiceCount: 2, totalInvoiced: 17_000, totalPaid: 6_000, totalCredited: 0, balance: 11_000, overdueAmount: 0, oldestOverdueDueDate: null },
        { studentId: f.students.carla, schoolId: f.schoolB, studentName: 'Carla Cruz', grade: '3', invoiceCount: 1, totalInvoiced: 20_000, totalPaid: 0, totalCredited: 0, balance: 20_000, overdueAmount: 20_000, oldestOverdueDueDate: f.past },
        { studentId: f.students.dora, schoolId: f.schoolB, studentName: 'Dora Diaz', grade: '7', invoiceCount: 1, totalInvoiced: 15_000, totalPaid: 15_000, totalCredited: 0, balance: 0, overdueAmount: 0, oldestOverdueDueDate: null },
      ]
        .map((row) => ({ ...row, schoolName: schoolName(row.schoolId), currency: currencyOf(row.schoolId) }))
        .sort(byKey((row) => row.studentId));

    test('numbers match the fixture by hand', async () => {
      assert.deepEqual(await list<StudentBalanceRow>('balance'), expected());
    });

    test('numbers match an independent aggregate of the raw tables', async () => {
      const { rows } = await sql<{ studentId: string; invoiceCount: number; totalInvoiced: number; totalPaid: number; overdueAmount: number; oldest: string | null; flowPaid: number }>`
        select s.id as "studentId",
               count(i.id) as "invoiceCount",
               coalesce(sum(i.amount), 0) as "totalInvoiced",
               coalesce(sum(i.paid_amount), 0) as "totalPaid",
               coalesce(sum(i.amount - i.paid_amount) filter (where i.paid_amount < i.amount and i.due_date < (now() at time zone sc.timezone)::date), 0) as "overdueAmount",
               min(i.due_date) filter (where i.paid_amount < i.amount and i.due_date < (now() at time zone sc.timezone)::date) as "oldest",
               coalesce((select sum(p.amount) from payments p join invoices pi on pi.id = p.invoice_id where pi.student_id = s.id and pi.cancelled_at is null), 0)
                 - coalesce((select sum(r.amount) from refunds r join invoices ri on ri.id = r.invoice_id where ri.student_id = s.id and ri.cancelled_at is null), 0) as "flowPaid"
        from students s
        join schools sc on sc.id = s.school_id
        left join invoices i on i.student_id = s.id and i.cancelled_at is null
        where s.deleted_at is null and sc.deleted_at is null
        group by s.id
        order by s.id`.execute(t.db);
      const report = await list<StudentBalanceRow>('balance');
      assert.equal(report.length, rows.length);
      for (const [i, raw] of rows.entries()) {
        const row = report[i];
        assert.ok(row);
        assert.equal(row.studentId, raw.studentId);
        assert.equal(row.invoiceCount, raw.invoiceCount);
        assert.equal(row.totalInvoiced, raw.totalInvoiced);
        assert.equal(row.totalPaid, raw.totalPaid);
        assert.equal(row.totalPaid, raw.flowPaid, 'paid equals payments − refunds');
        assert.equal(row.balance, raw.totalInvoiced - raw.totalPaid);
        assert.equal(row.overdueAmount, raw.overdueAmount);
        assert.equal(row.oldestOverdueDueDate, raw.oldest);
      }
    });

    test('filters: onlyWithBalance, grade, schoolId', async () => {
      const owing = await list<StudentBalanceRow>('balance', { onlyWithBalance: true });
      assert.deepEqual(owing.map((row) => row.studentId), expected().filter((row) => row.balance > 0).map((row) => row.studentId));
      assert.equal(owing.length, 3);
      const everyone = await list<StudentBalanceRow>('balance', { onlyWithBalance: false });
      assert.equal(everyone.length, 4);
      const grade3 = await list<StudentBalanceRow>('balance', { grade: '3' });
      assert.deepEqual(grade3.map((row) => row.studentId).sort(), [f.students.anaA, f.students.carla].sort());
      const inB = await list<StudentBalanceRow>('balance', { schoolId: f.schoolB });
      assert.deepEqual(inB, expected().filter((row) => row.schoolId === f.schoolB));
    });
  });

  // --- 2. School summary -------------------------------------------------------------
  describe('schools/summary', () => {
    const expected = (): SchoolSummaryRow[] =>
      [
        // A: 10 000 + 5 000 + 8 000 + 9 000 invoiced; 10 000 + 2 000 + 6 000 paid; overdue 3 000
        { schoolId: f.schoolA, totalStudents: 2, activeStudents: 2, invoiceCount: 4, totalInvoiced: 32_000, totalPaid: 18_000, totalCredited: 0, totalPending: 14_000, totalOverdue: 3_000, collectionRate: 0.5625 },
        // B: 20 000 + 15 000 invoiced; 15 000 paid; 15 000 / 35 000 = 0.428571… → 0.4286
        { schoolId: f.schoolB, totalStudents: 2, activeStudents: 2, invoiceCount: 2, totalInvoiced: 35_000, totalPaid: 15_000, totalCredited: 0, totalPending: 20_000, totalOverdue: 20_000, collectionRate: 0.4286 },
      ]
        .map((row) => ({ ...row, schoolName: schoolName(row.schoolId), currency: currencyOf(row.schoolId) }))
        .sort(byKey((row) => row.schoolId));

    test('numbers match the fixture by hand', async () => {
      assert.deepEqual(await list<SchoolSummaryRow>('summary'), expected());
    });

    test('numbers match an independent aggregate of the raw tables', async () => {
      const { rows } = await sql<{ schoolId: string; students: number; active: number; invoices: number; invoiced: number; paid: number; overdue: number; collected: number; refunded: number }>`
        select sc.id as "schoolId",
               (select count(*) from students s where s.school_id = sc.id and s.deleted_at is null) as "students",
               (select count(*) from students s where s.school_id = sc.id and s.deleted_at is null and s.is_active) as "active",
               (select count(*) from invoices i where i.school_id = sc.id and i.cancelled_at is null) as "invoices",
               (select coalesce(sum(i.amount), 0) from invoices i where i.school_id = sc.id and i.cancelled_at is null) as "invoiced",
               (select coalesce(sum(i.paid_amount), 0) from invoices i where i.school_id = sc.id and i.cancelled_at is null) as "paid",
               (select coalesce(sum(i.amount - i.paid_amount), 0) from invoices i
                 where i.school_id = sc.id and i.cancelled_at is null and i.paid_amount < i.amount
                   and i.due_date < (now() at time zone sc.timezone)::date) as "overdue",
               (select coalesce(sum(p.amount), 0) from payments p where p.school_id = sc.id) as "collected",
               (select coalesce(sum(r.amount), 0) from refunds r where r.school_id = sc.id) as "refunded"
        from schools sc where sc.deleted_at is null order by sc.id`.execute(t.db);
      const report = await list<SchoolSummaryRow>('summary');
      assert.equal(report.length, rows.length);
      for (const [i, raw] of rows.entries()) {
        const row = report[i];
        assert.ok(row);
        assert.equal(row.schoolId, raw.schoolId);
        assert.equal(row.totalStudents, raw.students);
        assert.equal(row.activeStudents, raw.active);
        assert.equal(row.invoiceCount, raw.invoices);
        assert.equal(row.totalInvoiced, raw.invoiced);
        assert.equal(row.totalPaid, raw.paid);
        assert.equal(row.totalPaid, raw.collected - raw.refunded, 'paid equals payments − refunds');
        assert.equal(row.totalPending, raw.invoiced - raw.paid);
        assert.equal(row.totalOverdue, raw.overdue);
        assert.equal(row.collectionRate, Math.round((raw.paid / raw.invoiced) * 10_000) / 10_000);
      }
    });

    test('a school without invoices has a collection rate of 0, not a division error', async () => {
      const empty = (await t.db.insertInto('schools').values({ name: 'Zeta Empty', currency: 'EUR', timezone: 'Europe/Madrid' }).returning('id').executeTakeFirstOrThrow()).id;
      try {
        const [row] = await list<SchoolSummaryRow>('summary', { schoolId: empty });
        assert.deepEqual(row, {
          schoolId: empty, schoolName: 'Zeta Empty', currency: 'EUR', totalStudents: 0, activeStudents: 0,
          invoiceCount: 0, totalInvoiced: 0, totalPaid: 0, totalCredited: 0, totalPending: 0, totalOverdue: 0, collectionRate: 0,
        });
      } finally {
        await t.db.updateTable('schools').set({ deleted_at: new Date() }).where('id', '=', empty).execute();
      }
      const gone = await get('summary', { schoolId: empty });
      assert.equal(gone.statusCode, 404, 'a soft-deleted school is not found');
    });
  });

  // --- 3. Invoice details ------------------------------------------------------------
  describe('invoices/details', () => {
    const expected = (): Omit<InvoiceDetailsRow, 'lastPaymentAt' | 'description' | 'number'>[] => {
      const rows = [
        { invoiceId: f.invoices.paidA, studentId: f.students.anaA, studentName: 'Ana Alvarez', grade: '3', amount: 10_000, paidAmount: 10_000, status: 'PAID', dueDate: f.past, paymentCount: 2 },
        { invoiceId: f.invoices.overdueA, studentId: f.students.anaA, studentName: 'Ana Alvarez', grade: '3', amount: 5_000, paidAmount: 2_000, status: 'OVERDUE', dueDate: f.past, paymentCount: 1 },
        { invoiceId: f.invoices.pendingA, studentId: f.students.beto, studentName: 'Beto Bravo', grade: '5', amount: 8_000, paidAmount: 0, status: 'PENDING', dueDate: f.future, paymentCount: 0 },
        { invoiceId: f.invoices.partialA, studentId: f.students.beto, studentName: 'Beto Bravo', grade: '5', amount: 9_000, paidAmount: 6_000, status: 'PARTIAL', dueDate: f.future, paymentCount: 1 },
        { invoiceId: f.invoices.cancelledA, studentId: f.students.beto, studentName: 'Beto Bravo', grade: '5', amount: 7_000, paidAmount: 0, status: 'CANCELLED', dueDate: f.future, paymentCount: 0 },
        { invoiceId: f.invoices.overdueB, studentId: f.students.carla, studentName: 'Carla Cruz', grade: '3', amount: 20_000, paidAmount: 0, status: 'OVERDUE', dueDate: f.past, paymentCount: 0 },
        { invoiceId: f.invoices.paidB, studentId: f.students.dora, studentName: 'Dora Diaz', grade: '7', amount: 15_000, paidAmount: 15_000, status: 'PAID', dueDate: f.past, paymentCount: 1 },
      ] as const;
      return rows
        .map((row) => {
          const schoolId = row.studentId === f.students.anaA || row.studentId === f.students.beto ? f.schoolA : f.schoolB;
          return { ...row, schoolId, schoolName: schoolName(schoolId), currency: currencyOf(schoolId), creditedAmount: 0, pendingAmount: row.amount - row.paidAmount };
        })
        .sort(byKey((row) => row.invoiceId));
    };
    const strip = (rows: InvoiceDetailsRow[]) => rows.map(({ lastPaymentAt: _a, description: _b, number: _c, ...row }) => row);

    test('numbers and statuses match the fixture by hand', async () => {
      const report = await list<InvoiceDetailsRow>('details');
      assert.deepEqual(strip(report), expected());
      const paidA = report.find((row) => row.invoiceId === f.invoices.paidA);
      // the later of its two payments (41 days ago, the other 45)
      assert.ok(paidA?.lastPaymentAt);
      assert.ok(Math.abs(Date.parse(paidA.lastPaymentAt) - (Date.now() - 41 * DAY_MS)) < 10 * 60_000);
      assert.equal(report.find((row) => row.invoiceId === f.invoices.pendingA)?.lastPaymentAt, null);
    });

    test('numbers match an independent aggregate of the raw tables', async () => {
      const { rows } = await sql<{ invoiceId: string; number: string; description: string | null; payments: number; last: Date | null; pending: number }>`
        select i.id as "invoiceId", i.number, i.description, i.amount - i.paid_amount as "pending",
               count(p.id) as "payments", max(p.paid_at) as "last"
        from invoices i left join payments p on p.invoice_id = i.id
        group by i.id order by i.id`.execute(t.db);
      const report = await list<InvoiceDetailsRow>('details');
      assert.deepEqual(
        report.map((row) => [row.invoiceId, row.number, row.description, row.pendingAmount, row.paymentCount, row.lastPaymentAt]),
        rows.map((raw) => [raw.invoiceId, raw.number, raw.description, raw.pending, raw.payments, raw.last?.toISOString() ?? null]),
      );
    });

    test('filters: status, studentId, schoolId, due date range', async () => {
      const ids = async (query: Query) => (await list<InvoiceDetailsRow>('details', query)).map((row) => row.invoiceId).sort();
      assert.deepEqual(await ids({ status: 'OVERDUE' }), [f.invoices.overdueA, f.invoices.overdueB].sort());
      assert.deepEqual(await ids({ status: 'CANCELLED' }), [f.invoices.cancelledA]);
      assert.deepEqual(await ids({ status: 'PAID', schoolId: f.schoolB }), [f.invoices.paidB]);
      assert.deepEqual(await ids({ studentId: f.students.beto }), [f.invoices.pendingA, f.invoices.partialA, f.invoices.cancelledA].sort());
      assert.deepEqual(await ids({ dueFrom: f.future, dueTo: f.future }), [f.invoices.pendingA, f.invoices.partialA, f.invoices.cancelledA].sort());
      assert.deepEqual(await ids({ dueTo: f.past, schoolId: f.schoolA }), [f.invoices.paidA, f.invoices.overdueA].sort());
    });
  });

  // --- 4. Overdue invoices -----------------------------------------------------------
  describe('invoices/overdue', () => {
    const daysSincePast = (tz: string) => Math.round((Date.parse(todayIn(tz)) - Date.parse(f.past)) / DAY_MS);

    test('numbers match the fixture by hand: only OVERDUE, days in the school’s zone', async () => {
      const report = await list<OverdueRow>('overdue');
      const expected = [
        { invoiceId: f.invoices.overdueA, number: 'FX-2', schoolId: f.schoolA, studentId: f.students.anaA, studentName: 'Ana Alvarez', grade: '3', amount: 5_000, paidAmount: 2_000, creditedAmount: 0, pendingAmount: 3_000, daysOverdue: daysSincePast(TZ_A) },
        { invoiceId: f.invoices.overdueB, number: 'FX-6', schoolId: f.schoolB, studentId: f.students.carla, studentName: 'Carla Cruz', grade: '3', amount: 20_000, paidAmount: 0, creditedAmount: 0, pendingAmount: 20_000, daysOverdue: daysSincePast(TZ_B) },
      ]
        .map((row) => ({ ...row, schoolName: schoolName(row.schoolId), currency: currencyOf(row.schoolId), dueDate: f.past }))
        // same due date: ties break on invoice id
        .sort(byKey((row) => row.invoiceId));
      assert.deepEqual(report, expected);
      assert.ok(report.every((row) => row.daysOverdue >= 39 && row.daysOverdue <= 41));
    });

    test('numbers match an independent query of the raw tables', async () => {
      const { rows } = await sql<{ invoiceId: string; pending: number; days: number }>`
        select i.id as "invoiceId", i.amount - i.paid_amount as "pending",
               (now() at time zone sc.timezone)::date - i.due_date as "days"
        from invoices i join schools sc on sc.id = i.school_id
        where i.cancelled_at is null and i.paid_amount < i.amount and i.due_date < (now() at time zone sc.timezone)::date
        order by i.due_date, i.id`.execute(t.db);
      const report = await list<OverdueRow>('overdue');
      assert.deepEqual(
        report.map((row) => [row.invoiceId, row.pendingAmount, row.daysOverdue]),
        rows.map((raw) => [raw.invoiceId, raw.pending, raw.days]),
      );
    });

    test('minDaysOverdue and schoolId filters', async () => {
      const most = Math.max(daysSincePast(TZ_A), daysSincePast(TZ_B));
      const least = Math.min(daysSincePast(TZ_A), daysSincePast(TZ_B));
      assert.equal((await list<OverdueRow>('overdue', { minDaysOverdue: least })).length, 2);
      const atMost = await list<OverdueRow>('overdue', { minDaysOverdue: most });
      assert.ok(atMost.length >= 1 && atMost.every((row) => row.daysOverdue >= most));
      assert.deepEqual(await list<OverdueRow>('overdue', { minDaysOverdue: most + 1 }), []);
      assert.deepEqual((await list<OverdueRow>('overdue', { schoolId: f.schoolB })).map((row) => row.invoiceId), [f.invoices.overdueB]);
    });
  });

  // --- 5. Payment history ------------------------------------------------------------
  describe('payments/history', () => {
    const expected = () => [
      // newest first: 5, 10, 39, 41, 45 days ago
      { paymentId: f.payments.partialA, amount: 9_000, refundedAmount: 3_000, netAmount: 6_000, method: 'bank_transfer', invoiceId: f.invoices.partialA, invoiceNumber: 'FX-4', studentId: f.students.beto, studentName: 'Beto Bravo', schoolId: f.schoolA },
      { paymentId: f.payments.overdueA, amount: 2_000, refundedAmount: 0, netAmount: 2_000, method: 'card', invoiceId: f.invoices.overdueA, invoiceNumber: 'FX-2', studentId: f.students.anaA, studentName: 'Ana Alvarez', schoolId: f.schoolA },
      { paymentId: f.payments.paidB, amount: 15_000, refundedAmount: 0, netAmount: 15_000, method: 'bank_transfer', invoiceId: f.invoices.paidB, invoiceNumber: 'FX-7', studentId: f.students.dora, studentName: 'Dora Diaz', schoolId: f.schoolB },
      { paymentId: f.payments.paidA2, amount: 4_000, refundedAmount: 0, netAmount: 4_000, method: 'cash', invoiceId: f.invoices.paidA, invoiceNumber: 'FX-1', studentId: f.students.anaA, studentName: 'Ana Alvarez', schoolId: f.schoolA },
      { paymentId: f.payments.paidA1, amount: 6_000, refundedAmount: 0, netAmount: 6_000, method: 'card', invoiceId: f.invoices.paidA, invoiceNumber: 'FX-1', studentId: f.students.anaA, studentName: 'Ana Alvarez', schoolId: f.schoolA },
    ].map((row) => ({ ...row, schoolName: schoolName(row.schoolId), currency: currencyOf(row.schoolId), reference: `REF-${row.invoiceId.slice(-6)}-${row.amount}` }));
    const strip = (rows: PaymentHistoryRow[]) => rows.map(({ paidAt: _paidAt, ...row }) => row);

    test('numbers match the fixture by hand, newest first', async () => {
      const report = await list<PaymentHistoryRow>('payments');
      assert.deepEqual(strip(report), expected());
      const times = report.map((row) => Date.parse(row.paidAt));
      assert.deepEqual(times, [...times].sort((a, b) => b - a));
    });

    test('numbers match an independent aggregate of the raw tables', async () => {
      const { rows } = await sql<{ paymentId: string; paidAt: Date; amount: number; refunded: number }>`
        select p.id as "paymentId", p.paid_at as "paidAt", p.amount,
               coalesce(sum(r.amount), 0) as "refunded"
        from payments p left join refunds r on r.payment_id = p.id
        group by p.id order by p.paid_at desc, p.id desc`.execute(t.db);
      const report = await list<PaymentHistoryRow>('payments');
      assert.deepEqual(
        report.map((row) => [row.paymentId, row.paidAt, row.amount, row.refundedAmount, row.netAmount]),
        rows.map((raw) => [raw.paymentId, raw.paidAt.toISOString(), raw.amount, raw.refunded, raw.amount - raw.refunded]),
      );
    });

    test('filters: method, studentId, schoolId, from inclusive and to exclusive', async () => {
      const ids = async (query: Query) => (await list<PaymentHistoryRow>('payments', query)).map((row) => row.paymentId);
      assert.deepEqual(await ids({ method: 'card' }), [f.payments.overdueA, f.payments.paidA1]);
      assert.deepEqual(await ids({ studentId: f.students.beto }), [f.payments.partialA]);
      assert.deepEqual(await ids({ schoolId: f.schoolB }), [f.payments.paidB]);
      const paidAt = (await t.db.selectFrom('payments').select('paid_at').where('id', '=', f.payments.overdueA).executeTakeFirstOrThrow()).paid_at.toISOString();
      assert.deepEqual(await ids({ from: paidAt }), [f.payments.partialA, f.payments.overdueA], 'from is inclusive');
      assert.deepEqual(await ids({ to: paidAt }), [f.payments.paidB, f.payments.paidA2, f.payments.paidA1], 'to is exclusive');
      assert.deepEqual(await ids({ from: paidAt, to: paidAt }), []);
    });
  });

  // --- Money movements as the fixture made them (for reports 6 and 7) --------------------
  interface Movement {
    schoolId: string;
    kind: 'payment' | 'refund';
    amount: number;
    at: Date;
  }
  async function movements(): Promise<Movement[]> {
    const at = async (table: 'payments' | 'refunds', id: string) =>
      table === 'payments'
        ? (await t.db.selectFrom('payments').select('paid_at').where('id', '=', id).executeTakeFirstOrThrow()).paid_at
        : (await t.db.selectFrom('refunds').select('created_at').where('id', '=', id).executeTakeFirstOrThrow()).created_at;
    // amounts from the fixture's docblock; only the instants are read back
    return [
      { schoolId: f.schoolA, kind: 'payment', amount: 6_000, at: await at('payments', f.payments.paidA1) },
      { schoolId: f.schoolA, kind: 'payment', amount: 4_000, at: await at('payments', f.payments.paidA2) },
      { schoolId: f.schoolA, kind: 'payment', amount: 2_000, at: await at('payments', f.payments.overdueA) },
      { schoolId: f.schoolA, kind: 'payment', amount: 9_000, at: await at('payments', f.payments.partialA) },
      { schoolId: f.schoolB, kind: 'payment', amount: 15_000, at: await at('payments', f.payments.paidB) },
      { schoolId: f.schoolA, kind: 'refund', amount: 3_000, at: await at('refunds', f.refundId) },
    ];
  }

  // --- 6. Daily collections ----------------------------------------------------------
  describe('collections/daily', () => {
    /** Movements grouped by (school, local day) in JS with Intl time zones. */
    function byLocalDay(list: Movement[], inRange: (schoolId: string, day: string) => boolean): DailyCollectionsRow[] {
      const rows = new Map<string, DailyCollectionsRow>();
      for (const movement of list) {
        const date = todayIn(zoneOf(movement.schoolId), movement.at);
        if (!inRange(movement.schoolId, date)) {
          continue;
        }
        const key = `${date}|${movement.schoolId}`;
        const row = rows.get(key) ?? {
          date, schoolId: movement.schoolId, schoolName: schoolName(movement.schoolId), currency: currencyOf(movement.schoolId),
          paymentCount: 0, collected: 0, refunded: 0, net: 0,
        };
        if (movement.kind === 'payment') {
          row.paymentCount++;
          row.collected += movement.amount;
          row.net += movement.amount;
        } else {
          row.refunded += movement.amount;
          row.net -= movement.amount;
        }
        rows.set(key, row);
      }
      return [...rows.values()].sort((a, b) => (a.date !== b.date ? (a.date < b.date ? 1 : -1) : a.schoolId < b.schoolId ? -1 : 1));
    }

    test('default range is the last 30 local days of each school', async () => {
      const report = await list<DailyCollectionsRow>('daily');
      const expected = byLocalDay(await movements(), (schoolId, day) => {
        const today = todayIn(zoneOf(schoolId));
        return day >= addDays(today, -29) && day <= today;
      });
      assert.deepEqual(report, expected);
      // by hand: in A the payments of 10 and 5 days ago and today's refund; B's only payment was 39 days ago
      assert.ok(report.every((row) => row.schoolId === f.schoolA));
      assert.equal(sum(report.map((row) => row.paymentCount)), 2);
      assert.equal(sum(report.map((row) => row.collected)), 11_000);
      assert.equal(sum(report.map((row) => row.refunded)), 3_000);
      assert.equal(sum(report.map((row) => row.net)), 8_000);
      assert.equal(report[0]?.date, todayIn(TZ_A), 'the refund is on today’s local date, newest first');
    });

    test('a wide range has every movement; numbers match the hand totals and an independent SQL aggregate', async () => {
      const report = await list<DailyCollectionsRow>('daily', WIDE_DAILY());
      assert.deepEqual(report, byLocalDay(await movements(), () => true));
      const totals = (schoolId: string) => {
        const rows = report.filter((row) => row.schoolId === schoolId);
        return [sum(rows.map((r) => r.paymentCount)), sum(rows.map((r) => r.collected)), sum(rows.map((r) => r.refunded)), sum(rows.map((r) => r.net))];
      };
      assert.deepEqual(totals(f.schoolA), [4, 21_000, 3_000, 18_000]);
      assert.deepEqual(totals(f.schoolB), [1, 15_000, 0, 15_000]);

      const { rows } = await sql<{ date: string; schoolId: string; payments: number; collected: number; refunded: number }>`
        select d.day::text as "date", d.school_id as "schoolId",
               coalesce((select count(*) from payments p join schools s on s.id = p.school_id
                          where p.school_id = d.school_id and (p.paid_at at time zone s.timezone)::date = d.day), 0) as "payments",
               coalesce((select sum(p.amount) from payments p join schools s on s.id = p.school_id
                          where p.school_id = d.school_id and (p.paid_at at time zone s.timezone)::date = d.day), 0) as "collected",
               coalesce((select sum(r.amount) from refunds r join schools s on s.id = r.school_id
                          where r.school_id = d.school_id and (r.created_at at time zone s.timezone)::date = d.day), 0) as "refunded"
        from (
          select p.school_id, (p.paid_at at time zone s.timezone)::date as day from payments p join schools s on s.id = p.school_id
          union
          select r.school_id, (r.created_at at time zone s.timezone)::date from refunds r join schools s on s.id = r.school_id
        ) d
        order by d.day desc, d.school_id`.execute(t.db);
      assert.deepEqual(
        report.map((row) => [row.date, row.schoolId, row.paymentCount, row.collected, row.refunded, row.net]),
        rows.map((raw) => [raw.date, raw.schoolId, raw.payments, raw.collected, raw.refunded, raw.collected - raw.refunded]),
      );
    });

    test('from/to are inclusive local days', async () => {
      const refundDay = todayIn(TZ_A);
      const paymentDay = todayIn(TZ_A, await movements().then((list) => list[3]?.at ?? new Date()));
      const oneDay = await list<DailyCollectionsRow>('daily', { from: paymentDay, to: paymentDay });
      assert.deepEqual(oneDay.map((row) => [row.date, row.collected, row.refunded]), [[paymentDay, 9_000, 0]]);
      const both = await list<DailyCollectionsRow>('daily', { from: paymentDay, to: refundDay, schoolId: f.schoolA });
      assert.deepEqual(both.map((row) => row.date), [refundDay, paymentDay]);
    });
  });

  // --- 7. Monthly revenue ------------------------------------------------------------
  describe('revenue/monthly', () => {
    const invoiceMonths = () => [
      { schoolId: f.schoolA, month: f.past.slice(0, 7), amount: 10_000, pending: 0 },
      { schoolId: f.schoolA, month: f.past.slice(0, 7), amount: 5_000, pending: 3_000 },
      { schoolId: f.schoolA, month: f.future.slice(0, 7), amount: 8_000, pending: 8_000 },
      { schoolId: f.schoolA, month: f.future.slice(0, 7), amount: 9_000, pending: 3_000 },
      // the cancelled 7 000 is not revenue
      { schoolId: f.schoolB, month: f.past.slice(0, 7), amount: 20_000, pending: 20_000 },
      { schoolId: f.schoolB, month: f.past.slice(0, 7), amount: 15_000, pending: 0 },
    ];

    /** Invoices by due month and money by local month, grouped in JS. */
    async function byMonth(inRange: (schoolId: string, month: string) => boolean): Promise<MonthlyRevenueRow[]> {
      const rows = new Map<string, MonthlyRevenueRow>();
      const row = (schoolId: string, month: string) => {
        const key = `${month}|${schoolId}`;
        const existing = rows.get(key) ?? { month, schoolId, schoolName: schoolName(schoolId), currency: currencyOf(schoolId), invoiceCount: 0, invoiced: 0, collected: 0, outstanding: 0 };
        rows.set(key, existing);
        return existing;
      };
      for (const invoice of invoiceMonths().filter((i) => inRange(i.schoolId, i.month))) {
        const target = row(invoice.schoolId, invoice.month);
        target.invoiceCount++;
        target.invoiced += invoice.amount;
        target.outstanding += invoice.pending;
      }
      for (const movement of await movements()) {
        const month = todayIn(zoneOf(movement.schoolId), movement.at).slice(0, 7);
        if (inRange(movement.schoolId, month)) {
          row(movement.schoolId, month).collected += movement.kind === 'payment' ? movement.amount : -movement.amount;
        }
      }
      return [...rows.values()].sort((a, b) => (a.month !== b.month ? (a.month < b.month ? 1 : -1) : a.schoolId < b.schoolId ? -1 : 1));
    }

    test('a wide range: numbers match the fixture by hand', async () => {
      const report = await list<MonthlyRevenueRow>('monthly', WIDE_MONTHLY());
      assert.deepEqual(report, await byMonth(() => true));
      const totals = (schoolId: string) => {
        const rows = report.filter((row) => row.schoolId === schoolId);
        return [sum(rows.map((r) => r.invoiceCount)), sum(rows.map((r) => r.invoiced)), sum(rows.map((r) => r.collected)), sum(rows.map((r) => r.outstanding))];
      };
      assert.deepEqual(totals(f.schoolA), [4, 32_000, 18_000, 14_000]);
      assert.deepEqual(totals(f.schoolB), [2, 35_000, 15_000, 20_000]);
    });

    test('numbers match an independent aggregate of the raw tables', async () => {
      const range = WIDE_MONTHLY();
      const { rows } = await sql<{ month: string; schoolId: string; invoices: number; invoiced: number; outstanding: number; collected: number }>`
        with months as (
          select i.school_id, to_char(i.due_date, 'YYYY-MM') as month from invoices i where i.cancelled_at is null
          union
          select p.school_id, to_char(p.paid_at at time zone s.timezone, 'YYYY-MM') from payments p join schools s on s.id = p.school_id
          union
          select r.school_id, to_char(r.created_at at time zone s.timezone, 'YYYY-MM') from refunds r join schools s on s.id = r.school_id
        )
        select m.month, m.school_id as "schoolId",
               (select count(*) from invoices i where i.school_id = m.school_id and i.cancelled_at is null and to_char(i.due_date, 'YYYY-MM') = m.month) as "invoices",
               (select coalesce(sum(i.amount), 0) from invoices i where i.school_id = m.school_id and i.cancelled_at is null and to_char(i.due_date, 'YYYY-MM') = m.month) as "invoiced",
               (select coalesce(sum(i.amount - i.paid_amount), 0) from invoices i where i.school_id = m.school_id and i.cancelled_at is null and to_char(i.due_date, 'YYYY-MM') = m.month) as "outstanding",
               (select coalesce(sum(p.amount), 0) from payments p join schools s on s.id = p.school_id where p.school_id = m.school_id and to_char(p.paid_at at time zone s.timezone, 'YYYY-MM') = m.month)
                 - (select coalesce(sum(r.amount), 0) from refunds r join schools s on s.id = r.school_id where r.school_id = m.school_id and to_char(r.created_at at time zone s.timezone, 'YYYY-MM') = m.month) as "collected"
        from months m
        where m.month between ${range.from} and ${range.to}
        order by m.month desc, m.school_id`.execute(t.db);
      const report = await list<MonthlyRevenueRow>('monthly', range);
      assert.deepEqual(
        report.map((row) => [row.month, row.schoolId, row.invoiceCount, row.invoiced, row.outstanding, row.collected]),
        rows.map((raw) => [raw.month, raw.schoolId, raw.invoices, raw.invoiced, raw.outstanding, raw.collected]),
      );
    });

    test('default range is the last 12 local months (future due dates are outside it)', async () => {
      const report = await list<MonthlyRevenueRow>('monthly');
      const expected = await byMonth((schoolId, month) => {
        const current = todayIn(zoneOf(schoolId)).slice(0, 7);
        const [year = 0, m = 0] = current.split('-').map(Number);
        const first = new Date(Date.UTC(year, m - 1 - 11, 1)).toISOString().slice(0, 7);
        return month >= first && month <= current;
      });
      assert.deepEqual(report, expected);
      const futureMonth = f.future.slice(0, 7);
      if (futureMonth > todayIn(TZ_A).slice(0, 7)) {
        assert.ok(!report.some((row) => row.month === futureMonth));
      }
      assert.ok(report.length >= 2);
    });
  });

  // --- Across reports: scope, masking, access, paging, input ---------------------------
  const wideQuery = (report: Report): Query => (report === 'daily' ? WIDE_DAILY() : report === 'monthly' ? WIDE_MONTHLY() : {});

  test('school_admin sees exactly school A’s rows, the same numbers as super_admin', async () => {
    for (const report of ALL_REPORTS) {
      const all = await list<{ schoolId: string }>(report, wideQuery(report));
      const mine = await list<{ schoolId: string }>(report, wideQuery(report), tokens.admin);
      assert.ok(mine.length > 0, report);
      assert.ok(all.some((row) => row.schoolId === f.schoolB), `${report}: super_admin sees B`);
      assert.deepEqual(mine, all.filter((row) => row.schoolId === f.schoolA), report);
      const filtered = await list<{ schoolId: string }>(report, { ...wideQuery(report), schoolId: f.schoolA }, tokens.admin);
      assert.deepEqual(filtered, mine, report);
    }
  });

  test('school_admin filtering by school B (or an unknown school) gets 404, not data', async () => {
    for (const report of ALL_REPORTS) {
      for (const schoolId of [f.schoolB, '01890000-0000-7000-8000-000000000000']) {
        const response = await get(report, { ...wideQuery(report), schoolId }, tokens.admin);
        assert.equal(response.statusCode, 404, `${report} ${schoolId}`);
        assert.equal(problemOf(response).code, 'NOT_FOUND');
        assert.doesNotMatch(response.body, /Beta Academy|Carla|Dora/);
      }
      const unknown = await get(report, { ...wideQuery(report), schoolId: '01890000-0000-7000-8000-000000000000' });
      assert.equal(unknown.statusCode, 404, `${report}: unknown school for super_admin`);
    }
  });

  test('finance_analyst sees every school with names as initials and references masked to the last 4', async () => {
    const balances = await list<StudentBalanceRow>('balance', {}, tokens.analyst);
    assert.deepEqual(
      balances.map((row) => [row.studentId, row.studentName]),
      [
        [f.students.anaA, 'A. A.'],
        [f.students.beto, 'B. B.'],
        [f.students.carla, 'C. C.'],
        [f.students.dora, 'D. D.'],
      ].sort(byKey((row) => row[0] ?? '')),
    );
    const clear = await list<PaymentHistoryRow>('payments');
    const masked = await list<PaymentHistoryRow>('payments', {}, tokens.analyst);
    assert.equal(masked.length, 5);
    assert.deepEqual(
      masked.map((row) => [row.paymentId, row.reference, row.studentName, row.amount]),
      clear.map((row) => [row.paymentId, `***${(row.reference ?? '').slice(-4)}`, row.studentName.split(' ').map((part) => `${part[0]}.`).join(' '), row.amount]),
    );
    assert.equal(masked[0]?.reference, '***9000');
    for (const report of ['details', 'overdue'] as const) {
      const rows = await list<{ studentName: string }>(report, {}, tokens.analyst);
      assert.ok(rows.length > 0 && rows.every((row) => /^[A-Z]\. [A-Z]\.$/.test(row.studentName)), report);
    }
    for (const report of ALL_REPORTS) {
      const response = await get(report, { ...wideQuery(report), limit: 500 }, tokens.analyst);
      assert.equal(response.statusCode, 200);
      assert.doesNotMatch(response.body, /Alvarez|Bravo|Cruz|Diaz|REF-/, report);
    }
    // the same numbers as in clear
    assert.deepEqual(
      (await list<SchoolSummaryRow>('summary', {}, tokens.analyst)),
      await list<SchoolSummaryRow>('summary'),
    );
  });

  test('format=csv: every report as a file for people — words, currency units, Currency column, BOM — and raw for machines', async () => {
    const headers: Record<Report, string> = {
      balance: 'Student,School,Grade,Invoices,Invoiced,Paid,Credited,Balance,Overdue,Oldest overdue due date,Currency',
      summary: 'School,Students,Active students,Invoices,Invoiced,Paid,Credited,Pending,Overdue,Collection rate (%),Currency',
      details: 'Invoice,School,Student,Grade,Description,Due date,Status,Amount,Paid,Credited,Pending,Currency,Payments,Last payment (UTC)',
      overdue: 'Invoice,School,Student,Grade,Due date,Days overdue,Amount,Paid,Credited,Pending,Currency',
      payments: 'Paid at (UTC),School,Student,Invoice,Method,Reference,Amount,Refunded,Net,Currency',
      daily: 'Date,School,Payments,Collected,Refunded,Net,Currency',
      monthly: 'Month,School,Invoices,Invoiced,Collected,Outstanding,Currency',
    };
    for (const report of ALL_REPORTS) {
      const json = await list<Record<string, unknown>>(report, wideQuery(report));
      const response = await get(report, { ...wideQuery(report), format: 'csv', limit: 1 });
      assert.equal(response.statusCode, 200, `${report}: ${response.body}`);
      assert.match(String(response.headers['content-type']), /^text\/csv/);
      assert.match(String(response.headers['content-disposition']), /^attachment; filename="bursar-[a-z-]+-all-schools-\d{4}-\d{2}-\d{2}\.csv"; filename\*=/);
      assert.deepEqual([...response.rawPayload.subarray(0, 3)], [0xef, 0xbb, 0xbf], `${report}: BOM`);
      const rows = parse<Record<string, string>>(response.body, { columns: true, bom: true });
      assert.equal(response.rawPayload.subarray(3).toString('utf8').split('\n')[0], headers[report], report);
      assert.equal(rows.length, json.length, `${report}: every row, not one page (limit is for JSON pages)`);
      for (const row of rows) {
        assert.ok(row.Currency === 'MXN' || row.Currency === 'USD');
        for (const [header, value] of Object.entries(row)) {
          if (/^(Invoiced|Paid|Balance|Overdue|Pending|Amount|Refunded|Net|Collected|Outstanding)$/.test(header)) {
            assert.match(value, /^-?\d+\.\d{2}$/, `${report} ${header}: ${value}`);
          }
        }
      }
      const raw = await get(report, { ...wideQuery(report), format: 'csv', style: 'raw' });
      const rawRows = parse<Record<string, string>>(raw.body, { columns: true });
      assert.notEqual(raw.rawPayload[0], 0xef);
      assert.deepEqual(Object.keys(rawRows[0] ?? {}), Object.keys(json[0] ?? {}), `${report}: the JSON fields`);
      assert.deepEqual(
        rawRows.map((row) => Object.values(row)),
        json.map((row) => Object.values(row).map((value) => (value === null ? '' : String(value as string | number | boolean)))),
        `${report}: the JSON values, minor units`,
      );
    }
    // The fixture's numbers, in currency units: school A invoiced 32 000 minor units of MXN = 320.00.
    const summary = parse<Record<string, string>>((await get('summary', { format: 'csv', schoolId: f.schoolA, lang: 'es' })).body, { columns: true, bom: true });
    assert.deepEqual(summary.map((row) => [row.Escuela, row.Facturado, row.Pagado, row.Pendiente, row['Tasa de cobro (%)'], row.Moneda]), [
      ['Colegio Alfa', '320.00', '180.00', '140.00', '56.25', 'MXN'],
    ]);
    const named = await get('summary', { format: 'csv', schoolId: f.schoolA });
    const today = todayIn(TZ_A);
    assert.match(String(named.headers['content-disposition']), new RegExp(`filename="bursar-school-summary-colegio-alfa-${today}\\.csv"`));
    // Masking and neutralisation hold in the file too.
    const masked = await get('payments', { format: 'csv' }, tokens.analyst);
    assert.ok(!/Alvarez|Bravo|Cruz|Diaz/.test(masked.body));
    for (const row of parse<Record<string, string>>(masked.body, { columns: true, bom: true })) {
      assert.match(row.Reference ?? '', /^(\*\*\*.{4})?$/);
    }
    // A school outside the caller's scope is a 404 in CSV too.
    assert.equal((await get('summary', { format: 'csv', schoolId: f.schoolB }, tokens.admin)).statusCode, 404);
    assert.equal((await get('summary', { format: 'xml' })).statusCode, 400);
  });

  test('developer gets 403 and anonymous 401 on every report', async () => {
    for (const report of ALL_REPORTS) {
      const developer = await get(report, {}, tokens.developer);
      assert.equal(developer.statusCode, 403, report);
      assert.equal(problemOf(developer).code, 'FORBIDDEN');
      const anonymous = await get(report, {}, null);
      assert.equal(anonymous.statusCode, 401, report);
      assert.equal(problemOf(anonymous).code, 'UNAUTHENTICATED');
    }
  });

  test('keyset pagination with limit=1 walks every row exactly once, in order', async () => {
    for (const report of ALL_REPORTS) {
      for (const token of [tokens.super, tokens.admin]) {
        const all = await list<object>(report, wideQuery(report), token);
        const walked = await walk<object>(report, wideQuery(report), token);
        // super_admin's lists all have several rows; school A alone has one summary and one overdue row
        assert.ok(all.length >= (token === tokens.super ? 2 : 1), `${report} has enough rows to page`);
        assert.deepEqual(walked.rows, all, report);
        // one page per row, plus none: the last row's page already says there is no more
        assert.equal(walked.pages, all.length, report);
      }
    }
  });

  test('a cursor survives a filter and does not leak past it', async () => {
    const first = await get('payments', { limit: 2, schoolId: f.schoolA });
    const page = first.json<PageBody<PaymentHistoryRow>>();
    assert.equal(page.data.length, 2);
    assert.ok(page.nextCursor);
    const rest = await list<PaymentHistoryRow>('payments', { schoolId: f.schoolA, cursor: page.nextCursor });
    assert.deepEqual(rest.map((row) => row.paymentId), [f.payments.paidA2, f.payments.paidA1]);
  });

  test('bad input is a 400 problem naming the field', async () => {
    const expectField = async (report: Report, query: Query, field: string) => {
      const response = await get(report, query);
      assert.equal(response.statusCode, 400, `${report} ${JSON.stringify(query)}: ${response.body}`);
      const problem = problemOf(response);
      assert.ok(problem.errors?.some((error) => error.field === field), `${report} ${JSON.stringify(query)} names ${field}: ${response.body}`);
    };
    for (const report of ALL_REPORTS) {
      await expectField(report, { limit: 0 }, 'limit');
      await expectField(report, { limit: 501 }, 'limit');
      await expectField(report, { schoolId: 'school-a' }, 'schoolId');
      await expectField(report, { cursor: 'not-a-cursor' }, 'cursor');
      await expectField(report, { schoolID: f.schoolA }, 'schoolID');
    }
    // a cursor of another list
    const studentCursor = (await get('balance', { limit: 1 })).json<PageBody<unknown>>().nextCursor ?? '';
    await expectField('overdue', { cursor: studentCursor }, 'cursor');
    await expectField('payments', { cursor: studentCursor }, 'cursor');

    await expectField('balance', { onlyWithBalance: 'maybe' }, 'onlyWithBalance');
    await expectField('details', { status: 'LATE' }, 'status');
    await expectField('details', { dueFrom: '2026-02-30' }, 'dueFrom');
    await expectField('details', { dueFrom: '2026-03-02', dueTo: '2026-03-01' }, 'dueFrom');
    await expectField('overdue', { minDaysOverdue: 0 }, 'minDaysOverdue');
    await expectField('overdue', { minDaysOverdue: 'ten' }, 'minDaysOverdue');
    await expectField('payments', { from: '2026-03-01' }, 'from');
    await expectField('payments', { method: 'bitcoin' }, 'method');
    await expectField('payments', { from: '2026-03-02T00:00:00Z', to: '2026-03-01T00:00:00Z' }, 'from');
    await expectField('daily', { from: '2026-13-01' }, 'from');
    await expectField('daily', { to: 'yesterday' }, 'to');
    await expectField('daily', { from: '2026-03-02', to: '2026-03-01' }, 'from');
    await expectField('daily', { from: '2025-01-01', to: '2026-01-02' }, 'from'); // 367 days
    await expectField('daily', { from: utcDay(-400) }, 'from'); // to defaults to today
    await expectField('monthly', { from: '2026-13' }, 'from');
    await expectField('monthly', { to: '2026-1' }, 'to');
    await expectField('monthly', { from: '2026-03', to: '2026-02' }, 'from');
    await expectField('monthly', { from: '2023-01', to: '2026-01' }, 'from'); // 37 months

    // the limits themselves are accepted
    assert.equal((await get('daily', { from: '2025-01-01', to: '2026-01-01' })).statusCode, 200); // 366 days
    assert.equal((await get('monthly', { from: '2023-02', to: '2026-01' })).statusCode, 200); // 36 months
  });
});

/**
 * Data the shared fixture does not have: soft-deleted schools and students (left out of
 * every report), payments at the same instant and within one millisecond (keyset ties
 * and microsecond cursors), and movements near local midnight (days and months are the
 * school's own).
 */
describe('billing reports: soft deletes, ties and local calendars', () => {
  let t: TestApp;
  let f: BillingFixture;
  let token = '';
  let ghostSchool = '';
  let ghostStudent = '';
  let tiePayments: string[] = [];

  before(async () => {
    t = await createTestApp();
    f = await seedBillingFixture(t.db);
    await insertUser(t.db, { username: 'edge.super', role: 'super_admin' });
    token = (await login(t.app, 'edge.super')).accessToken;

    // A deleted school with a live student, an overdue invoice and a payment.
    ghostSchool = (await t.db.insertInto('schools').values({ name: 'Ghost School', currency: 'MXN', timezone: 'America/Mexico_City' }).returning('id').executeTakeFirstOrThrow()).id;
    const ghostPupil = (await t.db.insertInto('students').values({ school_id: ghostSchool, first_name: 'Gus', last_name: 'Ghost', grade: '1' }).returning('id').executeTakeFirstOrThrow()).id;
    const ghostInvoice = (await t.db.insertInto('invoices').values({ school_id: ghostSchool, student_id: ghostPupil, number: 'G-1', amount: 1_000, paid_amount: 500, due_date: f.past }).returning('id').executeTakeFirstOrThrow()).id;
    await t.db.insertInto('payments').values({ school_id: ghostSchool, invoice_id: ghostInvoice, amount: 500, method: 'cash', paid_at: new Date(Date.now() - 3 * DAY_MS) }).execute();
    await t.db.updateTable('schools').set({ deleted_at: new Date() }).where('id', '=', ghostSchool).execute();

    // A deleted student in school A with an overdue invoice, a payment and a refund.
    ghostStudent = (await t.db.insertInto('students').values({ school_id: f.schoolA, first_name: 'Eva', last_name: 'Eco', grade: '3' }).returning('id').executeTakeFirstOrThrow()).id;
    const evaInvoice = (await t.db.insertInto('invoices').values({ school_id: f.schoolA, student_id: ghostStudent, number: 'E-1', amount: 4_000, paid_amount: 1_000, due_date: f.past }).returning('id').executeTakeFirstOrThrow()).id;
    const evaPayment = (await t.db.insertInto('payments').values({ school_id: f.schoolA, invoice_id: evaInvoice, amount: 2_000, method: 'cash', paid_at: new Date(Date.now() - 2 * DAY_MS) }).returning('id').executeTakeFirstOrThrow()).id;
    await t.db.insertInto('refunds').values({ school_id: f.schoolA, payment_id: evaPayment, invoice_id: evaInvoice, amount: 1_000 }).execute();
    await t.db.updateTable('students').set({ deleted_at: new Date() }).where('id', '=', ghostStudent).execute();

    // School A, 2020: an invoice of 5 000 paid by five payments — three within one
    // millisecond (two at the very same microsecond) and two just before local midnight.
    const invoice = (await t.db.insertInto('invoices').values({ school_id: f.schoolA, student_id: f.students.anaA, number: 'T-1', amount: 5_000, paid_amount: 5_000, due_date: '2020-01-10' }).returning('id').executeTakeFirstOrThrow()).id;
    const pay = async (paidAt: string) =>
      (
        await sql<{ id: string }>`insert into payments (school_id, invoice_id, amount, method, reference, paid_at)
          values (${f.schoolA}, ${invoice}, 1000, 'cash', ${`TIE-${paidAt}`}, ${paidAt}::timestamptz) returning id`.execute(t.db)
      ).rows[0]?.id ?? '';
    tiePayments = [
      await pay('2020-03-01T12:00:00.123456Z'),
      await pay('2020-03-01T12:00:00.123456Z'),
      await pay('2020-03-01T12:00:00.123789Z'),
    ];
    await pay('2020-01-15T03:30:00Z'); // 2020-01-14 21:30 in Mexico City
    await pay('2020-02-01T05:00:00Z'); // 2020-01-31 23:00 in Mexico City
  });
  after(() => t.close());

  const list = async <T>(report: Report, query: Query = {}): Promise<T[]> => {
    const response = await t.app.inject({ method: 'GET', url: urlOf(report, { limit: 500, ...query }), headers: bearer(token) });
    assert.equal(response.statusCode, 200, response.body);
    return response.json<PageBody<T>>().data;
  };

  test('soft-deleted schools and students appear in no report and count in no total', async () => {
    for (const report of ALL_REPORTS) {
      const query = report === 'daily' ? WIDE_DAILY() : report === 'monthly' ? WIDE_MONTHLY() : {};
      const response = await t.app.inject({ method: 'GET', url: urlOf(report, { ...query, limit: 500 }), headers: bearer(token) });
      assert.equal(response.statusCode, 200);
      assert.doesNotMatch(response.body, new RegExp(`Ghost|Eva|Eco|${ghostSchool}|${ghostStudent}`), report);
      const filtered = await t.app.inject({ method: 'GET', url: urlOf(report, { ...query, schoolId: ghostSchool }), headers: bearer(token) });
      assert.equal(filtered.statusCode, 404, `${report}: a deleted school is not found`);
    }
    const [summaryA] = await list<SchoolSummaryRow>('summary', { schoolId: f.schoolA });
    // the fixture's numbers (plus the fully paid 2020 invoice), not Eva's 4 000
    assert.equal(summaryA?.totalStudents, 2);
    assert.equal(summaryA?.invoiceCount, 5);
    assert.equal(summaryA?.totalInvoiced, 37_000);
    assert.equal(summaryA?.totalOverdue, 3_000);
    const daily = await list<DailyCollectionsRow>('daily', { schoolId: f.schoolA });
    assert.equal(sum(daily.map((row) => row.collected)), 11_000, 'Eva’s payment of 2 days ago is not collected');
    assert.equal(sum(daily.map((row) => row.refunded)), 3_000, 'nor her refund');
  });

  test('payments at the same instant and within one millisecond page exactly once', async () => {
    const query = { from: '2020-03-01T00:00:00Z', to: '2020-03-02T00:00:00Z' };
    const all = await list<PaymentHistoryRow>('payments', query);
    assert.equal(all.length, 3);
    assert.equal(all[0]?.paymentId, tiePayments[2], 'the later microsecond first');
    assert.deepEqual(all.slice(1).map((row) => row.paymentId), [tiePayments[0], tiePayments[1]].sort().reverse(), 'ties: id desc');
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const response = await t.app.inject({ method: 'GET', url: urlOf('payments', { ...query, limit: 1, cursor }), headers: bearer(token) });
      const page = response.json<PageBody<PaymentHistoryRow>>();
      seen.push(...page.data.map((row) => row.paymentId));
      cursor = page.nextCursor ?? undefined;
    } while (cursor !== undefined && seen.length < 10);
    assert.deepEqual(seen, all.map((row) => row.paymentId));
  });

  test('days and months are the school’s local calendar, not UTC', async () => {
    const days = await list<DailyCollectionsRow>('daily', { schoolId: f.schoolA, from: '2020-01-14', to: '2020-01-15' });
    assert.deepEqual(days.map((row) => [row.date, row.paymentCount, row.collected]), [['2020-01-14', 1, 1_000]]);
    const months = await list<MonthlyRevenueRow>('monthly', { schoolId: f.schoolA, from: '2020-01', to: '2020-03' });
    assert.deepEqual(
      months.map((row) => [row.month, row.invoiceCount, row.invoiced, row.collected, row.outstanding]),
      [
        ['2020-03', 0, 0, 3_000, 0],
        ['2020-01', 1, 5_000, 2_000, 0], // the 2020-02-01T05:00Z payment is still January in Mexico City
      ],
    );
  });
});
