import { sql, type RawBuilder } from 'kysely';
import type { Db, DbOrTx } from '../../db/database.js';

/**
 * The family-ledger invariant of SPEC §7, recomputed from the money rows (`npm run
 * verify`, test/ledger). Three checks, in one REPEATABLE READ read-only snapshot so
 * concurrent postings cannot make a consistent database look inconsistent:
 *
 * 1. Per invoice: amount = Σ lines; paid_amount = payments − refunds + credit applied +
 *    credit notes + write-offs + waivers; credited_amount = credit notes + write-offs +
 *    waivers (every invoice_adjustments row).
 * 2. Per family payment: allocated = Σ its payment rows (credited = amount − allocated is
 *    a database check).
 * 3. Per family (a student without a family: per student):
 *      charges + late fees − discounts − credit notes − write-offs − payments + refunds
 *        = open − credit
 *    (late-fee waivers count with the write-offs: no money moved, the fee is forgiven)
 *    where lines count on non-cancelled invoices only, payments are the direct ones (not
 *    part of a family payment) plus family payments in full, open is Σ (amount −
 *    paid_amount) of the non-cancelled invoices and credit is families.credit_balance.
 *    An invoice belongs to its own family_id, else to its student's family, else to its
 *    student. Payments and refunds count whatever the invoice's state: a cancelled
 *    invoice had nothing settled, so on it they cancel out.
 */
export interface LedgerInvariantReport {
  ok: boolean;
  invoices: { checked: number; bad: { count: number; sample: Record<string, unknown>[] } };
  familyPayments: { checked: number; bad: { count: number; sample: Record<string, unknown>[] } };
  families: { checked: number; bad: { count: number; sample: Record<string, unknown>[] } };
}

const SAMPLE = 20;

/** `alias.school_id` is the school asked for (every school when none). */
type Only = (alias: string) => RawBuilder<boolean>;

/** Invoices whose figures differ from their lines and money rows. */
const badInvoices = (only: Only) => sql`
  select i.school_id as "schoolId", i.id as "invoiceId", i.number,
         i.amount, coalesce(l.total, 0)::bigint as lines,
         i.paid_amount as "paidAmount", coalesce(p.total, 0)::bigint as payments, coalesce(r.total, 0)::bigint as refunds,
         coalesce(c.total, 0)::bigint as "creditApplied", coalesce(a.total, 0)::bigint as adjustments,
         i.credited_amount as "creditedAmount"
    from invoices i
    left join (select school_id, invoice_id, sum(amount) as total from invoice_lines group by 1, 2) l on l.school_id = i.school_id and l.invoice_id = i.id
    left join (select school_id, invoice_id, sum(amount) as total from payments group by 1, 2) p on p.school_id = i.school_id and p.invoice_id = i.id
    left join (select school_id, invoice_id, sum(amount) as total from refunds group by 1, 2) r on r.school_id = i.school_id and r.invoice_id = i.id
    left join (select school_id, invoice_id, sum(amount) as total from credit_applications group by 1, 2) c on c.school_id = i.school_id and c.invoice_id = i.id
    left join (select school_id, invoice_id, sum(amount) as total from invoice_adjustments group by 1, 2) a on a.school_id = i.school_id and a.invoice_id = i.id
   where (i.amount <> coalesce(l.total, 0)
      or i.paid_amount <> coalesce(p.total, 0) - coalesce(r.total, 0) + coalesce(c.total, 0) + coalesce(a.total, 0)
      or i.credited_amount <> coalesce(a.total, 0))
     and ${only('i')}`;

/** Family payments whose allocated part differs from their payment rows. */
const badFamilyPayments = (only: Only) => sql`
  select f.school_id as "schoolId", f.id as "familyPaymentId", f.family_id as "familyId", f.amount, f.allocated, f.credited,
         coalesce(p.total, 0)::bigint as payments
    from family_payments f
    left join (select school_id, family_payment_id, sum(amount) as total from payments where family_payment_id is not null group by 1, 2) p
      on p.school_id = f.school_id and p.family_payment_id = f.id
   where f.allocated <> coalesce(p.total, 0) and ${only('f')}`;

/** Every movement as a contribution to its owner (family, or student without one), summed per owner. */
const owners = (only: Only) => sql`
  with inv as (
    select i.school_id, i.id, i.cancelled_at, i.amount, i.paid_amount,
           coalesce(i.family_id, s.family_id) as family_id,
           case when coalesce(i.family_id, s.family_id) is null then i.student_id end as student_id
      from invoices i
      join students s on s.school_id = i.school_id and s.id = i.student_id
     where ${only('i')}
  ),
  contributions (school_id, family_id, student_id, charges, discounts, credit_notes, write_offs, payments, refunds, open, credit) as (
    select inv.school_id, inv.family_id, inv.student_id,
           coalesce(sum(l.amount) filter (where l.kind <> 'discount'), 0), coalesce(-sum(l.amount) filter (where l.kind = 'discount'), 0),
           0, 0, 0, 0, 0, 0
      from inv join invoice_lines l on l.school_id = inv.school_id and l.invoice_id = inv.id
     where inv.cancelled_at is null
     group by 1, 2, 3
    union all
    select school_id, family_id, student_id, 0, 0, 0, 0, 0, 0, sum(amount - paid_amount), 0
      from inv where cancelled_at is null group by 1, 2, 3
    union all
    select inv.school_id, inv.family_id, inv.student_id, 0, 0,
           coalesce(sum(a.amount) filter (where a.kind = 'credit_note'), 0), coalesce(sum(a.amount) filter (where a.kind in ('write_off', 'waiver')), 0),
           0, 0, 0, 0
      from inv join invoice_adjustments a on a.school_id = inv.school_id and a.invoice_id = inv.id
     where inv.cancelled_at is null
     group by 1, 2, 3
    union all
    select inv.school_id, inv.family_id, inv.student_id, 0, 0, 0, 0, sum(p.amount), 0, 0, 0
      from inv join payments p on p.school_id = inv.school_id and p.invoice_id = inv.id
     where p.family_payment_id is null
     group by 1, 2, 3
    union all
    select school_id, family_id, null::uuid, 0, 0, 0, 0, sum(amount), 0, 0, 0
      from family_payments f where ${only('f')} group by 1, 2
    union all
    select inv.school_id, inv.family_id, inv.student_id, 0, 0, 0, 0, 0, sum(r.amount), 0, 0
      from inv join refunds r on r.school_id = inv.school_id and r.invoice_id = inv.id
     group by 1, 2, 3
    union all
    select school_id, id, null::uuid, 0, 0, 0, 0, 0, 0, 0, credit_balance
      from families f where credit_balance <> 0 and ${only('f')}
  )
  select school_id as "schoolId", family_id as "familyId", student_id as "studentId",
         sum(charges)::bigint as charges, sum(discounts)::bigint as discounts,
         sum(credit_notes)::bigint as "creditNotes", sum(write_offs)::bigint as "writeOffs",
         sum(payments)::bigint as payments, sum(refunds)::bigint as refunds,
         sum(open)::bigint as open, sum(credit)::bigint as credit,
         (sum(charges) - sum(discounts) - sum(credit_notes) - sum(write_offs) - sum(payments) + sum(refunds))::bigint as "movements",
         (sum(open) - sum(credit))::bigint as "openLessCredit"
    from contributions
   group by 1, 2, 3`;

async function check(db: DbOrTx, bad: RawBuilder<unknown>, checked: RawBuilder<unknown>, order: RawBuilder<unknown>) {
  const counts = await sql<{ checked: number; bad: number }>`
    select (${checked})::bigint as checked, (select count(*) from (${bad}) b)::bigint as bad`.execute(db);
  const sample = await sql<Record<string, unknown>>`select * from (${bad}) b order by ${order} limit ${SAMPLE}`.execute(db);
  return { checked: counts.rows[0]?.checked ?? 0, bad: { count: counts.rows[0]?.bad ?? 0, sample: sample.rows } };
}

/** The whole database, or one school (`schoolId`). */
export async function verifyLedgerInvariant(db: Db, options: { schoolId?: string } = {}): Promise<LedgerInvariantReport> {
  const { schoolId } = options;
  const only: Only = (alias) => (schoolId === undefined ? sql<boolean>`true` : sql<boolean>`${sql.ref(`${alias}.school_id`)} = ${schoolId}::uuid`);
  return db
    .transaction()
    .setIsolationLevel('repeatable read')
    .execute(async (trx) => {
      await sql`set transaction read only`.execute(trx);
      const invoices = await check(trx, badInvoices(only), sql`select count(*) from invoices i where ${only('i')}`, sql`1, 2`);
      const familyPayments = await check(trx, badFamilyPayments(only), sql`select count(*) from family_payments f where ${only('f')}`, sql`1, 2`);
      const families = await check(
        trx,
        sql`select * from (${owners(only)}) o where o.movements <> o."openLessCredit"`,
        sql`select count(*) from (${owners(only)}) o`,
        sql`1, 2, 3`,
      );
      const ok = invoices.bad.count === 0 && familyPayments.bad.count === 0 && families.bad.count === 0;
      return { ok, invoices, familyPayments, families };
    });
}

/** One line per check, with sample rows of any offender (like the rollup report). */
export function formatLedgerInvariantReport(report: LedgerInvariantReport): string {
  const lines: string[] = [];
  const rows = (sample: Record<string, unknown>[]) => sample.map((row) => `      ${JSON.stringify(row)}`);
  const line = (part: LedgerInvariantReport['invoices'], what: string, rule: string) => {
    lines.push(`${part.bad.count === 0 ? 'OK  ' : 'FAIL'} ledger ${what}: ${part.checked} checked, ${rule}`);
    if (part.bad.count > 0) {
      lines.push(`    ${part.bad.count} ${what} break it:`, ...rows(part.bad.sample));
    }
  };
  line(report.invoices, 'invoices', 'amount = Σ lines, paid_amount = payments − refunds + credit applied + credit notes + write-offs, credited_amount = credit notes + write-offs');
  line(report.familyPayments, 'family payments', 'allocated = Σ its payments');
  line(report.families, 'families', 'charges − discounts − credit notes − write-offs − payments + refunds = open − credit (per family; per student without one)');
  lines.push(report.ok ? 'verify: the family ledger balances' : 'verify: LEDGER MISMATCH');
  return lines.join('\n');
}
