import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { sql } from 'kysely';
import type { PaymentMethod } from '../../src/db/types.js';
import { foldRollupDeltas, formatReport, refreshRollups, verifyRollups, type VerifyReport } from '../../src/modules/reporting/rollups.js';
import { client, type Client } from '../helpers/api.js';
import { createTestApp, insertUser, login, type TestApp } from '../helpers/app.js';

/**
 * The dashboard's rollup tables (migration 0003) against a full recomputation from the
 * raw tables (src/modules/reporting/rollups.ts, the module behind `npm run verify`):
 * random API operations, concurrent payments, bulk statements, a time-zone change,
 * a refresh from scratch, and deliberate corruption that verify must catch.
 */

const METHODS: PaymentMethod[] = ['card', 'bank_transfer', 'cash', 'cash_voucher', 'direct_debit', 'wallet'];
const GRADES = ['1', '2', '3', 'K'];
const DUE_DATES = ['2020-01-15', '2024-06-30', '2099-01-15', '2099-02-01'];
const HOUR = 3_600_000;

type Op =
  | { kind: 'create'; school: number; student: number; amount: number; due: number }
  | { kind: 'pay'; invoice: number; amount: number; method: number; hoursAgo: number }
  | { kind: 'refund'; payment: number; amount: number }
  | { kind: 'cancel'; invoice: number }
  | { kind: 'patch'; invoice: number; amount?: number; due?: number }
  | { kind: 'grade'; school: number; student: number; grade: number }
  | { kind: 'deleteStudent'; school: number; student: number }
  | { kind: 'adjust'; adjustment: 'credit-notes' | 'write-offs'; invoice: number; amount: number };

const createArbitrary: fc.Arbitrary<Op> = fc.record({
  kind: fc.constant('create' as const),
  school: fc.nat(1),
  student: fc.nat(2),
  amount: fc.integer({ min: 1, max: 20_000 }),
  due: fc.nat(DUE_DATES.length - 1),
});

const opArbitrary: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: createArbitrary },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('pay' as const), invoice: fc.nat(), amount: fc.integer({ min: 1, max: 12_000 }), method: fc.nat(METHODS.length - 1), hoursAgo: fc.nat(72) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('refund' as const), payment: fc.nat(), amount: fc.integer({ min: 1, max: 8_000 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('cancel' as const), invoice: fc.nat() }) },
  {
    weight: 2,
    arbitrary: fc.record(
      { kind: fc.constant('patch' as const), invoice: fc.nat(), amount: fc.integer({ min: 1, max: 25_000 }), due: fc.nat(DUE_DATES.length - 1) },
      { requiredKeys: ['kind', 'invoice'] },
    ),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('grade' as const), school: fc.nat(1), student: fc.nat(2), grade: fc.nat(GRADES.length - 1) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('deleteStudent' as const), school: fc.nat(1), student: fc.nat(2) }) },
  // Credit notes and write-offs settle an invoice without money (paid_amount and credited_amount move, no payment row).
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('adjust' as const),
      adjustment: fc.constantFrom('credit-notes' as const, 'write-offs' as const),
      invoice: fc.nat(),
      amount: fc.integer({ min: 1, max: 8_000 }),
    }),
  },
);

function assertExact(report: VerifyReport, message = 'rollups equal a full recomputation') {
  assert.ok(report.ok, `${message}\n${formatReport(report)}`);
}

async function rollupRows(t: TestApp) {
  await foldRollupDeltas(t.db);
  const invoices = await sql`select * from invoice_rollups order by school_id, grade, due_date`.execute(t.db);
  const payments = await sql`select * from payment_rollups order by school_id, grade, method, paid_on`.execute(t.db);
  return { invoices: invoices.rows, payments: payments.rows };
}

describe('reporting rollups', () => {
  let t: TestApp;
  let api: Client;
  // Zones far apart, so one instant often falls on different local days.
  const schools: string[] = [];

  before(async () => {
    t = await createTestApp();
    await insertUser(t.db, { username: 'roller', role: 'super_admin' });
    api = client(t.app, (await login(t.app, 'roller')).accessToken);
    for (const [name, timezone, currency] of [
      ['Kiritimati School', 'Pacific/Kiritimati', 'AUD'],
      ['Honolulu School', 'Pacific/Honolulu', 'USD'],
    ] as const) {
      const response = await api.post('/schools', { name, timezone, currency });
      assert.equal(response.statusCode, 201, response.body);
      schools.push(response.json<{ id: string }>().id);
    }
  });
  after(() => t.close());

  test('random create / pay / refund / cancel / patch / grade change / student delete sequences keep the rollups exact', async () => {
    let succeeded = 0;
    const outcomes = new Map<string, number>();
    await fc.assert(
      // Every sequence opens with two invoices, so payments and refunds have something to act on.
      fc.asyncProperty(fc.array(createArbitrary, { minLength: 2, maxLength: 2 }), fc.array(opArbitrary, { minLength: 5, maxLength: 25 }), async (opening, rest) => {
        const ops: Op[] = [...opening, ...rest];
        const students: string[][] = [];
        for (const schoolId of schools) {
          const ids: string[] = [];
          for (let i = 0; i < 3; i++) {
            const response = await api.post('/students', { schoolId, firstName: 'Roll', lastName: `Up${i}`, grade: GRADES[i % GRADES.length] });
            assert.equal(response.statusCode, 201, response.body);
            ids.push(response.json<{ id: string }>().id);
          }
          students.push(ids);
        }
        const invoices: string[] = [];
        const payments: string[] = [];
        const pick = <T>(list: T[], index: number) => list[index % Math.max(1, list.length)];

        for (const op of ops) {
          let status = 0;
          switch (op.kind) {
            case 'create': {
              const studentId = students[op.school]?.[op.student] ?? '';
              const response = await api.post('/invoices', { studentId, amount: op.amount, dueDate: DUE_DATES[op.due] });
              status = response.statusCode;
              if (status === 201) {
                invoices.push(response.json<{ id: string }>().id);
              }
              break;
            }
            case 'pay': {
              const invoiceId = pick(invoices, op.invoice);
              if (invoiceId) {
                const paidAt = new Date(Date.now() - op.hoursAgo * HOUR).toISOString();
                const response = await api.pay({ invoiceId, amount: op.amount, method: METHODS[op.method], paidAt });
                status = response.statusCode;
                if (status === 201) {
                  payments.push(response.json<{ id: string }>().id);
                }
              }
              break;
            }
            case 'refund': {
              const paymentId = pick(payments, op.payment);
              if (paymentId) {
                status = (await api.refund(paymentId, { amount: op.amount })).statusCode;
              }
              break;
            }
            case 'cancel': {
              const invoiceId = pick(invoices, op.invoice);
              if (invoiceId) {
                status = (await api.delete(`/invoices/${invoiceId}`)).statusCode;
              }
              break;
            }
            case 'patch': {
              const invoiceId = pick(invoices, op.invoice);
              if (invoiceId && (op.amount !== undefined || op.due !== undefined)) {
                const body = { ...(op.amount !== undefined ? { amount: op.amount } : {}), ...(op.due !== undefined ? { dueDate: DUE_DATES[op.due] } : {}) };
                status = (await api.patch(`/invoices/${invoiceId}`, body)).statusCode;
              }
              break;
            }
            case 'grade': {
              const studentId = students[op.school]?.[op.student] ?? '';
              status = (await api.patch(`/students/${studentId}`, { grade: GRADES[op.grade] })).statusCode;
              break;
            }
            case 'deleteStudent': {
              const studentId = students[op.school]?.[op.student] ?? '';
              status = (await api.delete(`/students/${studentId}`)).statusCode;
              break;
            }
            case 'adjust': {
              const invoiceId = pick(invoices, op.invoice);
              if (invoiceId) {
                status = (await api.post(`/invoices/${invoiceId}/${op.adjustment}`, { amount: op.amount, reason: 'rollup property' }, { 'idempotency-key': randomUUID() })).statusCode;
              }
              break;
            }
          }
          assert.ok(status === 0 || status < 500, `${op.kind} answered ${status}`);
          if (status >= 200 && status < 300) {
            succeeded++;
          }
          outcomes.set(`${op.kind} ${status}`, (outcomes.get(`${op.kind} ${status}`) ?? 0) + 1);
        }
        assertExact(await verifyRollups(t.db));
      }),
      { numRuns: 25 },
    );
    // The property must have exercised real writes, not only refused requests.
    assert.ok(succeeded > 100, `only ${succeeded} operations succeeded: ${JSON.stringify([...outcomes])}`);
    assert.ok((outcomes.get('adjust 201') ?? 0) > 0, `credit notes and write-offs were written: ${JSON.stringify([...outcomes])}`);
    const rows = await rollupRows(t);
    assert.ok(rows.invoices.length > 0 && rows.payments.length > 0, 'rollups hold buckets');
  });

  test('30 concurrent payments (and grade changes) on a few invoices of one school keep the rollups exact', async () => {
    const schoolId = schools[0] ?? '';
    const studentIds: string[] = [];
    const invoiceIds: string[] = [];
    for (let i = 0; i < 3; i++) {
      const student = await api.post('/students', { schoolId, firstName: 'Busy', lastName: `Payer${i}`, grade: '2' });
      studentIds.push(student.json<{ id: string }>().id);
      const invoice = await api.post('/invoices', { studentId: student.json<{ id: string }>().id, amount: 1_000_000, dueDate: '2030-03-01' });
      assert.equal(invoice.statusCode, 201, invoice.body);
      invoiceIds.push(invoice.json<{ id: string }>().id);
    }
    const before = await sql<{ total: number }>`select coalesce(sum(amount), 0)::bigint as total from payment_rollups where school_id = ${schoolId}`.execute(t.db);
    const work = [
      ...Array.from({ length: 30 }, (_, i) =>
        api.pay({ invoiceId: invoiceIds[i % invoiceIds.length], amount: 100 + i, method: METHODS[i % METHODS.length] }),
      ),
      ...studentIds.map((id, i) => api.patch(`/students/${id}`, { grade: GRADES[(i + 2) % GRADES.length] })),
    ];
    const responses = await Promise.all(work);
    for (const response of responses) {
      assert.ok(response.statusCode === 200 || response.statusCode === 201, `${response.statusCode} ${response.body}`);
    }
    assertExact(await verifyRollups(t.db));
    const afterPay = await sql<{ total: number }>`select coalesce(sum(amount), 0)::bigint as total from payment_rollups where school_id = ${schoolId}`.execute(t.db);
    const expected = Array.from({ length: 30 }, (_, i) => 100 + i).reduce((a, b) => a + b, 0);
    assert.equal((afterPay.rows[0]?.total ?? 0) - (before.rows[0]?.total ?? 0), expected);
  });

  test('writers append deltas (0035): exact with them waiting, through a refresh, a zone and a currency change, concurrent folds, and a reader that folds', async () => {
    const schoolId = schools[1] ?? '';
    const student = await api.post('/students', { schoolId, firstName: 'Delta', lastName: 'Payer', grade: '3' });
    assert.equal(student.statusCode, 201, student.body);
    const invoice = await api.post('/invoices', { studentId: student.json<{ id: string }>().id, amount: 900_000, dueDate: '2030-04-01' });
    assert.equal(invoice.statusCode, 201, invoice.body);
    const invoiceId = invoice.json<{ id: string }>().id;
    const waiting = async () =>
      Number((await sql<{ n: number }>`select (select count(*) from invoice_rollup_deltas) + (select count(*) from payment_rollup_deltas) as n`.execute(t.db)).rows[0]?.n);
    const pay = async (amount: number) => {
      const response = await api.pay({ invoiceId, amount, method: 'cash' });
      assert.equal(response.statusCode, 201, response.body);
    };
    const exactUnfolded = async (message: string) => {
      assert.ok((await waiting()) > 0, `${message}: deltas wait`);
      assertExact(await verifyRollups(t.db, { fold: false }), message);
    };

    await pay(1_000);
    await pay(1_100);
    await exactUnfolded('a payment waiting');
    // A refresh rebuilds the school with what its deltas held and drops them.
    await refreshRollups(t.db, schoolId);
    await pay(1_200);
    await exactUnfolded('after a refresh');
    // A zone or currency change moves the folded part; the waiting part follows at its fold.
    await sql`update schools set timezone = 'Pacific/Auckland' where id = ${schoolId}`.execute(t.db);
    await pay(1_300);
    await exactUnfolded('after a time-zone change');
    await sql`update schools set currency = 'NZD' where id = ${schoolId}`.execute(t.db);
    await exactUnfolded('after a currency change');
    await foldRollupDeltas(t.db);
    assert.equal(await waiting(), 0);
    assertExact(await verifyRollups(t.db, { fold: false }), 'folded');

    // Payments racing folds (waiting and not): nothing lost, nothing counted twice.
    const folds = Array.from({ length: 10 }, (_, i) => foldRollupDeltas(t.db, i % 2 === 0));
    await Promise.all([...Array.from({ length: 20 }, (_, i) => pay(10 + i)), ...folds]);
    assertExact(await verifyRollups(t.db, { fold: false }), 'payments and folds at once');
    // A reader folds first.
    await pay(1_400);
    assert.ok((await waiting()) > 0);
    const dashboard = await api.get(`/reports/dashboard?schoolId=${schoolId}`);
    assert.equal(dashboard.statusCode, 200, dashboard.body);
    assert.equal(await waiting(), 0, 'the dashboard folded before reading');
    assertExact(await verifyRollups(t.db, { fold: false }), 'after the dashboard');
  });

  test('multi-row statements (bulk insert, bulk update, bulk grade change) and a time-zone change keep the rollups exact', async () => {
    const [schoolA = '', schoolB = ''] = schools;
    await sql`
      insert into students (school_id, first_name, last_name, grade)
      select s, 'Bulk', 'Student' || g, (g % 3 + 1)::text from unnest(array[${schoolA}::uuid, ${schoolB}::uuid]) s, generate_series(1, 20) g`.execute(t.db);
    await sql`
      insert into invoices (school_id, student_id, number, amount, paid_amount, due_date)
      select st.school_id, st.id, 'BULK-' || substr(md5(st.id::text || '-' || n), 1, 24), 1000 * n, case when n % 2 = 0 then 500 * n else 0 end, date '2025-01-01' + n * 17
        from students st, generate_series(1, 5) n
       where st.first_name = 'Bulk'`.execute(t.db);
    await sql`
      insert into payments (school_id, invoice_id, amount, method, paid_at)
      select i.school_id, i.id, i.paid_amount, 'cash', now() - (n || ' hours')::interval
        from invoices i, generate_series(1, 1) n
       where i.number like 'BULK-%' and i.paid_amount > 0`.execute(t.db);
    assertExact(await verifyRollups(t.db), 'after bulk inserts');

    await sql`update invoices set due_date = due_date + 3, amount = amount + 7 where number like 'BULK-%'`.execute(t.db);
    await sql`update invoices set cancelled_at = now() where number like 'BULK-%' and paid_amount = 0 and amount < 3000`.execute(t.db);
    await sql`update students set grade = case grade when '1' then '2' when '2' then '3' else '1' end where first_name = 'Bulk'`.execute(t.db);
    await sql`update students set deleted_at = now() where first_name = 'Bulk' and last_name like '%7'`.execute(t.db);
    assertExact(await verifyRollups(t.db), 'after bulk updates');

    // Every payment's local day moves with the zone.
    await sql`update schools set timezone = 'Asia/Tokyo' where id = ${schoolB}`.execute(t.db);
    assertExact(await verifyRollups(t.db), 'after a time-zone change');
    await sql`update students set deleted_at = null where first_name = 'Bulk'`.execute(t.db);
    await sql`delete from invoices where number like 'BULK-%' and paid_amount = 0 and not exists (select 1 from payments p where p.invoice_id = invoices.id)`.execute(t.db);
    assertExact(await verifyRollups(t.db), 'after undelete and invoice deletes');
  });

  test('refresh_reporting_rollups() rebuilds emptied rollups exactly', async () => {
    const before = await rollupRows(t);
    assert.ok(before.invoices.length > 0 && before.payments.length > 0);
    await sql`delete from invoice_rollups`.execute(t.db);
    await sql`delete from payment_rollups`.execute(t.db);
    const broken = await verifyRollups(t.db);
    assert.equal(broken.ok, false);
    assert.equal(broken.tables[0]?.missing.count, before.invoices.length);
    assert.equal(broken.tables[1]?.missing.count, before.payments.length);

    await refreshRollups(t.db);
    assertExact(await verifyRollups(t.db));
    assert.deepEqual(await rollupRows(t), before, 'the rebuilt rows are the maintained rows');

    // One school at a time leaves the others alone.
    await sql`delete from payment_rollups where school_id = ${schools[1] ?? ''}`.execute(t.db);
    await refreshRollups(t.db, schools[1]);
    assert.deepEqual(await rollupRows(t), before);
  });

  test('verify reports a corrupted bucket (and an inconsistent invoice) as a mismatch', async () => {
    assertExact(await verifyRollups(t.db), 'clean before corruption');

    await sql`update payment_rollups set amount = amount + 1
               where (school_id, grade, method, paid_on) = (select school_id, grade, method, paid_on from payment_rollups order by 1, 2, 3, 4 limit 1)`.execute(t.db);
    let report = await verifyRollups(t.db);
    assert.equal(report.ok, false);
    const payments = report.tables.find((table) => table.table === 'payment_rollups');
    assert.equal(payments?.missing.count, 1);
    assert.equal(payments?.unexpected.count, 1);
    assert.equal(report.tables.find((table) => table.table === 'invoice_rollups')?.unexpected.count, 0);
    assert.match(formatReport(report), /FAIL payment_rollups/);
    assert.match(formatReport(report), /MISMATCH/);

    await sql`insert into invoice_rollups values (${schools[0] ?? ''}, 'ghost', '2001-01-01', 1, 5, 0, 1, 0)`.execute(t.db);
    report = await verifyRollups(t.db);
    assert.equal(report.tables.find((table) => table.table === 'invoice_rollups')?.unexpected.count, 1);
    // the totals follow their buckets (row triggers): the ghost grade and its school's
    // all-grades row are off in invoice_totals too; the payment bucket's +1 is in its four
    // payment_totals rows (grade × method, grade, method, school)
    assert.equal(report.tables.find((table) => table.table === 'invoice_totals')?.unexpected.count, 2);
    assert.equal(report.tables.find((table) => table.table === 'payment_totals')?.unexpected.count, 4);

    // a total changed behind its buckets' back (another school's)
    await sql`update payment_totals set payment_count = payment_count + 1
               where (school_id, grade, method) = (select school_id, grade, method from payment_totals order by 1 desc, 2 desc, 3 desc limit 1)`.execute(t.db);
    report = await verifyRollups(t.db);
    assert.equal(report.tables.find((table) => table.table === 'payment_totals')?.unexpected.count, 5);
    assert.match(formatReport(report), /FAIL payment_totals/);

    await refreshRollups(t.db);
    assertExact(await verifyRollups(t.db), 'repaired by a refresh');

    // paid_amount that disagrees with its payments (the rollups follow it, the invariant does not)
    const invoice = await sql<{ id: string }>`select id from invoices where paid_amount > credited_amount and cancelled_at is null order by id limit 1`.execute(t.db);
    const id = invoice.rows[0]?.id ?? '';
    await sql`update invoices set paid_amount = paid_amount - 1 where id = ${id}`.execute(t.db);
    report = await verifyRollups(t.db);
    assert.equal(report.ok, false);
    assert.equal(report.invoices.bad.count, 1);
    assert.equal(report.invoices.bad.sample[0]?.id, id);
    assert.ok(report.tables.every((table) => table.missing.count === 0 && table.unexpected.count === 0), 'the rollups themselves stayed exact');
    await sql`update invoices set paid_amount = paid_amount + 1 where id = ${id}`.execute(t.db);
    assertExact(await verifyRollups(t.db), 'repaired');
  });

  test('failure counts (0032): kept by the insert trigger per currency, by hour and by day; verify sees a corrupted one; a refresh repairs it', async () => {
    const [first, second] = [schools[0] ?? '', schools[1] ?? ''];
    await sql`
      insert into transactions (school_id, amount, method, status, failure_code, gateway, created_at)
      select case when n % 3 = 0 then ${second}::uuid else ${first}::uuid end, 100 + n, case when n % 2 = 0 then 'card' else 'wallet' end,
             'failed', case when n % 4 = 0 then 'card_declined' else 'timeout' end, case when n % 5 = 0 then 'spei' else 'stripe' end,
             now() - (n * 17 || ' minutes')::interval
        from generate_series(1, 200) n`.execute(t.db);
    // One statement per row, and rows that are not failures, too.
    for (const hoursAgo of [0.1, 0.1, 5, 700]) {
      await sql`insert into transactions (school_id, amount, method, status, failure_code, gateway, created_at)
                values (${first}, 999, 'card', 'failed', 'expired_card', 'stripe', now() - (${hoursAgo} || ' hours')::interval)`.execute(t.db);
    }
    assertExact(await verifyRollups(t.db), 'after failures inserted in bulk and one at a time');
    const stored = await sql<{ n: string }>`select sum(failures)::bigint as n from failure_hours`.execute(t.db);
    const raw = await sql<{ n: string }>`select count(*)::bigint as n from transactions where status = 'failed'`.execute(t.db);
    assert.equal(Number(stored.rows[0]?.n), Number(raw.rows[0]?.n));

    await sql`update failure_hours set failures = failures + 1 where (hour, currency, failure_code, gateway, method) = (select hour, currency, failure_code, gateway, method from failure_hours order by 1, 2, 3, 4, 5 limit 1)`.execute(t.db);
    await sql`delete from failure_days where (day, currency) = (select day, currency from failure_days order by 1 desc, 2 limit 1)`.execute(t.db);
    const report = await verifyRollups(t.db);
    assert.equal(report.ok, false);
    assert.equal(report.tables.find((table) => table.table === 'failure_hours')?.unexpected.count, 1);
    assert.ok((report.tables.find((table) => table.table === 'failure_days')?.missing.count ?? 0) >= 1);
    assert.match(formatReport(report), /FAIL failure_hours/);
    await refreshRollups(t.db);
    assertExact(await verifyRollups(t.db), 'repaired by a refresh');
  });
});
