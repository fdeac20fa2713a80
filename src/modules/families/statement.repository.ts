import { sql, type RawBuilder } from 'kysely';
import { jsonArrayFrom, jsonObjectFrom } from 'kysely/helpers/postgres';
import type { DbOrTx } from '../../db/database.js';
import type { Language, PaymentMethod } from '../../db/types.js';
import { inScope, type Scope } from '../../shared/scope.js';
import type { InvoiceStatus } from '../billing/billing.schemas.js';
import { familyInvoicesSql } from './families.repository.js';
import type { EntryKind } from './statement.schemas.js';

/**
 * The SQL of the family statement. A family's account is a list of movements, each
 * dated on a day of the school's time zone, and its balance (owed − credit) is their
 * sum:
 *
 *   + invoices, on their due date (a charge counts when it falls due; cancelled ones
 *     are listed and count 0: they never had anything paid, migration 0001's check)
 *   − direct payments, on the day paid
 *   − family payments in full, on the day paid (what they settled and what became credit)
 *   + refunds, − credit notes, − write-offs, on the day recorded
 *   ± 0 credit applied (family credit settling an invoice: owed and credit drop alike)
 *
 * which is migration 0014's invariant: summed over every movement it equals
 * Σ (amount − paid) of the family's live invoices minus families.credit_balance. The
 * invoices are familyInvoicesSql's; money rows are joined to them by invoice, family
 * payments and credit applications by family. On one day, invoices come first (in the
 * order they were issued), then the rest in the order they happened. Names and references leave this file
 * raw; the service masks them.
 */

export interface StatementSubject {
  familyId: string;
  familyName: string;
  reference: string;
  preferredLanguage: Language;
  creditBalance: number;
  schoolId: string;
  schoolName: string;
  schoolAddress: string | null;
  schoolPhone: string | null;
  currency: string;
  timezone: string;
}

/** The family's primary guardian and its students (not deleted, by name), read with the subject. */
export interface StatementPeople {
  primaryGuardian: { firstName: string; lastName: string } | null;
  students: { id: string; firstName: string; lastName: string; grade: string }[];
}

type Nullable<T> = { [K in keyof T]: T[K] | null };

export interface StatementPeriod {
  from: string | null;
  to: string | null;
}

export interface StatementEntryRow {
  date: string;
  at: Date | null;
  kind: EntryKind;
  id: string;
  studentId: string | null;
  firstName: string | null;
  lastName: string | null;
  invoiceId: string | null;
  invoiceNumber: string | null;
  dueDate: string | null;
  status: InvoiceStatus | null;
  pendingAmount: number | null;
  paidAmount: number | null;
  creditedAmount: number | null;
  document: string | null;
  method: PaymentMethod | null;
  reference: string | null;
  note: string | null;
  amount: number;
  debit: number;
  credit: number;
  creditAdded: number;
  creditUsed: number;
}

export interface StatementFigures {
  openingBalance: number;
  openingCredit: number;
  closingBalance: number;
  closingCredit: number;
  invoiced: number;
  paid: number;
  refunded: number;
  creditNotes: number;
  writeOffs: number;
  creditAdded: number;
  creditUsed: number;
}

/** Every movement of a family, one row each (see the file's comment). */
function movementsSql(schoolId: string, familyId: string, timezone: string) {
  const day = (column: string) => sql`(${sql.ref(column)} at time zone ${timezone})::date`;
  return sql`
    fi as materialized ${familyInvoicesSql(schoolId, familyId)},
    moves as (
      select fi.due_date as day, 0 as rank, null::timestamptz as at, fi.created_at as sort_at, 'invoice'::text as kind, fi.id,
             fi.student_id, fi.id as invoice_id, null::text as document, null::text as method, null::text as reference,
             fi.description as note, fi.amount,
             case when fi.cancelled_at is null then fi.amount else 0 end as debit, 0::bigint as credit,
             0::bigint as credit_added, 0::bigint as credit_used
        from fi
      union all
      select ${day('p.paid_at')}, 1, p.paid_at, p.paid_at, 'payment', p.id,
             fi.student_id, fi.id, (select rc.number from receipts rc where rc.school_id = p.school_id and rc.payment_id = p.id), p.method, p.reference,
             null, p.amount, 0, p.amount, 0, 0
        from payments p join fi on fi.id = p.invoice_id
       where p.school_id = ${schoolId} and p.family_payment_id is null
      union all
      select ${day('fp.paid_at')}, 1, fp.paid_at, fp.paid_at, 'family_payment', fp.id,
             null, null, (select rc.number from receipts rc where rc.school_id = fp.school_id and rc.family_payment_id = fp.id), fp.method, fp.reference,
             null, fp.amount, 0, fp.amount, fp.credited, 0
        from family_payments fp
       where fp.school_id = ${schoolId} and fp.family_id = ${familyId}
      union all
      select ${day('r.created_at')}, 1, r.created_at, r.created_at, 'refund', r.id,
             fi.student_id, fi.id, null, null, null,
             r.reason, r.amount, r.amount, 0, 0, 0
        from refunds r join fi on fi.id = r.invoice_id
       where r.school_id = ${schoolId}
      union all
      select ${day('a.created_at')}, 1, a.created_at, a.created_at, a.kind, a.id,
             fi.student_id, fi.id, a.number, null, null,
             a.reason, a.amount, 0, a.amount, 0, 0
        from invoice_adjustments a join fi on fi.id = a.invoice_id
       where a.school_id = ${schoolId}
      union all
      select ${day('ca.created_at')}, 1, ca.created_at, ca.created_at, 'credit_applied', ca.id,
             i.student_id, i.id, null, null, null,
             null, ca.amount, 0, 0, 0, ca.amount
        from credit_applications ca join invoices i on i.id = ca.invoice_id and i.school_id = ca.school_id
       where ca.school_id = ${schoolId} and ca.family_id = ${familyId}
    )`;
}

export function createStatementRepository() {
  return {
    /**
     * A visible family (not deleted, its school not deleted, in scope) with its school,
     * its primary guardian and at most `studentsLimit` of its students; undefined otherwise.
     */
    findSubject(db: DbOrTx, scope: Scope, familyId: string, studentsLimit: number): Promise<(StatementSubject & StatementPeople) | undefined> {
      return db
        .selectFrom('families')
        .innerJoin('schools', 'schools.id', 'families.school_id')
        .select((eb) => [
          'families.id as familyId',
          'families.name as familyName',
          'families.reference',
          'families.preferred_language as preferredLanguage',
          'families.credit_balance as creditBalance',
          'schools.id as schoolId',
          'schools.name as schoolName',
          'schools.address as schoolAddress',
          'schools.phone as schoolPhone',
          'schools.currency',
          'schools.timezone',
          jsonObjectFrom(
            eb
              .selectFrom('guardians')
              .select(['first_name as firstName', 'last_name as lastName'])
              .whereRef('guardians.school_id', '=', 'families.school_id')
              .whereRef('guardians.family_id', '=', 'families.id')
              .where('guardians.is_primary', '=', true)
              .where('guardians.deleted_at', 'is', null)
              .limit(1),
          ).as('primaryGuardian'),
          jsonArrayFrom(
            eb
              .selectFrom('students')
              .select(['id', 'first_name as firstName', 'last_name as lastName', 'grade'])
              .whereRef('students.school_id', '=', 'families.school_id')
              .whereRef('students.family_id', '=', 'families.id')
              .where('students.deleted_at', 'is', null)
              .orderBy('last_name')
              .orderBy('first_name')
              .orderBy('id')
              .limit(studentsLimit),
          ).as('students'),
        ])
        .where('families.id', '=', familyId)
        .where('families.deleted_at', 'is', null)
        .where('schools.deleted_at', 'is', null)
        .where((eb) => inScope(eb, 'families.school_id', scope))
        .executeTakeFirst();
    },

    /**
     * The period's figures (opening and closing positions, the period's totals, over
     * every movement) and its movements in statement order, at most `limit`: one
     * statement, the movements computed once (referenced twice, so materialised).
     */
    async statement(db: DbOrTx, subject: StatementSubject, period: StatementPeriod, limit: number): Promise<{ figures: StatementFigures; entries: StatementEntryRow[] }> {
      const before = sql`(${period.from}::date is not null and m.day < ${period.from}::date)`;
      const upToEnd = sql`(${period.to}::date is null or m.day <= ${period.to}::date)`;
      const inPeriod = sql`(${period.from}::date is null or m.day >= ${period.from}::date) and ${upToEnd}`;
      const total = (expression: string, where: RawBuilder<unknown>) => sql`coalesce(sum(${sql.raw(expression)}) filter (where ${where}), 0)::text`;
      const { rows } = await sql<Record<`figure_${keyof StatementFigures}`, string> & Nullable<StatementEntryRow> & { ord: string | null }>`
        with ${movementsSql(subject.schoolId, subject.familyId, subject.timezone)},
        figures as (
          select ${total('m.debit - m.credit', before)} as "figure_openingBalance",
                 ${total('m.credit_added - m.credit_used', before)} as "figure_openingCredit",
                 ${total('m.debit - m.credit', upToEnd)} as "figure_closingBalance",
                 ${total('m.credit_added - m.credit_used', upToEnd)} as "figure_closingCredit",
                 ${total('m.debit', sql`${inPeriod} and m.kind = 'invoice'`)} as "figure_invoiced",
                 ${total('m.credit', sql`${inPeriod} and m.kind in ('payment', 'family_payment')`)} as "figure_paid",
                 ${total('m.debit', sql`${inPeriod} and m.kind = 'refund'`)} as "figure_refunded",
                 ${total('m.credit', sql`${inPeriod} and m.kind = 'credit_note'`)} as "figure_creditNotes",
                 ${total('m.credit', sql`${inPeriod} and m.kind in ('write_off', 'waiver')`)} as "figure_writeOffs",
                 ${total('m.credit_added', inPeriod)} as "figure_creditAdded",
                 ${total('m.credit_used', inPeriod)} as "figure_creditUsed"
            from moves m
        ),
        page as (
          select row_number() over (order by m.day, m.rank, m.sort_at, m.id) as ord,
                 to_char(m.day, 'YYYY-MM-DD') as date, m.at, m.kind, m.id,
                 m.student_id as "studentId", s.first_name as "firstName", s.last_name as "lastName",
                 m.invoice_id as "invoiceId", i.number as "invoiceNumber", to_char(i.due_date, 'YYYY-MM-DD') as "dueDate",
                 case when m.kind = 'invoice' then invoice_status(i.amount, i.paid_amount, i.due_date, i.cancelled_at, ${subject.timezone}) end as status,
                 case when m.kind = 'invoice' then case when i.cancelled_at is null then i.amount - i.paid_amount else 0 end end as "pendingAmount",
                 case when m.kind = 'invoice' then i.paid_amount - i.credited_amount end as "paidAmount",
                 case when m.kind = 'invoice' then i.credited_amount end as "creditedAmount",
                 m.document, m.method, m.reference, m.note,
                 m.amount, m.debit, m.credit, m.credit_added as "creditAdded", m.credit_used as "creditUsed"
            from moves m
            left join invoices i on i.id = m.invoice_id and i.school_id = ${subject.schoolId}
            left join students s on s.id = m.student_id and s.school_id = ${subject.schoolId}
           where (${period.from}::date is null or m.day >= ${period.from}::date)
             and (${period.to}::date is null or m.day <= ${period.to}::date)
           order by m.day, m.rank, m.sort_at, m.id
           limit ${limit}
        )
        -- One row per entry, each carrying the figures (prefixed: entries have creditAdded too); one row of figures alone when the period has none.
        select f.*, p.* from figures f left join page p on true order by p.ord`.execute(db);
      const first = rows[0];
      if (!first) {
        throw new Error('the family statement query returned no row');
      }
      const figureKeys: (keyof StatementFigures)[] = ['openingBalance', 'openingCredit', 'closingBalance', 'closingCredit', 'invoiced', 'paid', 'refunded', 'creditNotes', 'writeOffs', 'creditAdded', 'creditUsed'];
      const figures = Object.fromEntries(figureKeys.map((key) => [key, Number(first[`figure_${key}`])])) as unknown as StatementFigures;
      const num = (value: number | string | null) => (value === null ? null : Number(value));
      const entries = rows
        .filter((row) => row.ord !== null)
        .map(
          (row): StatementEntryRow => ({
            date: row.date ?? '',
            at: row.at,
            kind: row.kind as EntryKind,
            id: row.id ?? '',
            studentId: row.studentId,
            firstName: row.firstName,
            lastName: row.lastName,
            invoiceId: row.invoiceId,
            invoiceNumber: row.invoiceNumber,
            dueDate: row.dueDate,
            status: row.status,
            pendingAmount: num(row.pendingAmount),
            paidAmount: num(row.paidAmount),
            creditedAmount: num(row.creditedAmount),
            document: row.document,
            method: row.method,
            reference: row.reference,
            note: row.note,
            amount: Number(row.amount),
            debit: Number(row.debit),
            credit: Number(row.credit),
            creditAdded: Number(row.creditAdded),
            creditUsed: Number(row.creditUsed),
          }),
        );
      return { figures, entries };
    },
  };
}

export type StatementRepository = ReturnType<typeof createStatementRepository>;
