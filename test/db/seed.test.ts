import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { parseSeedCli, SeedUsageError } from '../../src/db/seed/cli.js';
import { COPY_TABLES, planSeed, SEED_TABLES, tableChunks, writeSchool, type CopyTable } from '../../src/db/seed/generate.js';
import { CopyWriter } from '../../src/db/seed/copy-writer.js';
import { seedDatabase, type SeedResult } from '../../src/db/seed/loader.js';
import { UUID_V7_PATTERN, uuidV7Time } from '../../src/db/seed/uuid.js';
import { createDatabase, type Database, type Db } from '../../src/db/database.js';
import { createBillRunEngine } from '../../src/modules/billruns/billruns.engine.js';
import { createBillRunsRepository } from '../../src/modules/billruns/billruns.repository.js';
import { parseReference, schoolPrefix } from '../../src/modules/families/reference.js';
import { verifyLedgerInvariant } from '../../src/modules/ledger/ledger.verify.js';
import { verifyRollups } from '../../src/modules/reporting/rollups.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';

/**
 * `npm run seed` (src/db/seed, scripts/seed.ts) against real databases: a small data set
 * is loaded twice with the same seed and a fixed "now", then checked for the invariants
 * the application relies on — which the database did not check itself, since the loader
 * skips triggers and foreign keys.
 */
const NOW = new Date('2026-03-05T12:00:00Z'); // the March invoices are not due yet
const SIZES = { schools: 5, students: 200, months: 3, transactions: 3_000 };
const execFileAsync = promisify(execFile);

async function query<T extends pg.QueryResultRow>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

const handles = new Map<string, Database>();
/** A Kysely handle on a test database (closed after the suite), for the modules' own code. */
function kysely(url: string): Db {
  let handle = handles.get(url);
  if (handle === undefined) {
    handle = createDatabase({ connectionString: url, max: 2, applicationName: 'seed-test' });
    handles.set(url, handle);
  }
  return handle.db;
}

const engine = createBillRunEngine(createBillRunsRepository());
const SYSTEM = { principal: null, requestId: null };
/** The last bill run's `through` (the seed bills each month on the 1st through its last day). */
const LAST_THROUGH = '2026-03-31';

async function count(url: string, sql: string): Promise<number> {
  const rows = await query<{ n: number }>(url, `select count(*)::int as n from (${sql}) x`);
  return rows[0]?.n ?? -1;
}

describe('seed', () => {
  let one: TestDatabase;
  let two: TestDatabase;
  let result: SeedResult;
  let url: string;

  before(async () => {
    [one, two] = await Promise.all([createTestDatabase(), createTestDatabase()]);
    url = one.url;
    result = await seedDatabase(url, { ...SIZES, seed: '7', now: NOW });
  });
  after(async () => {
    await Promise.all([...handles.values()].map((handle) => handle.close()));
    await Promise.all([one?.drop(), two?.drop()]);
  });

  test('exact row counts: every table as planned, an invoice per student, payer and month, the requested number of transactions', async () => {
    const counts = Object.fromEntries(await Promise.all(SEED_TABLES.map(async (t) => [t, await count(url, `select 1 from ${t}`)] as const)));
    assert.deepEqual(counts, result.counts);
    assert.equal(counts.schools, 5);
    assert.equal(counts.students, 200);
    assert.equal(counts.transactions, 3_000);
    // One invoice per student and month (the enrolment fee shares the first month's), two for a split family's student.
    const split = await count(url, `select 1 from enrolment_payers where position = 1`);
    assert.equal(counts.invoices, (200 + split) * 3);
    assert.ok(counts.payments > 300, `payments: ${counts.payments}`);
    assert.equal(counts.receipts, counts.payments, 'a receipt per payment');
    assert.equal(await count(url, 'select 1 from users'), 0, 'seeding never creates users');
    // Uneven school sizes.
    const sizes = await query<{ n: number }>(url, 'select count(*)::int as n from students group by school_id');
    assert.equal(sizes.length, 5);
    assert.ok(Math.max(...sizes.map((s) => s.n)) > Math.min(...sizes.map((s) => s.n)));
  });

  test('paid_amount = Σ payments − Σ refunds, 0 ≤ paid ≤ amount, cancelled invoices unpaid', async () => {
    const wrong = await query(
      url,
      `select i.id, i.amount, i.paid_amount, coalesce(p.total, 0) as paid, coalesce(r.total, 0) as refunded
       from invoices i
       left join (select invoice_id, sum(amount) as total from payments group by invoice_id) p on p.invoice_id = i.id
       left join (select invoice_id, sum(amount) as total from refunds group by invoice_id) r on r.invoice_id = i.id
       where i.paid_amount <> coalesce(p.total, 0) - coalesce(r.total, 0)
          or i.paid_amount < 0 or i.paid_amount > i.amount
          or (i.cancelled_at is not null and i.paid_amount <> 0)
          or coalesce(p.total, 0) > i.amount`,
    );
    assert.deepEqual(wrong, []);
    // Refunds never exceed their payment.
    assert.equal(await count(url, `select 1 from refunds r join payments p on p.id = r.payment_id group by p.id, p.amount having sum(r.amount) > p.amount`), 0);
    const cancelled = await count(url, 'select 1 from invoices where cancelled_at is not null');
    assert.ok(cancelled > 0 && cancelled < 60, `a few cancelled invoices (got ${cancelled})`);
    assert.equal(await count(url, `select 1 from invoices i join payments p on p.invoice_id = i.id where i.cancelled_at is not null`), 0);
  });

  test('one succeeded transaction per payment and one refunded per refund, matching them', async () => {
    const unmatched = await count(
      url,
      `select 1 from payments p
       left join transactions t on t.payment_id = p.id and t.status = 'succeeded'
       group by p.id having count(t.id) <> 1`,
    );
    assert.equal(unmatched, 0);
    const mismatched = await query(
      url,
      `select t.id from transactions t join payments p on p.id = t.payment_id
       where t.status = 'succeeded'
         and (t.amount <> p.amount or t.method <> p.method or t.school_id <> p.school_id
              or t.invoice_id is distinct from p.invoice_id or t.created_at <> p.paid_at or t.refund_id is not null)`,
    );
    assert.deepEqual(mismatched, []);
    assert.equal(await count(url, `select 1 from transactions where status = 'succeeded' and payment_id is null`), 0);
    const refunds = await query<{ refunds: number; refunded: number; bad: number }>(
      url,
      `select (select count(*)::int from refunds) as refunds,
              (select count(*)::int from transactions where status = 'refunded') as refunded,
              (select count(*)::int from transactions t left join refunds r on r.id = t.refund_id
                 where t.status = 'refunded' and (r.id is null or r.amount <> t.amount or r.payment_id <> t.payment_id or r.created_at <> t.created_at)) as bad`,
    );
    assert.deepEqual(refunds[0], { refunds: result.counts.refunds, refunded: result.counts.refunds, bad: 0 });
  });

  test('failed attempts fill up the total, with codes, messages and gateways, timed like the payments', async () => {
    const failed = await count(url, `select 1 from transactions where status = 'failed'`);
    assert.equal(failed, 3_000 - result.counts.payments - result.counts.refunds);
    assert.equal(await count(url, `select 1 from transactions where status = 'failed' and (failure_code is null or failure_message is null or gateway is null or gateway = 'internal')`), 0);
    const codes = await query<{ failure_code: string }>(url, `select distinct failure_code from transactions where status = 'failed'`);
    for (const code of ['card_declined', 'insufficient_funds', 'expired_card', 'do_not_honor', 'processing_error']) {
      assert.ok(codes.some((c) => c.failure_code === code), `failure code ${code}`);
    }
    const gateways = await query<{ gateway: string }>(url, `select distinct gateway from transactions where status = 'failed'`);
    assert.ok(gateways.length >= 3, `gateways: ${gateways.map((g) => g.gateway).join(', ')}`);
    // Spread over the period like the payment activity, not piled up at the end: the last
    // 24 hours of this 64-day period hold a few per cent (they fall before a due date)…
    const recent = await count(url, `select 1 from transactions where status = 'failed' and created_at > '${NOW.toISOString()}'::timestamptz - interval '24 hours'`);
    assert.ok(recent > 0 && recent < failed * 0.06, `failed in the last 24 h: ${recent} of ${failed}`);
    // …and most fall in the ten days up to a due date (the 10th), as most payments do.
    const beforeDue = await count(url, `select 1 from transactions where status = 'failed' and extract(day from created_at at time zone 'UTC') <= 10`);
    assert.ok(beforeDue > failed * 0.55, `failed in the days up to a due date: ${beforeDue} of ${failed}`);
    const months = await query<{ n: number }>(url, `select count(*)::int as n from transactions where status = 'failed' group by date_trunc('month', created_at at time zone 'UTC')`);
    assert.equal(months.length, 3);
    assert.ok(Math.min(...months.map((m) => m.n)) > failed * 0.1, `failed per month: ${months.map((m) => m.n).join(', ')}`);
    assert.equal(await count(url, `select 1 from transactions where created_at > '${NOW.toISOString()}'::timestamptz`), 0, 'nothing in the future');
    // Attempts reference invoices of their school that were issued by then.
    assert.equal(await count(url, `select 1 from transactions t join invoices i on i.id = t.invoice_id where t.created_at < i.created_at`), 0);
  });

  test('all four payment behaviours and all six methods occur', async () => {
    const methods = await query<{ method: string }>(url, 'select distinct method from payments order by method');
    assert.deepEqual(methods.map((m) => m.method), ['bank_transfer', 'card', 'cash', 'cash_voucher', 'direct_debit', 'wallet']);
    const onTime = await count(url, `select 1 from invoices i join payments p on p.invoice_id = i.id where i.paid_amount = i.amount and p.paid_at < i.due_date`);
    const late = await count(url, `select 1 from invoices i join payments p on p.invoice_id = i.id where p.paid_at > i.due_date + 2`);
    const partial = await count(url, `select 1 from invoices where paid_amount > 0 and paid_amount < amount and due_date < '2026-03-01'`);
    const never = await count(url, `select 1 from students s where not exists (select 1 from payments p join invoices i on i.id = p.invoice_id where i.student_id = s.id)`);
    assert.ok(onTime > 200, `on time: ${onTime}`);
    assert.ok(late > 20, `late: ${late}`);
    assert.ok(partial > 5, `partial: ${partial}`);
    assert.ok(never > 5, `never paying families: ${never}`);
    for (const [behaviour, n] of Object.entries(result.behaviours)) {
      assert.ok(n > 0, `behaviour ${behaviour}`);
    }
    // Per-school currency and time zone.
    const regions = await query<{ currency: string }>(url, 'select distinct currency from schools');
    assert.ok(regions.length >= 2, 'more than one currency');
  });

  test('ids are UUIDv7 whose timestamp is the row creation time', async () => {
    for (const [table, column] of [['schools', 'created_at'], ['families', 'created_at'], ['guardians', 'created_at'], ['students', 'created_at'], ['fee_plans', 'created_at'], ['enrolments', 'created_at'], ['bill_runs', 'created_at'], ['invoices', 'created_at'], ['invoice_lines', 'created_at'], ['payments', 'paid_at'], ['refunds', 'created_at'], ['transactions', 'created_at']] as const) {
      const rows = await query<{ id: string; at: Date }>(url, `select id::text as id, ${column} as at from ${table}`);
      assert.ok(rows.length > 0 || table === 'refunds');
      for (const row of rows) {
        assert.match(row.id, UUID_V7_PATTERN, `${table}.id`);
        assert.equal(uuidV7Time(row.id), row.at.getTime(), `${table} ${row.id}`);
      }
    }
    const unique = await query<{ n: number; d: number }>(url, 'select count(*)::int as n, count(distinct id)::int as d from transactions');
    assert.equal(unique[0]?.n, unique[0]?.d);
  });

  test('no orphans and no cross-school references (the foreign keys were not checked)', async () => {
    const orphans = {
      students: `select 1 from students s left join schools sc on sc.id = s.school_id where sc.id is null`,
      invoices: `select 1 from invoices i left join students s on s.id = i.student_id and s.school_id = i.school_id where s.id is null`,
      payments: `select 1 from payments p left join invoices i on i.id = p.invoice_id and i.school_id = p.school_id where i.id is null`,
      refundsPayment: `select 1 from refunds r left join payments p on p.id = r.payment_id and p.school_id = r.school_id where p.id is null`,
      refundsInvoice: `select 1 from refunds r left join invoices i on i.id = r.invoice_id and i.school_id = r.school_id where i.id is null`,
      refundsSameInvoice: `select 1 from refunds r join payments p on p.id = r.payment_id where p.invoice_id <> r.invoice_id`,
      txSchool: `select 1 from transactions t left join schools s on s.id = t.school_id where s.id is null`,
      txInvoice: `select 1 from transactions t left join invoices i on i.id = t.invoice_id and i.school_id = t.school_id where t.invoice_id is not null and i.id is null`,
      txPayment: `select 1 from transactions t left join payments p on p.id = t.payment_id and p.school_id = t.school_id where t.payment_id is not null and p.id is null`,
      txRefund: `select 1 from transactions t left join refunds r on r.id = t.refund_id where t.refund_id is not null and r.id is null`,
      versions: `select 1 from schools s left join billing_versions v on v.school_id = s.id where v.school_id is null`,
      studentFamily: `select 1 from students s left join families f on f.school_id = s.school_id and f.id = s.family_id where f.id is null`,
      guardianFamily: `select 1 from guardians g left join families f on f.school_id = g.school_id and f.id = g.family_id where f.id is null`,
      enrolmentStudent: `select 1 from enrolments e left join students s on s.school_id = e.school_id and s.id = e.student_id where s.id is null`,
      enrolmentPlan: `select 1 from enrolments e left join fee_plans p on p.school_id = e.school_id and p.id = e.fee_plan_id where p.id is null`,
      payerGuardian: `select 1 from enrolment_payers p left join guardians g on g.school_id = p.school_id and g.id = p.guardian_id join enrolments e on e.school_id = p.school_id and e.id = p.enrolment_id join students s on s.id = e.student_id where g.id is null or g.family_id <> s.family_id`,
      awardRule: `select 1 from awards a left join discount_rules r on r.school_id = a.school_id and r.id = a.rule_id where r.id is null`,
      invoiceFamily: `select 1 from invoices i join students s on s.id = i.student_id where i.family_id is distinct from s.family_id`,
      invoiceRun: `select 1 from invoices i left join bill_runs r on r.school_id = i.school_id and r.id = i.bill_run_id where r.id is null`,
      invoicePayer: `select 1 from invoices i left join guardians g on g.school_id = i.school_id and g.id = i.payer_guardian_id where i.payer_guardian_id is not null and g.family_id is distinct from i.family_id`,
      lineInvoice: `select 1 from invoice_lines l left join invoices i on i.school_id = l.school_id and i.id = l.invoice_id where i.id is null`,
      lineEnrolment: `select 1 from invoice_lines l left join enrolments e on e.school_id = l.school_id and e.id = l.enrolment_id where e.id is null`,
      receiptPayment: `select 1 from receipts r left join payments p on p.school_id = r.school_id and p.id = r.payment_id where p.id is null`,
    };
    for (const [name, sql] of Object.entries(orphans)) {
      assert.equal(await count(url, sql), 0, name);
    }
    // The checks the tables declare still hold (the loader bypassed nothing but triggers and FKs).
    const statuses = await query<{ status: string }>(url, `select distinct invoice_status(i.amount, i.paid_amount, i.due_date, i.cancelled_at, s.timezone, $1) as status from invoices i join schools s on s.id = i.school_id`, [NOW]);
    // PARTIAL needs a part payment of an invoice not due yet — the five days before March's
    // due date at this size, which may hold none; part payments of past-due invoices are OVERDUE.
    const seen = statuses.map((s) => s.status);
    for (const status of ['CANCELLED', 'OVERDUE', 'PAID', 'PENDING']) {
      assert.ok(seen.includes(status), `status ${status} in ${seen.join(', ')}`);
    }
    assert.ok((await count(url, 'select 1 from invoices where paid_amount > 0 and paid_amount < amount')) > 0, 'part-paid invoices');
  });

  test('deterministic: the same seed and date give the same rows in another database', async () => {
    await seedDatabase(two.url, { ...SIZES, seed: '7', now: NOW });
    const snapshot = async (db: string) => ({
      families: await query(db, 'select id, name, reference, created_at from families order by id'),
      guardians: await query(db, 'select id, family_id, first_name, email, is_primary from guardians order by id'),
      enrolments: await query(db, 'select e.id, e.student_id, e.optional_items, p.guardian_id, p.share from enrolments e left join enrolment_payers p on p.enrolment_id = e.id order by e.id, p.position'),
      awards: await query(db, 'select id, student_id, rule_id, reason from awards order by id'),
      invoices: await query(db, 'select id, school_id, student_id, family_id, payer_guardian_id, bill_run_id, number, amount, paid_amount, due_date, cancelled_at from invoices order by id'),
      lines: await query(db, 'select id, invoice_id, kind, code, amount, billing_key, rule_id, award_id from invoice_lines order by id'),
      receipts: await query(db, 'select school_id, seq, number, payment_id from receipts order by school_id, seq'),
      payments: await query(db, 'select id, invoice_id, amount, method, paid_at from payments order by id'),
      transactions: await query(db, 'select id, status, amount, failure_code, gateway, created_at from transactions order by id'),
      students: await query(db, 'select id, first_name, last_name, grade from students order by id'),
    });
    const [a, b] = await Promise.all([snapshot(url), snapshot(two.url)]);
    assert.equal(a.invoices.length, result.counts.invoices);
    assert.deepEqual(b, a);
  });

  test('many small schools in one batch: every table is handed out in chunks that fit, none overflows', () => {
    // 400 schools of one student each: their school rows alone are several times the
    // 16 KiB chunk (4 000 schools of 15 students filled the loader's 1 MiB ones).
    const plan = planSeed({ schools: 400, students: 400, months: 2, transactions: 800, seed: '3', now: NOW });
    const writers = new Map<CopyTable, CopyWriter>(COPY_TABLES.map((table) => [table, new CopyWriter(16 * 1024)]));
    const rows = new Map<CopyTable, number>();
    let chunks = 0;
    const emit = (table: CopyTable, chunk: Buffer, n: number) => {
      assert.ok(chunk.length <= 16 * 1024);
      rows.set(table, (rows.get(table) ?? 0) + n);
      chunks++;
    };
    for (const school of plan.schools) {
      writeSchool(plan, school, writers, emit);
    }
    for (const [table, out] of writers) {
      const n = out.rows;
      emit(table, out.take(), n);
    }
    assert.equal(rows.get('schools'), 400);
    assert.equal(rows.get('students'), 400);
    assert.ok(chunks > COPY_TABLES.length, `${chunks} chunks`);
  });

  test('another seed gives other data; generation never depends on which table is streamed', () => {
    const text = (seed: string) => Buffer.concat([...tableChunks(planSeed({ ...SIZES, seed, now: NOW }), 'invoices')]).toString();
    assert.equal(text('7'), text('7'));
    assert.notEqual(text('7'), text('8'));
    // A transactions pass alone still yields ids that exist in the invoices pass.
    const plan = planSeed({ ...SIZES, seed: '7', now: NOW });
    const invoiceIds = new Set(Buffer.concat([...tableChunks(plan, 'invoices')]).toString().trim().split('\n').map((line) => line.split('\t')[0]));
    const txInvoices = Buffer.concat([...tableChunks(plan, 'transactions', { chunkSize: 4096 })]).toString().trim().split('\n').map((line) => line.split('\t')[2]);
    assert.equal(txInvoices.length, 3_000);
    assert.ok(txInvoices.every((id) => invoiceIds.has(id)));
  });

  test('the indexes and constraints dropped for the load are all back, identical', async () => {
    const fresh = await createTestDatabase();
    try {
      const indexes = (db: string) =>
        query<{ indexdef: string }>(db, `select indexdef from pg_indexes where schemaname = 'public' order by indexname`);
      const constraints = (db: string) =>
        query(
          db,
          `select conrelid::regclass::text as rel, conname, contype, pg_get_constraintdef(oid) as def, convalidated,
                  (select relname from pg_class where oid = conindid) as index
           from pg_constraint where connamespace = 'public'::regnamespace order by 1, 2`,
        );
      const [seeded, pristine] = await Promise.all([indexes(url), indexes(fresh.url)]);
      assert.ok(seeded.some((i) => i.indexdef.includes('transactions_failures_idx')));
      assert.ok(seeded.some((i) => i.indexdef.includes('transactions_pkey')));
      assert.deepEqual(seeded, pristine);
      const [seededConstraints, pristineConstraints] = await Promise.all([constraints(url), constraints(fresh.url)]);
      assert.deepEqual(seededConstraints, pristineConstraints);
      // Every phase was timed.
      const phases = result.phases.map((p) => p.name);
      for (const name of ['a: copy invoices', 'a: indexes invoices', 'a: refresh rollups', 'b: copy transactions', 'b: indexes transactions', 'commit']) {
        assert.ok(phases.includes(name), `phase ${name} in ${phases.join(', ')}`);
      }
    } finally {
      await fresh.drop();
    }
  });

  test('families (siblings, one or two guardians, references with a check digit), a fee plan, enrolments, rules and awards in plausible proportions', async () => {
    const [sizes] = await query<{ families: number; perFamily: number; min: number; max: number; kinds: number }>(
      url,
      `select count(*)::int as families, avg(n)::float as "perFamily", min(n)::int as min, max(n)::int as max, count(distinct n)::int as kinds
         from (select family_id, count(*) as n from students group by family_id) f`,
    );
    assert.equal(sizes?.families, result.counts.families);
    assert.ok((sizes?.perFamily ?? 0) > 1.35 && (sizes?.perFamily ?? 0) < 1.9, `students per family: ${sizes?.perFamily}`);
    assert.deepEqual([sizes?.min, sizes?.max, sizes?.kinds], [1, 4, 4], 'families of one to four children');
    // Siblings share their family's surname.
    assert.equal(await count(url, `select 1 from students s join families f on f.id = s.family_id where s.last_name <> f.name`), 0);
    const guardians = await query<{ n: number; primaries: number }>(
      url,
      `select count(*)::int as n, count(*) filter (where is_primary)::int as primaries from guardians group by family_id`,
    );
    assert.equal(guardians.length, result.counts.families, 'every family has guardians');
    assert.ok(guardians.every((g) => g.n >= 1 && g.n <= 2 && g.primaries === 1), 'one or two guardians, one of them primary');
    const two = guardians.filter((g) => g.n === 2).length / guardians.length;
    assert.ok(two > 0.4 && two < 0.8, `families with two guardians: ${two}`);
    // References: the families module's spelling, numbered 1..n per school, the counter continuing after them.
    const references = await query<{ reference: string; school: string; n: number; last: number }>(
      url,
      `select f.reference, s.name as school, (row_number() over (partition by f.school_id order by f.reference))::int as n, c.last_number::int as last
         from families f join schools s on s.id = f.school_id join family_counters c on c.school_id = f.school_id`,
    );
    assert.equal(references.length, result.counts.families);
    for (const { reference, school, n } of references) {
      const parsed = parseReference(reference);
      assert.ok(parsed.ok, `${reference} has a valid check digit`);
      assert.equal(parsed.prefix, schoolPrefix(school));
      assert.equal(parsed.number, n);
    }
    assert.equal(await count(url, `select 1 from family_counters c where c.last_number <> (select count(*) from families f where f.school_id = c.school_id)`), 0);
    // Split payers: some families, shares of one, 50/50 or 70/30, the first the larger.
    const splits = await query<{ shares: string }>(url, `select string_agg(share::text, '/' order by position) as shares from enrolment_payers group by enrolment_id`);
    assert.ok(splits.length > 5 && splits.length < 100, `enrolments with split payers: ${splits.length}`);
    assert.ok(splits.every((s) => s.shares === '0.500000/0.500000' || s.shares === '0.700000/0.300000'), JSON.stringify(splits.slice(0, 3)));
    // One fee plan per school: tuition (10 monthly instalments), enrolment (once), optional transport.
    const items = await query<{ code: string; optional: boolean; kind: string; count: number | null; plans: number }>(
      url,
      `select code, optional, schedule->>'kind' as kind, (schedule->>'count')::int as count, count(*)::int as plans
         from fee_plan_items group by 1, 2, 3, 4 order by 1`,
    );
    assert.deepEqual(items, [
      { code: 'enrolment', optional: false, kind: 'once', count: null, plans: 5 },
      { code: 'transport', optional: true, kind: 'monthly', count: 10, plans: 5 },
      { code: 'tuition', optional: false, kind: 'monthly', count: 10, plans: 5 },
    ]);
    assert.equal(await count(url, 'select 1 from fee_plans'), 5);
    const [enrolled] = await query<{ students: number; enrolments: number; transport: number }>(
      url,
      `select (select count(*) from students)::int as students, count(distinct e.student_id)::int as enrolments,
              count(*) filter (where 'transport' = any(e.optional_items))::int as transport
         from enrolments e join fee_plans p on p.school_id = e.school_id and p.id = e.fee_plan_id and e.from_date = p.year_start`,
    );
    assert.equal(enrolled?.enrolments, enrolled?.students, 'every student enrolled from the start of the year');
    assert.equal(result.counts.enrolments, 200);
    const transport = (enrolled?.transport ?? 0) / 200;
    assert.ok(transport > 0.15 && transport < 0.45, `students taking the transport: ${transport}`);
    // Discount rules: a sibling rule and two scholarships per school; awards to a few per cent, with a reason.
    const rules = await query<{ kind: string; n: number }>(url, `select kind, count(*)::int as n from discount_rules group by kind order by kind`);
    assert.deepEqual(rules, [{ kind: 'scholarship', n: 10 }, { kind: 'sibling', n: 5 }]);
    const awards = await query<{ kind: string; reason: string }>(url, `select r.kind, a.reason from awards a join discount_rules r on r.id = a.rule_id`);
    assert.ok(awards.length > 0 && awards.length <= 20, `awards: ${awards.length}`);
    assert.ok(awards.every((a) => a.kind === 'scholarship' && a.reason.trim().length > 0));
  });

  test('invoices are bill-run invoices: lines summing to the amount, discounts, INV-NNNNNN per school, counters and receipts continuing', async () => {
    assert.equal(await count(url, `select 1 from invoices i left join invoice_lines l on l.invoice_id = i.id group by i.id, i.amount having coalesce(sum(l.amount), -1) <> i.amount`), 0);
    const kinds = await query<{ kind: string; code: string; keyed: number; n: number }>(
      url,
      `select kind, code, count(billing_key)::int as keyed, count(*)::int as n from invoice_lines group by 1, 2 order by 1, 2`,
    );
    const byKind = Object.fromEntries(kinds.map((k) => [`${k.kind}:${k.code}`, k]));
    assert.equal(byKind['charge:tuition']?.n, result.counts.invoices, 'a tuition line on every invoice');
    assert.ok((byKind['charge:enrolment']?.n ?? 0) >= 200 && (byKind['charge:transport']?.n ?? 0) > 0);
    assert.ok(kinds.filter((k) => k.kind === 'charge').every((k) => k.keyed === k.n), 'every charge line has its billing key');
    assert.ok((byKind['discount:sibling']?.n ?? 0) > 0 && (byKind['discount:scholarship']?.n ?? 0) > 0, JSON.stringify(kinds));
    assert.ok(kinds.filter((k) => k.kind === 'discount').every((k) => k.keyed === 0));
    // Sibling discounts only from the second child; scholarship lines carry their award.
    assert.equal(await count(url, `select 1 from invoice_lines where kind = 'discount' and (amount >= 0 or rule_id is null or (code = 'scholarship') <> (award_id is not null))`), 0);
    // Split payers: each payer's invoice, INV numbers contiguous per school, the counter at the last.
    assert.ok((await count(url, `select 1 from invoices where payer_guardian_id is not null`)) > 0);
    assert.equal(await count(url, `select 1 from invoices where number !~ '^INV-[0-9]{6}$'`), 0);
    assert.equal(
      await count(
        url,
        `select 1 from invoice_counters c
          where c.last_number <> (select count(*) from invoices i where i.school_id = c.school_id)
             or c.last_number <> (select max(substr(number, 5)::int) from invoices i where i.school_id = c.school_id)`,
      ),
      0,
    );
    assert.equal(await count(url, 'select 1 from invoice_counters'), 5);
    // One finished bill run per school and month; its counts are its invoices and lines.
    const runs = await query<{ through: string; n: number }>(url, `select through::text, count(*)::int as n from bill_runs where status = 'finished' group by 1 order by 1`);
    assert.deepEqual(runs, [{ through: '2026-01-31', n: 5 }, { through: '2026-02-28', n: 5 }, { through: LAST_THROUGH, n: 5 }]);
    assert.equal(
      await count(
        url,
        `select 1 from bill_runs r
          where r.invoices_created <> (select count(*) from invoices i where i.bill_run_id = r.id)
             or r.lines_created <> (select count(*) from invoice_lines l join invoices i on i.id = l.invoice_id where i.bill_run_id = r.id)`,
      ),
      0,
    );
    // Receipts: one per payment, 1..n per school in payment order, the ledger's number, the counter at n.
    assert.equal(
      await count(
        url,
        `select 1 from receipts r join payments p on p.id = r.payment_id join schools s on s.id = r.school_id
          where r.number <> receipt_number(s.name, s.timezone, p.paid_at, r.seq)
             or r.seq <> (select count(*) from payments q where q.school_id = p.school_id and (q.paid_at, q.id) <= (p.paid_at, p.id))`,
      ),
      0,
    );
    assert.equal(await count(url, `select 1 from receipt_counters c where c.last_number <> (select max(seq) from receipts r where r.school_id = c.school_id)`), 0);
    // Bank transfers carry the family's reference.
    assert.equal(
      await count(url, `select 1 from payments p join invoices i on i.id = p.invoice_id join families f on f.id = i.family_id where p.method = 'bank_transfer' and p.reference <> f.reference`),
      0,
    );
  });

  test('`npm run verify` passes on the seeded database: the rollups and the family ledger', async () => {
    const rollups = await verifyRollups(kysely(url));
    assert.equal(rollups.ok, true, JSON.stringify(rollups.tables));
    const ledger = await verifyLedgerInvariant(kysely(url));
    assert.equal(ledger.ok, true, JSON.stringify(ledger));
    assert.equal(ledger.invoices.checked, result.counts.invoices);
    assert.equal(ledger.families.checked, result.counts.families);
  });

  test('a real dry-run bill run through the seed\'s last run finds nothing left to bill', async () => {
    const db = kysely(url);
    const schools = await db.selectFrom('schools').select(['id', 'currency', 'language']).execute();
    assert.equal(schools.length, 5);
    let skipped = 0;
    for (const school of schools) {
      const preview = await engine.preview(db, await engine.context(db, school, LAST_THROUGH), { firstRows: 5 });
      assert.deepEqual([preview.invoices, preview.lines, preview.firstRows], [0, 0, []], `school ${school.id}`);
      skipped += preview.skipped;
    }
    // Every instalment due was found billed: one per charge line without a split payer, one per two with one.
    const [instalments] = await query<{ n: number }>(url, `select count(distinct (enrolment_id, item_code, due_date))::int as n from invoice_lines where kind = 'charge'`);
    assert.equal(skipped, instalments?.n);
  });

  test('too few transactions for the payments is refused, and the load leaves nothing behind', async () => {
    assert.throws(() => planSeed({ ...SIZES, transactions: 10, seed: '7', now: NOW }), /transactions \(10\) must be at least/);
    const before = await count(two.url, 'select 1 from invoices');
    await assert.rejects(seedDatabase(two.url, { ...SIZES, transactions: 10, seed: '8', now: NOW }), /transactions \(10\) must be at least/);
    assert.equal(await count(two.url, 'select 1 from invoices'), before);
    assert.equal(await count(two.url, 'select 1 from schools'), 5);
  });

  test('`npm run seed --reset` replaces all schools and their data but leaves users untouched', async () => {
    const [user] = await query<{ id: string }>(two.url, `insert into users (username, password_hash, role) values ('keep.me', 'hash', 'school_admin') returning id`);
    await query(two.url, `insert into user_schools (user_id, school_id) select $1, id from schools limit 2`, [user?.id]);
    const usersBefore = await query(two.url, 'select * from users order by id');
    const { stdout } = await execFileAsync(
      process.execPath,
      ['--import', 'tsx', 'scripts/seed.ts', '--database-url', two.url, '--reset', '--schools', '2', '--months', '2', '--transactions', '500', '--seed', '9'],
      { env: { ...process.env, SEED_STUDENTS: '30', SEED_SCHOOLS: '99' } },
    );
    assert.match(stdout, /transactions\s+500/);
    assert.match(stdout, /rows\/s/);
    assert.deepEqual(await query(two.url, 'select * from users order by id'), usersBefore);
    assert.equal(await count(two.url, 'select 1 from user_schools'), 0);
    assert.equal(await count(two.url, 'select 1 from schools'), 2, 'the flag beats SEED_SCHOOLS');
    assert.equal(await count(two.url, 'select 1 from students'), 30, 'SEED_STUDENTS is used');
    assert.ok((await count(two.url, 'select 1 from invoices')) >= 60, 'an invoice per student and month at least');
    assert.equal(await count(two.url, 'select 1 from families f left join schools s on s.id = f.school_id where s.id is null'), 0);
    assert.equal(await count(two.url, 'select 1 from transactions'), 500);
    assert.equal(await count(two.url, 'select 1 from invoices i left join students s on s.id = i.student_id where s.id is null'), 0);
  });

  test('without --reset a second run appends new schools', async () => {
    const second = await seedDatabase(url, { ...SIZES, seed: '7', now: NOW });
    assert.equal(await count(url, 'select 1 from schools'), 10);
    assert.equal(await count(url, 'select 1 from invoices'), result.counts.invoices + second.counts.invoices);
    assert.equal(await count(url, 'select 1 from transactions'), 6_000);
    assert.equal(await count(url, 'select 1 from families'), result.counts.families + second.counts.families);
    assert.equal((await verifyLedgerInvariant(kysely(url))).ok, true, 'the ledger still balances');
    const versions = await query<{ n: number }>(url, 'select count(*)::int as n from billing_versions');
    assert.equal(versions[0]?.n, 10);
  });
  test('a real bill run for the next month bills exactly the invoices the seed writes for that month', async () => {
    // The same data set one month later (now in April) bills April with the seed's own
    // assembly; the real bill run on the March data set, through the end of April, must
    // write exactly those invoices and lines (ids and numbers aside) and nothing else.
    const april = await createTestDatabase();
    try {
      await seedDatabase(april.url, { ...SIZES, months: 4, seed: '7', now: new Date('2026-04-05T12:00:00Z') });
      const schoolIds = planSeed({ ...SIZES, seed: '7', now: NOW }).schools.map((school) => school.id);
      const db = kysely(url);
      let created = 0;
      for (const school of await db.selectFrom('schools').select(['id', 'currency', 'language']).where('id', 'in', schoolIds).execute()) {
        const run = await engine.runInline(db, await engine.context(db, school, '2026-04-30'), { requestedBy: null, actor: SYSTEM });
        assert.equal(run.status, 'finished');
        created += run.invoicesCreated;
      }
      const invoices = (db: string, where: string) =>
        query(
          db,
          `select i.school_id, i.student_id, i.family_id, i.payer_guardian_id, i.due_date::text, i.amount, i.description,
                  (select json_agg(json_build_object('kind', l.kind, 'code', l.code, 'description', l.description, 'amount', l.amount,
                                   'enrolment', l.enrolment_id, 'item', l.item_code, 'due', l.due_date, 'rule', l.rule_id, 'award', l.award_id, 'key', l.billing_key)
                                   order by l.kind, l.code, l.amount)
                     from invoice_lines l where l.invoice_id = i.id) as lines
             from invoices i where ${where}
            order by i.school_id, i.student_id, i.payer_guardian_id nulls first`,
        );
      const billed = await invoices(url, `i.bill_run_id in (select id from bill_runs where through = '2026-04-30')`);
      const seeded = await invoices(april.url, `i.due_date = '2026-04-10'`);
      assert.ok(billed.length > 200 && billed.length === created, `invoices billed for April: ${billed.length}`);
      assert.deepEqual(billed, seeded);
      // The new invoices continue the seeded sequence, and the ledger still balances.
      assert.equal(await count(url, `select 1 from invoices i join invoice_counters c on c.school_id = i.school_id where substr(i.number, 5)::int > c.last_number`), 0);
      assert.equal(await count(url, `select 1 from invoices where number !~ '^INV-[0-9]{6}$'`), 0);
      assert.equal((await verifyLedgerInvariant(db)).ok, true);
    } finally {
      await april.drop();
    }
  });
});

describe('seed command line', () => {
  test('defaults, env and flags (flags win)', () => {
    assert.deepEqual(parseSeedCli([], {}), {
      schools: 50, students: 3_000, months: 12, transactions: 200_000, seed: '42', reset: false, databaseUrl: undefined, now: undefined, help: false,
    });
    const env = { SEED_SCHOOLS: '7', SEED_STUDENTS: '70', SEED_MONTHS: '6', SEED_TRANSACTIONS: '5000', SEED_RANDOM_SEED: 'abc' };
    assert.deepEqual(parseSeedCli([], env), { ...parseSeedCli([], {}), schools: 7, students: 70, months: 6, transactions: 5_000, seed: 'abc' });
    const parsed = parseSeedCli(['--schools', '3', '--seed', 'x', '--reset', '--database-url', 'postgres://h/db', '--now', '2026-01-02T00:00:00Z'], env);
    assert.equal(parsed.schools, 3);
    assert.equal(parsed.students, 70);
    assert.equal(parsed.seed, 'x');
    assert.equal(parsed.reset, true);
    assert.equal(parsed.databaseUrl, 'postgres://h/db');
    assert.equal(parsed.now?.toISOString(), '2026-01-02T00:00:00.000Z');
  });

  test('bad values are usage errors', () => {
    assert.throws(() => parseSeedCli(['--schools', 'many'], {}), SeedUsageError);
    assert.throws(() => parseSeedCli(['--schools', '0'], {}), SeedUsageError);
    assert.throws(() => parseSeedCli([], { SEED_MONTHS: '-1' }), SeedUsageError);
    assert.throws(() => parseSeedCli(['--months', '25'], {}), /months must be at most 24/);
    assert.throws(() => parseSeedCli(['--bogus'], {}), SeedUsageError);
    assert.throws(() => parseSeedCli(['--now', 'yesterday'], {}), SeedUsageError);
  });
});
