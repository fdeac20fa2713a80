import { sql, type RawBuilder } from 'kysely';
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
    /** A visible family (not deleted, its school not deleted, in scope) with its school; undefined otherwise. */
    findSubject(db: DbOrTx, scope: Scope, familyId: string): Promise<StatementSubject | undefined> {
      return db
        .selectFrom('families')
        .innerJoin('schools', 'schools.id', 'families.school_id')
        .select([
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
        ])
        .where('families.id', '=', familyId)
        .where('families.deleted_at', 'is', null)
        .where('schools.deleted_at', 'is', null)
        .where((eb) => inScope(eb, 'families.school_id', scope))
        .executeTakeFirst();
    },

    /** Opening and closing positions and the period's totals, over every movement (one pass). */
    async figures(db: DbOrTx, subject: StatementSubject, period: StatementPeriod): Promise<StatementFigures> {
      const before = sql`(${period.from}::date is not null and m.day < ${period.from}::date)`;
      const upToEnd = sql`(${period.to}::date is null or m.day <= ${period.to}::date)`;
      const inPeriod = sql`(${period.from}::date is null or m.day >= ${period.from}::date) and ${upToEnd}`;
      const total = (expression: string, where: RawBuilder<unknown>) => sql`coalesce(sum(${sql.raw(expression)}) filter (where ${where}), 0)::text`;
      const { rows } = await sql<Record<keyof StatementFigures, string>>`
        with ${movementsSql(subject.schoolId, subject.familyId, subject.timezone)}
        select ${total('m.debit - m.credit', before)} as "openingBalance",
               ${total('m.credit_added - m.credit_used', before)} as "openingCredit",
               ${total('m.debit - m.credit', upToEnd)} as "closingBalance",
               ${total('m.credit_added - m.credit_used', upToEnd)} as "closingCredit",
               ${total('m.debit', sql`${inPeriod} and m.kind = 'invoice'`)} as "invoiced",
               ${total('m.credit', sql`${inPeriod} and m.kind in ('payment', 'family_payment')`)} as "paid",
               ${total('m.debit', sql`${inPeriod} and m.kind = 'refund'`)} as "refunded",
               ${total('m.credit', sql`${inPeriod} and m.kind = 'credit_note'`)} as "creditNotes",
               ${total('m.credit', sql`${inPeriod} and m.kind = 'write_off'`)} as "writeOffs",
               ${total('m.credit_added', inPeriod)} as "creditAdded",
               ${total('m.credit_used', inPeriod)} as "creditUsed"
          from moves m`.execute(db);
      const row = rows[0];
      if (!row) {
        throw new Error('the statement figures query returned no row');
      }
      return Object.fromEntries(Object.entries(row).map(([key, value]) => [key, Number(value)])) as unknown as StatementFigures;
    },

    /** The period's movements in statement order, at most `limit`. */
    async entries(db: DbOrTx, subject: StatementSubject, period: StatementPeriod, limit: number): Promise<StatementEntryRow[]> {
      const { rows } = await sql<StatementEntryRow>`
        with ${movementsSql(subject.schoolId, subject.familyId, subject.timezone)}
        select to_char(m.day, 'YYYY-MM-DD') as date, m.at, m.kind, m.id,
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
         limit ${limit}`.execute(db);
      return rows.map((row) => ({
        ...row,
        amount: Number(row.amount),
        debit: Number(row.debit),
        credit: Number(row.credit),
        creditAdded: Number(row.creditAdded),
        creditUsed: Number(row.creditUsed),
        pendingAmount: row.pendingAmount === null ? null : Number(row.pendingAmount),
        paidAmount: row.paidAmount === null ? null : Number(row.paidAmount),
        creditedAmount: row.creditedAmount === null ? null : Number(row.creditedAmount),
      }));
    },

    /** The name of the family's primary guardian, if it has one. */
    async primaryGuardian(db: DbOrTx, subject: StatementSubject): Promise<{ firstName: string; lastName: string } | undefined> {
      return db
        .selectFrom('guardians')
        .select(['first_name as firstName', 'last_name as lastName'])
        .where('school_id', '=', subject.schoolId)
        .where('family_id', '=', subject.familyId)
        .where('is_primary', '=', true)
        .where('deleted_at', 'is', null)
        .executeTakeFirst();
    },

    /** The family's students (not deleted), by name; at most `limit`. */
    students(db: DbOrTx, subject: StatementSubject, limit: number): Promise<{ id: string; firstName: string; lastName: string; grade: string }[]> {
      return db
        .selectFrom('students')
        .select(['id', 'first_name as firstName', 'last_name as lastName', 'grade'])
        .where('school_id', '=', subject.schoolId)
        .where('family_id', '=', subject.familyId)
        .where('deleted_at', 'is', null)
        .orderBy('last_name')
        .orderBy('first_name')
        .orderBy('id')
        .limit(limit)
        .execute();
    },
  };
}

export type StatementRepository = ReturnType<typeof createStatementRepository>;
