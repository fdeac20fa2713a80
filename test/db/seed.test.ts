import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { parseSeedCli, SeedUsageError } from '../../src/db/seed/cli.js';
import { planSeed, tableChunks } from '../../src/db/seed/generate.js';
import { seedDatabase, type SeedResult } from '../../src/db/seed/loader.js';
import { UUID_V7_PATTERN, uuidV7Time } from '../../src/db/seed/uuid.js';
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
    await Promise.all([one?.drop(), two?.drop()]);
  });

  test('exact row counts: students × months invoices, the requested number of transactions', async () => {
    const tables = ['schools', 'students', 'invoices', 'payments', 'refunds', 'transactions', 'users'] as const;
    const counts = Object.fromEntries(await Promise.all(tables.map(async (t) => [t, await count(url, `select 1 from ${t}`)] as const)));
    assert.equal(counts.schools, 5);
    assert.equal(counts.students, 200);
    assert.equal(counts.invoices, 200 * 3);
    assert.equal(counts.transactions, 3_000);
    assert.equal(counts.payments, result.counts.payments);
    assert.equal(counts.refunds, result.counts.refunds);
    assert.ok(counts.payments > 300, `payments: ${counts.payments}`);
    assert.ok(counts.refunds >= 0);
    assert.equal(counts.users, 0, 'seeding never creates users');
    assert.deepEqual(result.counts, { ...result.counts, schools: 5, students: 200, invoices: 600, transactions: 3_000 });
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
    for (const [table, column] of [['schools', 'created_at'], ['students', 'created_at'], ['invoices', 'created_at'], ['payments', 'paid_at'], ['refunds', 'created_at'], ['transactions', 'created_at']] as const) {
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
    };
    for (const [name, sql] of Object.entries(orphans)) {
      assert.equal(await count(url, sql), 0, name);
    }
    // The checks the tables declare still hold (the loader bypassed nothing but triggers and FKs).
    const statuses = await query<{ status: string }>(url, `select distinct invoice_status(i.amount, i.paid_amount, i.due_date, i.cancelled_at, s.timezone, $1) as status from invoices i join schools s on s.id = i.school_id`, [NOW]);
    assert.deepEqual(statuses.map((s) => s.status).sort(), ['CANCELLED', 'OVERDUE', 'PAID', 'PARTIAL', 'PENDING']);
  });

  test('deterministic: the same seed and date give the same rows in another database', async () => {
    await seedDatabase(two.url, { ...SIZES, seed: '7', now: NOW });
    const snapshot = async (db: string) => ({
      invoices: await query(db, 'select id, school_id, student_id, number, amount, paid_amount, due_date, cancelled_at from invoices order by id'),
      payments: await query(db, 'select id, invoice_id, amount, method, paid_at from payments order by id'),
      transactions: await query(db, 'select id, status, amount, failure_code, gateway, created_at from transactions order by id'),
      students: await query(db, 'select id, first_name, last_name, grade from students order by id'),
    });
    const [a, b] = await Promise.all([snapshot(url), snapshot(two.url)]);
    assert.equal(a.invoices.length, 600);
    assert.deepEqual(b, a);
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

  test('too few transactions for the payments is refused', () => {
    assert.throws(() => planSeed({ ...SIZES, transactions: 10, seed: '7', now: NOW }), /transactions \(10\) must be at least/);
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
    assert.equal(await count(two.url, 'select 1 from invoices'), 60);
    assert.equal(await count(two.url, 'select 1 from transactions'), 500);
    assert.equal(await count(two.url, 'select 1 from invoices i left join students s on s.id = i.student_id where s.id is null'), 0);
  });

  test('without --reset a second run appends new schools', async () => {
    await seedDatabase(url, { ...SIZES, seed: '7', now: NOW });
    assert.equal(await count(url, 'select 1 from schools'), 10);
    assert.equal(await count(url, 'select 1 from invoices'), 1_200);
    assert.equal(await count(url, 'select 1 from transactions'), 6_000);
    const versions = await query<{ n: number }>(url, 'select count(*)::int as n from billing_versions');
    assert.equal(versions[0]?.n, 10);
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
    assert.throws(() => parseSeedCli(['--bogus'], {}), SeedUsageError);
    assert.throws(() => parseSeedCli(['--now', 'yesterday'], {}), SeedUsageError);
  });
});
