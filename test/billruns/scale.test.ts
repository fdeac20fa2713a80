import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { client, type Client } from '../helpers/api.js';
import { createTestApp, insertUser, login, type TestApp } from '../helpers/app.js';
import { waitFor } from '../helpers/wait.js';
import { insertBulkSchool } from './fixtures.js';

interface Totals {
  itemCode: string;
  lines: number;
  charges: number;
  discounts: number;
  amount: number;
}
interface Run {
  id: string | null;
  status: string;
  invoicesCreated: number;
  linesCreated: number;
  progress: { done: number; total: number };
  totals: Totals[];
  error: string | null;
  preview?: { invoices: number; lines: number; totals: Totals[]; firstRows: unknown[] };
}

const STUDENTS = 300;
const INSTALMENTS = 10;

/**
 * A test-sized bill run (300 students × 10 instalments, families, an optional item,
 * sibling and scholarship discounts): counts and sums, no timing (the L-sized run is
 * measured by `npm run bench`).
 */
describe('bill run of a whole school (test size)', () => {
  let t: TestApp;
  let root: Client;
  let schoolId: string;

  before(async () => {
    t = await createTestApp();
    await insertUser(t.db, { username: 'root', role: 'super_admin' });
    root = client(t.app, (await login(t.app, 'root')).accessToken);
    ({ schoolId } = await insertBulkSchool(t.db, { students: STUDENTS, instalments: INSTALMENTS }));
  });
  after(() => t.close());

  test('the dry run and the run agree; Σ invoice amounts = Σ charges − Σ discounts; every instalment billed once', async () => {
    const transportStudents = STUDENTS / 2;
    const charges = STUDENTS * INSTALMENTS * 350_000 + transportStudents * INSTALMENTS * 80_001;

    const dry = await root.post('/bill-runs', { schoolId, through: '2027-07-31', dryRun: true });
    assert.equal(dry.statusCode, 200, dry.body);
    const preview = dry.json<Run>().preview;
    assert.equal(preview?.invoices, STUDENTS * INSTALMENTS);
    assert.equal(preview?.firstRows.length, 20);
    assert.equal(preview?.totals.reduce((s, x) => s + x.charges, 0), charges);
    assert.equal((await t.db.selectFrom('invoices').select((eb) => eb.fn.countAll<number>().as('n')).where('school_id', '=', schoolId).executeTakeFirstOrThrow()).n, 0);

    const response = await root.post('/bill-runs', { schoolId, through: '2027-07-31' });
    assert.equal(response.statusCode, 202, response.body);
    const id = response.json<Run>().id ?? '';
    let run: Run | undefined;
    await waitFor('the bill run to finish', async () => {
      run = (await root.get(`/bill-runs/${id}`)).json<Run>();
      return run.status === 'finished' || run.status === 'failed';
    }, 60_000);
    assert.equal(run?.status, 'finished', run?.error ?? '');
    assert.equal(run?.invoicesCreated, STUDENTS * INSTALMENTS);
    assert.equal(run?.linesCreated, preview?.lines);
    assert.deepEqual(run?.totals, preview?.totals);
    assert.equal(run?.progress.done, run?.progress.total);

    const sums = await sql<{ invoices: number; amount: number; charges: number; discounts: number; lines: number; negative: number; mismatched: number; instalments: number; due: number }>`
      select (select count(*)::int from invoices where school_id = ${schoolId}) as invoices,
             (select coalesce(sum(amount), 0)::bigint from invoices where school_id = ${schoolId}) as amount,
             (select coalesce(sum(amount), 0)::bigint from invoice_lines where school_id = ${schoolId} and kind = 'charge') as charges,
             (select coalesce(sum(amount), 0)::bigint from invoice_lines where school_id = ${schoolId} and kind = 'discount') as discounts,
             (select count(*)::int from invoice_lines where school_id = ${schoolId}) as lines,
             (select count(*)::int from invoices where school_id = ${schoolId} and amount < 0) as negative,
             (select count(*)::int from invoices i
               where i.school_id = ${schoolId}
                 and i.amount <> (select sum(l.amount) from invoice_lines l where l.school_id = i.school_id and l.invoice_id = i.id)) as mismatched,
             (select count(*)::int from invoice_lines where school_id = ${schoolId} and kind = 'charge') as instalments,
             (select count(distinct (enrolment_id, item_code, due_date))::int from invoice_lines where school_id = ${schoolId} and kind = 'charge') as due`.execute(t.db);
    const s = sums.rows[0];
    assert.ok(s);
    assert.equal(s.invoices, STUDENTS * INSTALMENTS);
    assert.equal(s.charges, charges);
    assert.ok(s.discounts < 0, 'sibling and scholarship discounts were given');
    assert.equal(s.amount, s.charges + s.discounts, 'Σ invoice amounts = Σ charges − Σ discounts');
    assert.equal(s.amount, run?.totals.reduce((x, y) => x + y.amount, 0));
    assert.equal(s.lines, run?.linesCreated);
    assert.equal(s.negative, 0);
    assert.equal(s.mismatched, 0, 'every invoice is the sum of its lines');
    assert.equal(s.instalments, STUDENTS * INSTALMENTS + transportStudents * INSTALMENTS);
    assert.equal(s.due, s.instalments, 'every instalment billed once');

    // Sibling discounts: 10 % of tuition for every sibling from the second (earliest enrolment first).
    const siblings = await sql<{ n: number }>`
      with ranked as (
        select s.id, row_number() over (partition by s.family_id order by min(e.from_date), s.created_at, s.id) as n
          from students s join enrolments e on e.student_id = s.id
         where s.school_id = ${schoolId} and s.family_id is not null
         group by s.id)
      select count(*)::int as n from ranked where n >= 2`.execute(t.db);
    const siblingLines = await sql<{ n: number; amount: number }>`
      select count(*)::int as n, coalesce(sum(l.amount), 0)::bigint as amount
        from invoice_lines l join discount_rules r on r.id = l.rule_id
       where l.school_id = ${schoolId} and r.kind = 'sibling'`.execute(t.db);
    assert.equal(siblingLines.rows[0]?.n, (siblings.rows[0]?.n ?? 0) * INSTALMENTS);
    assert.equal(siblingLines.rows[0]?.amount, -(siblings.rows[0]?.n ?? 0) * INSTALMENTS * 35_000);

    const again = await root.post('/bill-runs', { schoolId, through: '2027-07-31' });
    assert.equal(again.statusCode, 201, 'nothing left to bill: answered in the request');
    assert.equal(again.json<Run>().invoicesCreated, 0);
  });
});
