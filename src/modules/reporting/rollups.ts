import { sql, type RawBuilder } from 'kysely';
import type { Db, DbOrTx } from '../../db/database.js';

/**
 * The grade under which money received as family credit (the part of a family payment
 * no invoice took) is collected in the payment rollups (migration 0020): it belongs to
 * no student, and a real grade is 1–20 characters, so it cannot be one.
 */
export const FAMILY_CREDIT_GRADE = 'family credit, no grade';

/**
 * Proof that the dashboard's rollup tables (migrations 0003, 0004) are exact: each is compared,
 * row for row, with a full recomputation from the raw tables (`except` both ways), and
 * every invoice's paid_amount with its payments and refunds.
 *
 * The recomputation here is written independently of the SQL function
 * refresh_reporting_rollups(), so a bug in either the triggers or the refresh shows up
 * as a mismatch. Definitions (kept in step with the migration's header comment):
 *   invoice_rollups  invoices not cancelled, of students not soft-deleted, grouped by
 *                    (school, student's grade, due date): count, Σ amount, Σ paid_amount,
 *                    count with paid < amount, count with 0 < paid < amount.
 *   payment_rollups  payments (count 1, +amount, school-local day of paid_at) and refunds
 *                    (count 0, −amount, school-local day of created_at, the payment's
 *                    method), of students not soft-deleted, grouped by (school, grade,
 *                    method, day); plus family credit (the part of a family payment no
 *                    invoice took; count 1 only if it all went to credit) under
 *                    FAMILY_CREDIT_GRADE, on the family payment's day, with its method;
 *                    buckets with count 0 and amount 0 do not exist.
 *   invoice_totals / payment_totals  the same sums without the date: per (school, grade)
 *                    and per (school, grade, method), plus the marginals where '' stands
 *                    for "all grades" / "all methods".
 *   platform_invoice_sums / platform_payment_sums  (0033) the live schools' invoice and
 *                    payment sums per currency (and time zone for invoices), grade
 *                    ('' = all) [and method ('' = all)], for all time ('a'), each month
 *                    ('m') and each day ('d'); the stored side adds the deltas not
 *                    folded yet, as every reader does.
 *   school_invoice_sums / school_payment_sums  (0034) invoice_rollups and
 *                    payment_rollups without grade and method: per school and due (or
 *                    payment) month ('m') and day ('d'); empty rows do not exist.
 *   failure_hours / failure_days  failed transactions counted (and summed) per
 *                    currency and UTC hour or day, by failure code, gateway and method,
 *                    over every school (0032).
 *
 * Used by `npm run verify` and by the tests.
 */

/** Live invoices (not cancelled, of students not soft-deleted) with their grade. */
const liveInvoices = sql`
  select i.school_id, s.grade, i.due_date, i.amount, i.paid_amount
    from invoices i
    join students s on s.id = i.student_id and s.school_id = i.school_id
   where i.cancelled_at is null and s.deleted_at is null`;

const invoiceSums = sql`
  count(*)::bigint as invoice_count, sum(amount)::bigint as amount_due, sum(paid_amount)::bigint as amount_paid,
  count(*) filter (where paid_amount < amount)::bigint as outstanding_count,
  count(*) filter (where paid_amount > 0 and paid_amount < amount)::bigint as partial_count`;

export const expectedInvoiceRollups = sql`
  select school_id, grade, due_date, ${invoiceSums} from (${liveInvoices}) i group by school_id, grade, due_date`;

/** Per (school, grade) and per school over all grades (grade ''). */
export const expectedInvoiceTotals = sql`
  select school_id, coalesce(grade, '') as grade, ${invoiceSums}
    from (${liveInvoices}) i
   group by grouping sets ((school_id, grade), (school_id))`;

/**
 * Payments (+1, +amount) and refunds (0, −amount) of students not soft-deleted, on their
 * school-local day; and the family credit of family payments (what no invoice took;
 * +1 only for a family payment that went wholly to credit), under FAMILY_CREDIT_GRADE.
 */
const movements = sql`
  select pay.school_id, s.grade, pay.method, (pay.paid_at at time zone sc.timezone)::date as paid_on, 1 as n, pay.amount
    from payments pay
    join invoices i on i.id = pay.invoice_id
    join students s on s.id = i.student_id
    join schools sc on sc.id = pay.school_id
   where s.deleted_at is null
  union all
  select ref.school_id, s.grade, pay.method, (ref.created_at at time zone sc.timezone)::date, 0, -ref.amount
    from refunds ref
    join payments pay on pay.id = ref.payment_id
    join invoices i on i.id = ref.invoice_id
    join students s on s.id = i.student_id
    join schools sc on sc.id = ref.school_id
   where s.deleted_at is null
  union all
  select fp.school_id, ${FAMILY_CREDIT_GRADE}::text, fp.method, (fp.paid_at at time zone sc.timezone)::date, case when fp.allocated = 0 then 1 else 0 end, fp.credited
    from family_payments fp
    join schools sc on sc.id = fp.school_id
   where fp.credited > 0`;

export const expectedPaymentRollups = sql`
  select school_id, grade, method, paid_on, sum(n)::bigint as payment_count, sum(amount)::bigint as amount
    from (${movements}) m
   group by school_id, grade, method, paid_on
  having sum(n) <> 0 or sum(amount) <> 0`;

/** Per (school, grade, method) and the marginals over grades and/or methods ('' = all). */
export const expectedPaymentTotals = sql`
  select school_id, coalesce(grade, '') as grade, coalesce(method, '') as method, sum(n)::bigint as payment_count, sum(amount)::bigint as amount
    from (${movements}) m
   group by grouping sets ((school_id, grade, method), (school_id, grade), (school_id, method), (school_id))
  having sum(n) <> 0 or sum(amount) <> 0`;

/**
 * The stored side of each tier as a reader sees it: what it holds plus what the rollup
 * deltas not folded yet (migration 0035) will add to it, each spread as the fold's
 * triggers spread it. One snapshot then compares exactly whether or not writers and
 * folds run meanwhile; `verifyRollups` folds first, so there are usually none.
 */
/** The invoice sums every invoice tier (buckets, totals, platform) keeps. */
const invoiceColumns = sql`invoice_count, amount_due, amount_paid, outstanding_count, partial_count`;
const summedInvoiceColumns = sql`
  sum(invoice_count)::bigint as invoice_count, sum(amount_due)::bigint as amount_due, sum(amount_paid)::bigint as amount_paid,
  sum(outstanding_count)::bigint as outstanding_count, sum(partial_count)::bigint as partial_count`;
const anyInvoiceSum = sql`sum(invoice_count) <> 0 or sum(amount_due) <> 0 or sum(amount_paid) <> 0 or sum(outstanding_count) <> 0 or sum(partial_count) <> 0`;
const storedInvoiceRollups = sql`
  select school_id, grade, due_date, ${summedInvoiceColumns}
    from (select school_id, grade, due_date, ${invoiceColumns} from invoice_rollups
          union all
          select school_id, grade, due_date, ${invoiceColumns} from invoice_rollup_deltas) b
   group by 1, 2, 3
  having ${anyInvoiceSum}`;
const storedInvoiceTotals = sql`
  select school_id, grade, ${summedInvoiceColumns}
    from (select school_id, grade, ${invoiceColumns} from invoice_totals
          union all
          select school_id, coalesce(grade, ''), ${summedInvoiceColumns}
            from invoice_rollup_deltas
           group by grouping sets ((school_id, grade), (school_id))) t
   group by 1, 2
  having ${anyInvoiceSum}`;
const storedPaymentRollups = sql`
  select school_id, grade, method, paid_on, sum(payment_count)::bigint as payment_count, sum(amount)::bigint as amount
    from (select school_id, grade, method, paid_on, payment_count, amount from payment_rollups
          union all
          select school_id, grade, method, paid_on, payment_count, amount from payment_rollup_deltas) b
   group by 1, 2, 3, 4
  having sum(payment_count) <> 0 or sum(amount) <> 0`;
const storedPaymentTotals = sql`
  select school_id, grade, method, sum(payment_count)::bigint as payment_count, sum(amount)::bigint as amount
    from (select school_id, grade, method, payment_count, amount from payment_totals
          union all
          select school_id, coalesce(grade, ''), coalesce(method, ''), sum(payment_count), sum(amount)
            from payment_rollup_deltas
           group by grouping sets ((school_id, grade, method), (school_id, grade), (school_id, method), (school_id))) t
   group by 1, 2, 3
  having sum(payment_count) <> 0 or sum(amount) <> 0`;
/** The failure counts (migration 0032): per currency, by hour and by day, for every school. */
const storedFailureDays = sql`select day, currency, failure_code, gateway, method, failures, amount from failure_days`;
const expectedFailureDays = sql`
  select date_trunc('day', t.created_at, 'UTC') as day, s.currency, t.failure_code, t.gateway, t.method, count(*)::bigint as failures, sum(t.amount)::bigint as amount
    from transactions t join schools s on s.id = t.school_id where t.status = 'failed' group by 1, 2, 3, 4, 5`;
const storedFailureHours = sql`select hour, currency, failure_code, gateway, method, failures, amount from failure_hours`;
const expectedFailureHours = sql`
  select date_trunc('hour', t.created_at, 'UTC') as hour, s.currency, t.failure_code, t.gateway, t.method, count(*)::bigint as failures, sum(t.amount)::bigint as amount
    from transactions t join schools s on s.id = t.school_id where t.status = 'failed' group by 1, 2, 3, 4, 5`;

/**
 * Each row of a source spread over the periods of a tier (0033, 0034): its month ('m')
 * and its day ('d') of `column`, and with `allTime` the all-time row ('a') too, as
 * `p (period, period_start)`.
 */
const periodsOf = (column: string, allTime: boolean) => {
  const day = sql.ref(column);
  return sql`
   cross join lateral (values ${allTime ? sql`('a'::"char", '-infinity'::date), ` : sql``}('m'::"char", date_trunc('month', ${day})::date), ('d'::"char", ${day})) p (period, period_start)`;
};

/**
 * The platform tier (0033) spread over its levels and periods, from rows keyed by
 * currency[, time zone], grade[, method] and day. Empty buckets are left out of a whole
 * recomputation, not out of deltas: a payment's delta counts no invoice but moves money.
 */
const invoicePlatformLevels = (source: RawBuilder<unknown>, whole = true) => sql`
  select p.period, p.period_start, k.currency, g.grade, k.timezone, sum(k.invoice_count)::bigint as invoice_count,
         sum(k.amount_due)::bigint as amount_due, sum(k.amount_paid)::bigint as amount_paid,
         sum(k.outstanding_count)::bigint as outstanding_count, sum(k.partial_count)::bigint as partial_count
    from (${source}) k
   cross join lateral (values (k.grade), ('')) g (grade)
   ${periodsOf('k.due_date', true)}
   group by 1, 2, 3, 4, 5
  ${whole ? sql`having sum(k.invoice_count) <> 0` : sql``}`;
const paymentPlatformLevels = (source: RawBuilder<unknown>) => sql`
  select p.period, p.period_start, k.currency, l.grade, l.method, sum(k.payment_count)::bigint as payment_count, sum(k.amount)::bigint as amount
    from (${source}) k
   cross join lateral (values (k.grade, k.method), (k.grade, ''), ('', k.method), ('', '')) l (grade, method)
   ${periodsOf('k.paid_on', true)}
   group by 1, 2, 3, 4, 5
  having sum(k.payment_count) <> 0 or sum(k.amount) <> 0`;
const storedPlatformInvoices = sql`
  select period, period_start, currency, grade, timezone, sum(invoice_count)::bigint as invoice_count, sum(amount_due)::bigint as amount_due,
         sum(amount_paid)::bigint as amount_paid, sum(outstanding_count)::bigint as outstanding_count, sum(partial_count)::bigint as partial_count
    from (select period, period_start, currency, grade, timezone, ${invoiceColumns} from platform_invoice_sums
          union all
          select period, period_start, currency, grade, timezone, ${invoiceColumns}
            from (${invoicePlatformLevels(sql`select currency, timezone, grade, due_date, ${invoiceColumns} from platform_invoice_deltas`, false)}) d
          union all
          select period, period_start, currency, grade, timezone, ${invoiceColumns}
            from (${invoicePlatformLevels(sql`
              select sc.currency, sc.timezone, d.grade, d.due_date, ${invoiceColumns}
                from invoice_rollup_deltas d join schools sc on sc.id = d.school_id and sc.deleted_at is null`, false)}) r) s
   group by 1, 2, 3, 4, 5
  having sum(invoice_count) <> 0`;
const expectedPlatformInvoices = invoicePlatformLevels(sql`
  select sc.currency, sc.timezone, i.grade, i.due_date, ${invoiceSums}
    from (${liveInvoices}) i join schools sc on sc.id = i.school_id and sc.deleted_at is null
   group by 1, 2, 3, 4`);
const storedPlatformPayments = sql`
  select period, period_start, currency, grade, method, sum(payment_count)::bigint as payment_count, sum(amount)::bigint as amount
    from (select period, period_start, currency, grade, method, payment_count, amount from platform_payment_sums
          union all
          select period, period_start, currency, grade, method, payment_count, amount
            from (${paymentPlatformLevels(sql`select currency, grade, method, paid_on, payment_count, amount from platform_payment_deltas`)}) d
          union all
          select period, period_start, currency, grade, method, payment_count, amount
            from (${paymentPlatformLevels(sql`
              select sc.currency, d.grade, d.method, d.paid_on, d.payment_count, d.amount
                from payment_rollup_deltas d join schools sc on sc.id = d.school_id and sc.deleted_at is null`)}) r) s
   group by 1, 2, 3, 4, 5
  having sum(payment_count) <> 0 or sum(amount) <> 0`;
const expectedPlatformPayments = paymentPlatformLevels(sql`
  select sc.currency, m.grade, m.method, m.paid_on, sum(m.n)::bigint as payment_count, sum(m.amount)::bigint as amount
    from (${movements}) m join schools sc on sc.id = m.school_id and sc.deleted_at is null
   group by 1, 2, 3, 4`);

const storedSchoolInvoices = sql`
  select school_id, period, period_start, sum(invoice_count)::bigint as invoice_count, sum(amount_due)::bigint as amount_due, sum(amount_paid)::bigint as amount_paid
    from (select school_id, period, period_start, invoice_count, amount_due, amount_paid from school_invoice_sums
          union all
          select d.school_id, p.period, p.period_start, d.invoice_count, d.amount_due, d.amount_paid
            from invoice_rollup_deltas d ${periodsOf('d.due_date', false)}) s
   group by 1, 2, 3
  having sum(invoice_count) <> 0 or sum(amount_due) <> 0 or sum(amount_paid) <> 0`;
const expectedSchoolInvoices = sql`
  select i.school_id, p.period, p.period_start, count(*)::bigint as invoice_count, sum(i.amount)::bigint as amount_due, sum(i.paid_amount)::bigint as amount_paid
    from (${liveInvoices}) i ${periodsOf('i.due_date', false)}
   group by 1, 2, 3`;
const storedSchoolPayments = sql`
  select school_id, period, period_start, sum(payment_count)::bigint as payment_count, sum(amount)::bigint as amount
    from (select school_id, period, period_start, payment_count, amount from school_payment_sums
          union all
          select d.school_id, p.period, p.period_start, d.payment_count, d.amount
            from payment_rollup_deltas d ${periodsOf('d.paid_on', false)}) s
   group by 1, 2, 3
  having sum(payment_count) <> 0 or sum(amount) <> 0`;
const expectedSchoolPayments = sql`
  select m.school_id, p.period, p.period_start, sum(m.n)::bigint as payment_count, sum(m.amount)::bigint as amount
    from (${movements}) m ${periodsOf('m.paid_on', false)}
   group by 1, 2, 3
  having sum(m.n) <> 0 or sum(m.amount) <> 0`;

/** How many example rows of each kind of difference a report carries. */
const SAMPLE = 20;

export type Row = Record<string, unknown>;

export interface TableComparison {
  table:
    | 'invoice_rollups'
    | 'payment_rollups'
    | 'invoice_totals'
    | 'payment_totals'
    | 'platform_invoice_sums'
    | 'platform_payment_sums'
    | 'school_invoice_sums'
    | 'school_payment_sums'
    | 'failure_hours'
    | 'failure_days';
  stored: number;
  expected: number;
  /** Expected rows with no equal stored row (absent or different values). */
  missing: { count: number; sample: Row[] };
  /** Stored rows with no equal expected row (stale, extra or different values). */
  unexpected: { count: number; sample: Row[] };
}

export interface VerifyReport {
  ok: boolean;
  tables: TableComparison[];
  /** Invoices whose paid_amount ≠ Σ payments − Σ refunds + credit applied + credit notes and write-offs, or outside 0 ≤ paid ≤ amount. */
  invoices: { checked: number; bad: { count: number; sample: Row[] } };
}

async function differences(db: DbOrTx, left: RawBuilder<unknown>, right: RawBuilder<unknown>) {
  const diff = sql`(${left} except ${right})`;
  const [count, sample] = await Promise.all([
    sql<{ n: number }>`select count(*)::bigint as n from ${diff} d`.execute(db),
    sql<Row>`select * from ${diff} d order by 1, 2, 3 limit ${SAMPLE}`.execute(db),
  ]);
  return { count: count.rows[0]?.n ?? 0, sample: sample.rows };
}

async function compare(db: DbOrTx, table: TableComparison['table'], stored: RawBuilder<unknown>, expected: RawBuilder<unknown>): Promise<TableComparison> {
  const counts = await sql<{ stored: number; expected: number }>`
    select (select count(*)::bigint from (${stored}) s) as stored, (select count(*)::bigint from (${expected}) e) as expected`.execute(db);
  return {
    table,
    stored: counts.rows[0]?.stored ?? 0,
    expected: counts.rows[0]?.expected ?? 0,
    missing: await differences(db, expected, stored),
    unexpected: await differences(db, stored, expected),
  };
}

async function checkInvoices(db: DbOrTx): Promise<VerifyReport['invoices']> {
  // Settled = payments − refunds + family credit applied + credit notes and write-offs
  // (migration 0014; src/modules/ledger checks the rest of the family ledger).
  const bad = sql`
    select i.id, i.school_id, i.amount, i.paid_amount,
           coalesce(p.total, 0)::bigint as payments, coalesce(r.total, 0)::bigint as refunds,
           coalesce(c.total, 0)::bigint as credit_applied, coalesce(a.total, 0)::bigint as adjustments
      from invoices i
      left join (select invoice_id, sum(amount) as total from payments group by invoice_id) p on p.invoice_id = i.id
      left join (select invoice_id, sum(amount) as total from refunds group by invoice_id) r on r.invoice_id = i.id
      left join (select invoice_id, sum(amount) as total from credit_applications group by invoice_id) c on c.invoice_id = i.id
      left join (select invoice_id, sum(amount) as total from invoice_adjustments group by invoice_id) a on a.invoice_id = i.id
     where i.paid_amount <> coalesce(p.total, 0) - coalesce(r.total, 0) + coalesce(c.total, 0) + coalesce(a.total, 0)
        or i.paid_amount < 0 or i.paid_amount > i.amount`;
  const result = await sql<{ checked: number; bad: number }>`
    select (select count(*)::bigint from invoices) as checked, (select count(*)::bigint from (${bad}) b) as bad`.execute(db);
  const sample = await sql<Row>`${bad} order by i.id limit ${SAMPLE}`.execute(db);
  return { checked: result.rows[0]?.checked ?? 0, bad: { count: result.rows[0]?.bad ?? 0, sample: sample.rows } };
}

/**
 * Compares both rollup tables with a full recomputation and checks every invoice's
 * paid amount, all in one REPEATABLE READ read-only transaction: one snapshot, so
 * concurrent writers (which maintain the rollups in their own transactions) cannot
 * make a consistent database look inconsistent. It folds the waiting deltas first
 * unless `fold` is false (a read-only standby): each tier's stored side adds them.
 */
export async function verifyRollups(db: Db, options: { fold?: boolean } = {}): Promise<VerifyReport> {
  if (options.fold ?? true) {
    await foldRollupDeltas(db);
  }
  return db
    .transaction()
    .setIsolationLevel('repeatable read')
    .execute(async (trx) => {
      await sql`set transaction read only`.execute(trx);
      const tables = [
        await compare(trx, 'invoice_rollups', storedInvoiceRollups, expectedInvoiceRollups),
        await compare(trx, 'payment_rollups', storedPaymentRollups, expectedPaymentRollups),
        await compare(trx, 'invoice_totals', storedInvoiceTotals, expectedInvoiceTotals),
        await compare(trx, 'payment_totals', storedPaymentTotals, expectedPaymentTotals),
        await compare(trx, 'platform_invoice_sums', storedPlatformInvoices, expectedPlatformInvoices),
        await compare(trx, 'platform_payment_sums', storedPlatformPayments, expectedPlatformPayments),
        await compare(trx, 'school_invoice_sums', storedSchoolInvoices, expectedSchoolInvoices),
        await compare(trx, 'school_payment_sums', storedSchoolPayments, expectedSchoolPayments),
        await compare(trx, 'failure_hours', storedFailureHours, expectedFailureHours),
        await compare(trx, 'failure_days', storedFailureDays, expectedFailureDays),
      ];
      const invoices = await checkInvoices(trx);
      const ok = tables.every((t) => t.missing.count === 0 && t.unexpected.count === 0) && invoices.bad.count === 0;
      return { ok, tables, invoices };
    });
}

/**
 * Moves the rollup deltas waiting (migration 0035) into the buckets and the tiers above
 * them, in its own transaction when `db` is the pool. Every reader of a tier calls it
 * first; with nothing waiting it returns at once, taking no lock. `wait` false (the
 * maintenance job): it leaves them when another session is folding.
 */
export async function foldRollupDeltas(db: DbOrTx, wait = true): Promise<void> {
  await sql`select fold_rollup_deltas(${wait})`.execute(db);
}

/** Recomputes the rollups from scratch (all schools, or one) with the migration's SQL function. */
export async function refreshRollups(db: DbOrTx, schoolId?: string): Promise<void> {
  await (schoolId === undefined ? sql`select refresh_reporting_rollups()` : sql`select refresh_reporting_rollups(${schoolId}::uuid)`).execute(db);
  if (schoolId === undefined) {
    await sql`select refresh_failure_rollups()`.execute(db);
  }
}

/** A human-readable report, one line per check, with sample rows of any difference. */
export function formatReport(report: VerifyReport): string {
  const lines: string[] = [];
  const rows = (sample: Row[]) => sample.map((row) => `      ${JSON.stringify(row)}`);
  for (const t of report.tables) {
    const good = t.missing.count === 0 && t.unexpected.count === 0;
    lines.push(`${good ? 'OK  ' : 'FAIL'} ${t.table}: ${t.stored} stored rows, ${t.expected} expected rows`);
    if (t.missing.count > 0) {
      lines.push(`    ${t.missing.count} expected row(s) missing or different in ${t.table}:`, ...rows(t.missing.sample));
    }
    if (t.unexpected.count > 0) {
      lines.push(`    ${t.unexpected.count} stored row(s) in ${t.table} not in the recomputation:`, ...rows(t.unexpected.sample));
    }
  }
  const inv = report.invoices;
  lines.push(`${inv.bad.count === 0 ? 'OK  ' : 'FAIL'} invoices: ${inv.checked} checked, paid_amount = Σ payments − Σ refunds + credit applied + credit notes/write-offs and 0 ≤ paid ≤ amount`);
  if (inv.bad.count > 0) {
    lines.push(`    ${inv.bad.count} invoice(s) break it:`, ...rows(inv.bad.sample));
  }
  lines.push(report.ok ? 'verify: all rollups equal a full recomputation' : 'verify: MISMATCH');
  return lines.join('\n');
}
