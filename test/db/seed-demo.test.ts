import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { seedDemoData, STUDENTS_PER_SCHOOL } from '../../src/db/seed-demo.js';
import { formatLedgerInvariantReport, verifyLedgerInvariant } from '../../src/modules/ledger/ledger.verify.js';
import { formatReport, verifyRollups } from '../../src/modules/reporting/rollups.js';
import { client } from '../helpers/api.js';
import { createTestApp, login, PASSWORD, type TestApp } from '../helpers/app.js';

/**
 * The demo seed (first start of `npm start`) as of a fixed day: demo schools marked as
 * such, a realistic mix of bills, one invoice numbering with the API, and nothing dated
 * after "now" (issue 15, points 7 and 11); families, a fee plan, discounts and the year
 * billed by bill runs (issue 16, point 11).
 */
describe('demo seed', () => {
  let t: TestApp;
  // Early in a month, before its bills fall due: the old seed dated this month's failed
  // attempts on the 9th, in the future (point 7). Next month's bills are not issued yet.
  const NOW = new Date('2026-09-03T08:00:00Z');

  before(async () => {
    t = await createTestApp();
    assert.equal(await seedDemoData(t.db, { password: PASSWORD, now: NOW }), true);
  });
  after(() => t.close());

  test('runs once: a second call finds the marker and writes nothing', async () => {
    const count = async () => Number((await sql<{ n: number }>`select count(*)::int as n from invoices`.execute(t.db)).rows[0]?.n);
    const before = await count();
    assert.equal(await seedDemoData(t.db, { password: PASSWORD, now: NOW }), false);
    assert.equal(await count(), before);
  });

  // The ledger stamps its own rows (payments, receipts, credit notes) with the time it
  // wrote them; the story's dates — when a bill was issued, paid, attempted — are these.
  test('nothing it writes is dated after now: payments, attempts, bills, bill runs, students, schools', async () => {
    const { rows } = await sql<{ what: string; latest: Date | null }>`
      select 'transactions.created_at' as what, max(created_at) as latest from transactions
      union all select 'payments.paid_at', max(paid_at) from payments
      union all select 'family_payments.paid_at', max(paid_at) from family_payments
      union all select 'bill_runs.created_at', max(created_at) from bill_runs
      union all select 'bill_runs.finished_at', max(finished_at) from bill_runs
      union all select 'invoices.created_at', max(created_at) from invoices
      union all select 'invoices.updated_at', max(updated_at) from invoices
      union all select 'students.created_at', max(created_at) from students
      union all select 'students.enrolled_at', max(enrolled_at)::timestamptz from students
      union all select 'schools.created_at', max(created_at) from schools`.execute(t.db);
    for (const row of rows) {
      assert.ok(row.latest !== null, row.what);
      assert.ok(row.latest.getTime() <= NOW.getTime(), `${row.what} ${row.latest.toISOString()} is after ${NOW.toISOString()}`);
    }
    const failed = await sql<{ n: number }>`select count(*)::int as n from transactions where status = 'failed'`.execute(t.db);
    assert.ok((failed.rows[0]?.n ?? 0) > 0, 'some declined cards');
    // Payments never precede their bill, attempts neither.
    const early = await sql<{ n: number }>`
      select count(*)::int as n from transactions t join invoices i on i.id = t.invoice_id where t.created_at < i.created_at`.execute(t.db);
    assert.equal(early.rows[0]?.n, 0);
  });

  test('three demo schools with simulated traffic on, STUDENTS_PER_SCHOOL demo students each with every behaviour', async () => {
    const schools = await t.db.selectFrom('schools').select(['id', 'name', 'is_demo', 'simulator_enabled']).orderBy('name').execute();
    assert.deepEqual(
      schools.map((s) => [s.name, s.is_demo, s.simulator_enabled]),
      [
        ['Colegio Miraflores', true, true],
        ['Instituto Andino', true, true],
        ['Lincoln Bilingual School', true, true],
      ],
    );
    const behaviours = await sql<{ school_id: string; behaviours: string[]; n: number }>`
      select school_id, array_agg(distinct behaviour order by behaviour) as behaviours, count(*)::int as n
        from demo_students group by school_id`.execute(t.db);
    assert.equal(behaviours.rows.length, 3);
    for (const row of behaviours.rows) {
      assert.deepEqual(row.behaviours, ['late', 'never', 'on_time', 'partial']);
      assert.equal(row.n, STUDENTS_PER_SCHOOL);
    }
  });

  test('bills: four past months and this one (next month is issued on the 5th); every school has every status today', async () => {
    const months = await sql<{ due: string }>`select distinct due_date as due from invoices order by 1`.execute(t.db);
    assert.deepEqual(months.rows.map((r) => r.due), ['2026-05-10', '2026-06-10', '2026-07-10', '2026-08-10', '2026-09-10']);
    // Every bill came from a bill run, one run per school and month; none marked as touched by a person.
    const runs = await sql<{ bills: number; unbilled: number; touched: number; runs: number; finished: number }>`
      select (select count(*)::int from invoices) as bills, (select count(*)::int from invoices where bill_run_id is null) as unbilled,
             (select count(*)::int from invoices where touched_by_person_at is not null) as touched,
             (select count(*)::int from bill_runs) as runs, (select count(*)::int from bill_runs where status = 'finished' and not dry_run) as finished`.execute(t.db);
    assert.deepEqual(runs.rows[0], { bills: runs.rows[0]?.bills, unbilled: 0, touched: 0, runs: 3 * 5, finished: 3 * 5 });
    assert.ok((runs.rows[0]?.bills ?? 0) > 3 * STUDENTS_PER_SCHOOL * 5, 'two-payer families get one bill per payer');
    const mix = await sql<{ school_id: string; statuses: string[] }>`
      select school_id, array_agg(distinct status order by status) as statuses
        from (select i.school_id, invoice_status(i.amount, i.paid_amount, i.due_date, i.cancelled_at, s.timezone, ${NOW}) as status
                from invoices i join schools s on s.id = i.school_id) x
       group by school_id`.execute(t.db);
    assert.equal(mix.rows.length, 3);
    for (const row of mix.rows) {
      assert.deepEqual(row.statuses, ['OVERDUE', 'PAID', 'PARTIAL', 'PENDING']);
    }
    const report = await verifyRollups(t.db);
    assert.ok(report.ok, formatReport(report));
  });

  test('invoice numbers: the API’s per-school sequence, in issue order; an API invoice continues it', async () => {
    const schools = await t.db.selectFrom('schools').select(['id']).execute();
    for (const school of schools) {
      const rows = await t.db.selectFrom('invoices').select(['number', 'due_date']).where('school_id', '=', school.id).orderBy('number').execute();
      const perMonth = await sql<{ n: number }>`
        select coalesce(sum(greatest(1, (select count(*) from enrolment_payers p join enrolments e on e.school_id = p.school_id and e.id = p.enrolment_id
                                           where e.school_id = s.school_id and e.student_id = s.id))), 0)::int as n
          from students s where s.school_id = ${school.id}`.execute(t.db);
      assert.equal(rows.length, (perMonth.rows[0]?.n ?? 0) * 5, 'four past months and the current one, one bill per student and payer');
      rows.forEach((row, index) => assert.equal(row.number, `INV-${String(index + 1).padStart(6, '0')}`));
      // Numbered month by month: a later number never has an earlier due date.
      for (let i = 1; i < rows.length; i++) {
        assert.ok((rows[i]?.due_date ?? '') >= (rows[i - 1]?.due_date ?? ''));
      }
    }
    const admin = client(t.app, (await login(t.app, 'super.admin')).accessToken);
    const student = await t.db.selectFrom('students').select(['id', 'school_id']).orderBy('id').executeTakeFirstOrThrow();
    const created = await admin.post('/invoices', { studentId: student.id, amount: 10_000, dueDate: '2026-10-10' });
    assert.equal(created.statusCode, 201, created.body);
    const last = await t.db.selectFrom('invoices').select(['number']).where('school_id', '=', student.school_id).where('id', '<>', created.json<{ id: string }>().id).orderBy('number', 'desc').executeTakeFirstOrThrow();
    assert.equal(created.json<{ number: string }>().number, `INV-${String(Number(last.number.slice(4)) + 1).padStart(6, '0')}`);
    // The API's invoice is a person's: marked, so the simulator leaves it alone.
    const row = await t.db.selectFrom('invoices').select(['touched_by_person_at']).where('id', '=', created.json<{ id: string }>().id).executeTakeFirstOrThrow();
    assert.notEqual(row.touched_by_person_at, null);
  });

  test('families: siblings, two-payer families, guardians named in the school’s language, everyone enrolled in the school’s fee plan', async () => {
    const { rows } = await sql<{ name: string; families: number; siblings: number; twoPayers: number; orphans: number; unenrolled: number; plans: number; items: string[]; bus: number }>`
      select s.name,
             (select count(*)::int from families f where f.school_id = s.id) as families,
             (select count(*)::int from families f where f.school_id = s.id and (select count(*) from students st where st.family_id = f.id) >= 2) as siblings,
             (select count(distinct e.student_id)::int from enrolments e where e.school_id = s.id and (select count(*) from enrolment_payers p where p.school_id = e.school_id and p.enrolment_id = e.id) = 2) as "twoPayers",
             (select count(*)::int from students st where st.school_id = s.id and st.family_id is null) as orphans,
             (select count(*)::int from students st where st.school_id = s.id and not exists (select 1 from enrolments e where e.school_id = st.school_id and e.student_id = st.id)) as unenrolled,
             (select count(*)::int from fee_plans p where p.school_id = s.id) as plans,
             (select array_agg(i.code order by i.position) from fee_plan_items i where i.school_id = s.id) as items,
             (select count(*)::int from enrolments e where e.school_id = s.id and 'transport' = any(e.optional_items)) as bus
        from schools s order by s.name`.execute(t.db);
    assert.equal(rows.length, 3);
    for (const row of rows) {
      assert.ok(row.families > 30 && row.families < STUDENTS_PER_SCHOOL, JSON.stringify(row));
      assert.ok(row.siblings >= 10 && row.twoPayers >= 5, JSON.stringify(row));
      assert.deepEqual([row.orphans, row.unenrolled, row.plans, row.items], [0, 0, 1, ['tuition', 'enrolment', 'transport']], JSON.stringify(row));
      assert.ok(row.bus > 10 && row.bus < STUDENTS_PER_SCHOOL, JSON.stringify(row));
    }
    // Two-payer shares sum to one; guardians have e-mail and phone, in the school's language.
    const shares = await sql<{ bad: number }>`
      select count(*)::int as bad from (select enrolment_id from enrolment_payers group by 1 having sum(share) <> 1) x`.execute(t.db);
    assert.equal(shares.rows[0]?.bad, 0);
    const guardians = await sql<{ name: string; relationships: string[]; noContact: number; spanish: number }>`
      select s.name, array_agg(distinct g.relationship order by g.relationship) as relationships,
             count(*) filter (where g.email is null or g.phone is null)::int as "noContact",
             count(*) filter (where g.first_name || g.last_name ~ '[áéíóúñ]')::int as spanish
        from guardians g join schools s on s.id = g.school_id group by s.name order by s.name`.execute(t.db);
    assert.deepEqual(guardians.rows.map((r) => [r.name, r.relationships, r.noContact, r.spanish > 0]), [
      ['Colegio Miraflores', ['madre', 'padre'], 0, true],
      ['Instituto Andino', ['madre', 'padre'], 0, true],
      ['Lincoln Bilingual School', ['father', 'mother'], 0, false],
    ]);
  });

  test('bills: charge lines with billing keys, the enrolment fee on the first bill, sibling and scholarship discounts as lines, one bill per payer', async () => {
    const lines = await sql<{ charges: number; unkeyed: number; enrolment: number; transport: number; sibling: number; scholarship: number; awards: number }>`
      select count(*) filter (where l.kind = 'charge')::int as charges,
             count(*) filter (where l.kind = 'charge' and (l.billing_key is null or l.enrolment_id is null))::int as unkeyed,
             count(*) filter (where l.item_code = 'enrolment')::int as enrolment,
             count(*) filter (where l.item_code = 'transport' and l.kind = 'charge')::int as transport,
             count(*) filter (where l.kind = 'discount' and r.kind = 'sibling')::int as sibling,
             count(*) filter (where l.kind = 'discount' and r.kind = 'scholarship' and l.award_id is not null)::int as scholarship,
             (select count(*)::int from awards where reason <> '') as awards
        from invoice_lines l join invoices i on i.school_id = l.school_id and i.id = l.invoice_id
        left join discount_rules r on r.school_id = l.school_id and r.id = l.rule_id
       where i.touched_by_person_at is null -- the demo's bills (a test above adds a person's)`.execute(t.db);
    const l = lines.rows[0];
    assert.ok(l && l.charges > 0 && l.unkeyed === 0 && l.transport > 0 && l.sibling > 0 && l.scholarship > 0, JSON.stringify(l));
    assert.equal(l.awards, 3 * 4);
    // The enrolment fee: once per student and payer, on the first month's bill.
    const enrolment = await sql<{ n: number; months: string[] }>`
      select count(*)::int as n, array_agg(distinct due_date::text) as months from invoice_lines where item_code = 'enrolment'`.execute(t.db);
    assert.deepEqual(enrolment.rows[0]?.months, ['2026-05-10']);
    // Every invoice is the sum of its lines; a two-payer student has one bill per payer and month.
    const split = await sql<{ bills: number; payers: number }>`
      select count(*)::int as bills, count(distinct payer_guardian_id)::int as payers from invoices
       where payer_guardian_id is not null group by student_id, due_date limit 1`.execute(t.db);
    assert.deepEqual(split.rows[0], { bills: 2, payers: 2 });
    const report = await verifyLedgerInvariant(t.db);
    assert.ok(report.ok, formatLedgerInvariantReport(report));
  });

  test('money: family payments with one receipt each, allocated oldest first; direct payments with receipts; a few credit notes', async () => {
    const { rows } = await sql<{ familyPayments: number; receipts: number; spread: number; creditNotes: number; direct: number }>`
      select (select count(*)::int from family_payments) as "familyPayments",
             (select count(*)::int from receipts r where r.family_payment_id is not null) as receipts,
             (select count(*)::int from family_payments f where (select count(*) from payments p where p.family_payment_id = f.id) >= 2) as spread,
             (select count(*)::int from invoice_adjustments where kind = 'credit_note') as "creditNotes",
             (select count(*)::int from payments p where p.family_payment_id is null and exists (select 1 from receipts r where r.payment_id = p.id)) as direct`.execute(t.db);
    const money = rows[0];
    assert.ok(money && money.familyPayments > 10 && money.receipts === money.familyPayments && money.spread > 0 && money.direct > 100, JSON.stringify(money));
    assert.equal(money.creditNotes, 3 * 3);
    // Oldest first: no family payment left an older bill of its family open while paying a newer one.
    const skipped = await sql<{ n: number }>`
      select count(*)::int as n from payments p join invoices paid on paid.id = p.invoice_id
       where p.family_payment_id is not null
         and exists (select 1 from invoices older where older.family_id = paid.family_id and older.due_date < paid.due_date
                        and older.cancelled_at is null and older.paid_amount < older.amount
                        and not exists (select 1 from invoice_adjustments a where a.invoice_id = older.id))`.execute(t.db);
    assert.equal(skipped.rows[0]?.n, 0);
  });
});
