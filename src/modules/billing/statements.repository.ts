import { sql } from 'kysely';
import type { DbOrTx } from '../../db/database.js';
import type { PaymentMethod } from '../../db/types.js';
import { inScope, type Scope } from '../../shared/scope.js';
import type { InvoiceStatus } from './billing.schemas.js';
import { statusOf } from './invoices.repository.js';
import type { StatementTotals } from './statements.schemas.js';

/**
 * The SQL of statements. Every query is tenant-scoped with `inScope` on its own
 * school_id column (besides naming the school), totals are SQL aggregates over every
 * matching invoice, and status comes from the one definition (`statusOf`). Names and
 * references leave this file raw; the service masks them.
 */

/** A statement's subject, with what the service needs to authorise and cache it. */
export interface SchoolSubject {
  schoolId: string;
  schoolName: string;
  /** The school's postal address and phone, for the head of printed statements. */
  schoolAddress: string | null;
  schoolPhone: string | null;
  currency: string;
  timezone: string;
  publicStatements: boolean;
  /** billing_versions.version (0 when absent): bumped by every write that can change a statement. */
  version: number;
  /** Today in the school's zone: OVERDUE turns on at midnight there without any write. */
  today: string;
}

export interface StudentSubject extends SchoolSubject {
  studentId: string;
  firstName: string;
  lastName: string;
}

/** Which invoices a statement covers: a school's, or one student's; due dates inclusive. */
export interface InvoiceFilter {
  schoolId: string;
  studentId?: string;
  from?: string;
  to?: string;
}

export interface StatementInvoiceRow {
  id: string;
  number: string;
  description: string | null;
  studentId: string;
  firstName: string;
  lastName: string;
  amount: number;
  /** Cash settled: paid_amount − credited_amount (payments − refunds + family credit applied). */
  paidAmount: number;
  /** Credit notes and write-offs (no money moved). */
  creditedAmount: number;
  /** Still open: amount − paid_amount (= amount − paidAmount − creditedAmount). */
  pendingAmount: number;
  status: InvoiceStatus;
  dueDate: string;
}

export interface StatementPaymentRow {
  id: string;
  invoiceId: string;
  amount: number;
  refundedAmount: number;
  method: PaymentMethod;
  reference: string | null;
  paidAt: Date;
}

/** Where a keyset batch resumes: after this (due date, id). */
export interface InvoiceCursor {
  dueDate: string;
  id: string;
}

/** Of a query over `schools`: its statement version, and today in its zone (consistent with invoice_status's now()). */
const versionOf = sql<number>`coalesce((select bv.version from billing_versions bv where bv.school_id = schools.id), 0)`;
const todayOf = sql<string>`(now() at time zone schools.timezone)::date`;

export function createStatementsRepository() {
  /** The invoices a filter covers, joined with their school (for status and scope). */
  const invoicesOf = (db: DbOrTx, scope: Scope, filter: InvoiceFilter) =>
    db
      .selectFrom('invoices')
      .innerJoin('schools', 'schools.id', 'invoices.school_id')
      .where('invoices.school_id', '=', filter.schoolId)
      .where((eb) => inScope(eb, 'invoices.school_id', scope))
      .where('schools.deleted_at', 'is', null)
      .$if(filter.studentId !== undefined, (qb) => qb.where('invoices.student_id', '=', filter.studentId ?? ''))
      .$if(filter.from !== undefined, (qb) => qb.where('invoices.due_date', '>=', filter.from ?? ''))
      .$if(filter.to !== undefined, (qb) => qb.where('invoices.due_date', '<=', filter.to ?? ''));

  const invoiceRows = (db: DbOrTx, scope: Scope, filter: InvoiceFilter) =>
    invoicesOf(db, scope, filter)
      .innerJoin('students', 'students.id', 'invoices.student_id')
      .select([
        'invoices.id',
        'invoices.number',
        'invoices.description',
        'invoices.student_id as studentId',
        'students.first_name as firstName',
        'students.last_name as lastName',
        'invoices.amount',
        sql<number>`invoices.paid_amount - invoices.credited_amount`.as('paidAmount'),
        'invoices.credited_amount as creditedAmount',
        sql<number>`invoices.amount - invoices.paid_amount`.as('pendingAmount'),
        statusOf.as('status'),
        'invoices.due_date as dueDate',
      ])
      .orderBy('invoices.due_date')
      .orderBy('invoices.id');

  return {
    /** A visible school (not deleted, in scope) with its cache version; undefined otherwise. */
    findSchool(db: DbOrTx, scope: Scope, schoolId: string): Promise<SchoolSubject | undefined> {
      return db
        .selectFrom('schools')
        .select([
          'schools.id as schoolId',
          'schools.name as schoolName',
          'schools.address as schoolAddress',
          'schools.phone as schoolPhone',
          'schools.currency',
          'schools.timezone',
          'schools.public_statements as publicStatements',
          versionOf.as('version'),
          todayOf.as('today'),
        ])
        .where('schools.id', '=', schoolId)
        .where('schools.deleted_at', 'is', null)
        .where((eb) => inScope(eb, 'schools.id', scope))
        .executeTakeFirst();
    },

    /** A visible student (student and school not deleted, in scope) with its school. */
    findStudent(db: DbOrTx, scope: Scope, studentId: string): Promise<StudentSubject | undefined> {
      return db
        .selectFrom('students')
        .innerJoin('schools', 'schools.id', 'students.school_id')
        .select([
          'students.id as studentId',
          'students.first_name as firstName',
          'students.last_name as lastName',
          'schools.id as schoolId',
          'schools.name as schoolName',
          'schools.address as schoolAddress',
          'schools.phone as schoolPhone',
          'schools.currency',
          'schools.timezone',
          'schools.public_statements as publicStatements',
          versionOf.as('version'),
          todayOf.as('today'),
        ])
        .where('students.id', '=', studentId)
        .where('students.deleted_at', 'is', null)
        .where('schools.deleted_at', 'is', null)
        .where((eb) => inScope(eb, 'students.school_id', scope))
        .executeTakeFirst();
    },

    /**
     * Money totals over every matching invoice; cancelled ones count nowhere. Paid is
     * cash (paid_amount − credited_amount), credited the credit notes and write-offs, so
     * invoiced = paid + credited + pending.
     */
    async totals(db: DbOrTx, scope: Scope, filter: InvoiceFilter): Promise<StatementTotals> {
      const live = sql`invoices.cancelled_at is null`;
      const row = await invoicesOf(db, scope, filter)
        .select([
          sql<number>`coalesce(sum(invoices.amount) filter (where ${live}), 0)`.as('totalInvoiced'),
          sql<number>`coalesce(sum(invoices.paid_amount - invoices.credited_amount) filter (where ${live}), 0)`.as('totalPaid'),
          sql<number>`coalesce(sum(invoices.credited_amount) filter (where ${live}), 0)`.as('totalCredited'),
          sql<number>`coalesce(sum(invoices.amount - invoices.paid_amount) filter (where ${live}), 0)`.as('totalPending'),
          sql<number>`coalesce(sum(invoices.amount - invoices.paid_amount) filter (where ${statusOf} = 'OVERDUE'), 0)`.as('totalOverdue'),
        ])
        .executeTakeFirstOrThrow();
      return row;
    },

    /**
     * The largest amount of any invoice the filter covers, cancelled ones included (they
     * are listed too): a printed statement sizes its money columns from it before the
     * rows stream, so that no amount is ever cut.
     */
    async largestAmount(db: DbOrTx, scope: Scope, filter: InvoiceFilter): Promise<number> {
      const row = await invoicesOf(db, scope, filter)
        .select(sql<number>`coalesce(max(invoices.amount), 0)`.as('largest'))
        .executeTakeFirstOrThrow();
      return row.largest;
    },

    /** The longest invoice number the filter covers (the printed number column is sized from it); null when none. */
    async longestNumber(db: DbOrTx, scope: Scope, filter: InvoiceFilter): Promise<string | null> {
      const row = await invoicesOf(db, scope, filter)
        .select('invoices.number')
        .orderBy(sql`length(invoices.number)`, 'desc')
        .limit(1)
        .executeTakeFirst();
      return row?.number ?? null;
    },

    /** Students of a school that are not deleted, and how many of them are active. */
    async studentCounts(db: DbOrTx, scope: Scope, schoolId: string): Promise<{ totalStudents: number; activeStudents: number }> {
      const row = await db
        .selectFrom('students')
        .select([
          sql<number>`count(*)::int`.as('totalStudents'),
          sql<number>`(count(*) filter (where students.is_active))::int`.as('activeStudents'),
        ])
        .where('students.school_id', '=', schoolId)
        .where('students.deleted_at', 'is', null)
        .where((eb) => inScope(eb, 'students.school_id', scope))
        .executeTakeFirstOrThrow();
      return row;
    },

    /** The first `limit` invoices by (due date, id). */
    listInvoices(db: DbOrTx, scope: Scope, filter: InvoiceFilter, limit: number): Promise<StatementInvoiceRow[]> {
      return invoiceRows(db, scope, filter).limit(limit).execute();
    },

    /** One keyset batch: the next `limit` invoices after `cursor` (an index range scan, no OFFSET). */
    invoiceBatch(db: DbOrTx, scope: Scope, filter: InvoiceFilter, after: InvoiceCursor | undefined, limit: number): Promise<StatementInvoiceRow[]> {
      return invoiceRows(db, scope, filter)
        .$if(after !== undefined, (qb) =>
          qb.where((eb) => eb(eb.refTuple('invoices.due_date', 'invoices.id'), '>', eb.tuple(after?.dueDate ?? '', after?.id ?? ''))),
        )
        .limit(limit)
        .execute();
    },

    /** Payments (with what was refunded of each) of the invoices a filter covers, oldest first. */
    listPayments(db: DbOrTx, scope: Scope, filter: InvoiceFilter): Promise<StatementPaymentRow[]> {
      return db
        .selectFrom('payments')
        .innerJoin('invoices', 'invoices.id', 'payments.invoice_id')
        .select([
          'payments.id',
          'payments.invoice_id as invoiceId',
          'payments.amount',
          sql<number>`coalesce((select sum(r.amount) from refunds r where r.payment_id = payments.id), 0)`.as('refundedAmount'),
          'payments.method',
          'payments.reference',
          'payments.paid_at as paidAt',
        ])
        .where('payments.school_id', '=', filter.schoolId)
        .where((eb) => inScope(eb, 'payments.school_id', scope))
        .$if(filter.studentId !== undefined, (qb) => qb.where('invoices.student_id', '=', filter.studentId ?? ''))
        .$if(filter.from !== undefined, (qb) => qb.where('invoices.due_date', '>=', filter.from ?? ''))
        .$if(filter.to !== undefined, (qb) => qb.where('invoices.due_date', '<=', filter.to ?? ''))
        .orderBy('payments.paid_at')
        .orderBy('payments.id')
        .execute();
    },

    /** The school's statement version now (0 when it has none yet). */
    async version(db: DbOrTx, schoolId: string): Promise<number> {
      const row = await db.selectFrom('billing_versions').select('version').where('school_id', '=', schoolId).executeTakeFirst();
      return row?.version ?? 0;
    },
  };
}

export type StatementsRepository = ReturnType<typeof createStatementsRepository>;
