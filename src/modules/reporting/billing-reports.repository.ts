import { schoolVisible } from '../billing/schools.repository.js';
import { sql } from 'kysely';
import type { DbOrTx } from '../../db/database.js';
import type { PaymentMethod } from '../../db/types.js';
import { maskReference } from '../../shared/masking.js';
import { inScope, inScopeSql, type Scope } from '../../shared/scope.js';
import { andIf } from '../../shared/sql.js';
import type { InvoiceStatus } from '../billing/billing.schemas.js';
import { isOutstanding, statusOf } from '../billing/invoices.repository.js';
import { STUDENT_IDENTITY_COLUMNS, studentName } from '../billing/students.repository.js';
import type {
  DailyCollectionsRow,
  InvoiceDetailsRow,
  MonthlyRevenueRow,
  OverdueRow,
  PaymentHistoryRow,
  SchoolSummaryRow,
  StudentBalanceRow,
} from './billing-reports.schemas.js';

/**
 * The SQL of the billing reports (SPEC §3). Rules shared by every query:
 *
 *  - Tenant isolation is in the SQL: every tenant table read passes its school_id
 *    through `inScope`, so an out-of-scope row can never reach a report.
 *  - Soft-deleted schools and soft-deleted students (and so their invoices, payments
 *    and refunds) are left out of every report.
 *  - Invoice status comes from the one SQL definition, `invoice_status(...)` (statusOf);
 *    "overdue" means status OVERDUE, evaluated in the school's time zone.
 *  - Money is summed per school only (each school has one currency); sums of bigint
 *    come back as exact JS integers (src/db/pg-types.ts).
 *  - Aggregation happens in SQL, one statement per page (no N+1), and lists are keyset
 *    pages: the caller passes the sort key of the last row and gets limit + 1 rows.
 *
 * Raw tables are referred to by their own names (not aliases) so `statusOf` and
 * `inScope` column references resolve in both the builder and raw `sql` queries.
 */

/** Whole days past due in the school's own calendar (date - date = integer). */
const daysOverdueOf = sql<number>`((now() at time zone schools.timezone)::date - invoices.due_date)`;

export interface StudentBalanceFilter {
  limit: number;
  afterStudentId?: string;
  schoolId?: string;
  grade?: string;
  onlyWithBalance?: boolean;
}

export interface InvoiceDetailsFilter {
  limit: number;
  afterInvoiceId?: string;
  schoolId?: string;
  studentId?: string;
  status?: InvoiceStatus;
  dueFrom?: string;
  dueTo?: string;
}

export interface OverdueFilter {
  limit: number;
  after?: { dueDate: string; invoiceId: string };
  schoolId?: string;
  minDaysOverdue?: number;
}

export interface PaymentHistoryFilter {
  limit: number;
  /** `paidAtKey` is the exact (microsecond) paid_at of the last row, as returned in `cursorPaidAt`. */
  before?: { paidAtKey: string; paymentId: string };
  schoolId?: string;
  studentId?: string;
  method?: PaymentMethod;
  from?: string;
  to?: string;
}

export interface DailyCollectionsFilter {
  limit: number;
  after?: { date: string; schoolId: string };
  schoolId?: string;
  /** Inclusive local days; undefined = each school's default (to: today, from: to - 29). */
  from?: string;
  to?: string;
  defaultDays: number;
}

export interface MonthlyRevenueFilter {
  limit: number;
  after?: { month: string; schoolId: string };
  schoolId?: string;
  /** Inclusive 'YYYY-MM'; undefined = each school's default (to: this month, from: to - 11 months). */
  from?: string;
  to?: string;
  defaultMonths: number;
}

/** A report's period of a timestamp column in the school's zone (over `bounds`): its local day or its local month. */
type Bucket = (column: string) => string;
const localDay: Bucket = (column) => `(${column} at time zone bounds.timezone)::date`;
const localMonth: Bucket = (column) => `date_trunc('month', ${column} at time zone bounds.timezone)::date`;

/**
 * Money received per school of `bounds` and period (`period`, by `bucket`), in the
 * schools' timestamptz ranges: school_id, the period, payment_count and collected.
 * Payments on invoices of students not soft-deleted (`gone_invoices`), and money
 * received as family credit (the part of a family payment no invoice took, migration
 * 0020; it belongs to no student; a family payment that went wholly to credit counts as
 * one payment). The coarse window (earliest start_at … latest end_at over all schools)
 * gives the planner a range it can estimate: a short range is an index range scan.
 */
function receivedSql(period: string, bucket: Bucket, scope: Scope) {
  return sql`
    select school_id, ${sql.ref(period)}, sum(payment_count) as payment_count, sum(collected) as collected
    from (
      select bounds.school_id, ${sql.raw(bucket('payments.paid_at'))} as ${sql.ref(period)},
             count(*) as payment_count, sum(payments.amount) as collected
      from bounds
      join payments on payments.school_id = bounds.school_id
       and payments.paid_at >= bounds.start_at and payments.paid_at < bounds.end_at
      where payments.paid_at >= (select min(bounds.start_at) from bounds)
        and payments.paid_at < (select max(bounds.end_at) from bounds)
        and payments.invoice_id not in (select gone_invoices.id from gone_invoices)
        and ${inScopeSql('payments.school_id', scope)}
      group by 1, 2
      union all
      select bounds.school_id, ${sql.raw(bucket('family_payments.paid_at'))},
             count(*) filter (where family_payments.allocated = 0), sum(family_payments.credited)
      from bounds
      join family_payments on family_payments.school_id = bounds.school_id
       and family_payments.paid_at >= bounds.start_at and family_payments.paid_at < bounds.end_at
      where family_payments.credited > 0
        and ${inScopeSql('family_payments.school_id', scope)}
      group by 1, 2
    ) received
    group by 1, 2`;
}

/** Refunds per school of `bounds` and period, on the local period of their created_at (as receivedSql): school_id, the period, refunded. */
function refundedSql(period: string, bucket: Bucket, scope: Scope) {
  return sql`
    select bounds.school_id, ${sql.raw(bucket('refunds.created_at'))} as ${sql.ref(period)}, sum(refunds.amount) as refunded
    from bounds
    join refunds on refunds.school_id = bounds.school_id
     and refunds.created_at >= bounds.start_at and refunds.created_at < bounds.end_at
    where refunds.created_at >= (select min(bounds.start_at) from bounds)
      and refunds.created_at < (select max(bounds.end_at) from bounds)
      and refunds.invoice_id not in (select gone_invoices.id from gone_invoices)
      and ${inScopeSql('refunds.school_id', scope)}
    group by 1, 2`;
}

export function createBillingReportsRepository() {
  return {
    /** True when the school exists, is not deleted and the caller may see it. */
    schoolVisible,

    /**
     * Report 1 — balance per student. One row per live student of a visible school,
     * with the totals of that student's non-cancelled invoices: count, invoiced
     * (sum of amount), paid (cash: paid_amount − credited_amount, net of refunds),
     * credited (credit notes and write-offs), balance (invoiced − paid − credited =
     * Σ amount − paid_amount), overdue (pending of OVERDUE invoices) and the oldest due date
     * among OVERDUE invoices. A student without invoices has zeros.
     *
     * Plan: students in primary-key order (keyset on students.id), one lateral aggregate
     * per student over invoices_student_idx — only the students of the page (plus those
     * skipped by onlyWithBalance) are aggregated.
     */
    async studentBalances(db: DbOrTx, scope: Scope, filter: StudentBalanceFilter): Promise<StudentBalanceRow[]> {
      const rows = await db
        .selectFrom('students')
        .innerJoin('schools', 'schools.id', 'students.school_id')
        .innerJoinLateral(
          (eb) =>
            eb
              .selectFrom('invoices')
              .select([
                sql<number>`count(*)`.as('invoiceCount'),
                sql<number>`coalesce(sum(invoices.amount), 0)`.as('totalInvoiced'),
                sql<number>`coalesce(sum(invoices.paid_amount - invoices.credited_amount), 0)`.as('totalPaid'),
                sql<number>`coalesce(sum(invoices.credited_amount), 0)`.as('totalCredited'),
                sql<number>`coalesce(sum(invoices.amount - invoices.paid_amount), 0)`.as('balance'),
                sql<number>`coalesce(sum(invoices.amount - invoices.paid_amount) filter (where ${statusOf} = 'OVERDUE'), 0)`.as('overdueAmount'),
                sql<string | null>`min(invoices.due_date) filter (where ${statusOf} = 'OVERDUE')`.as('oldestOverdueDueDate'),
              ])
              .whereRef('invoices.student_id', '=', 'students.id')
              .whereRef('invoices.school_id', '=', 'students.school_id')
              .where('invoices.cancelled_at', 'is', null)
              .where((inner) => inScope(inner, 'invoices.school_id', scope))
              .as('totals'),
          (join) => join.onTrue(),
        )
        .select([
          ...STUDENT_IDENTITY_COLUMNS,
          'totals.invoiceCount',
          'totals.totalInvoiced',
          'totals.totalPaid',
          'totals.totalCredited',
          'totals.balance',
          'totals.overdueAmount',
          'totals.oldestOverdueDueDate',
        ])
        .where('students.deleted_at', 'is', null)
        .where('schools.deleted_at', 'is', null)
        .where((eb) => inScope(eb, 'students.school_id', scope))
        .$if(filter.schoolId !== undefined, (qb) => qb.where('students.school_id', '=', filter.schoolId ?? ''))
        .$if(filter.grade !== undefined, (qb) => qb.where('students.grade', '=', filter.grade ?? ''))
        .$if(filter.onlyWithBalance === true, (qb) => qb.where('totals.balance', '>', 0))
        .$if(filter.afterStudentId !== undefined, (qb) => qb.where('students.id', '>', filter.afterStudentId ?? ''))
        .orderBy('students.id')
        .limit(filter.limit + 1)
        .execute();
      return rows.map(({ firstName, lastName, ...row }) => ({
        studentId: row.studentId,
        schoolId: row.schoolId,
        schoolName: row.schoolName,
        studentName: studentName(firstName, lastName, scope),
        grade: row.grade,
        currency: row.currency,
        invoiceCount: row.invoiceCount,
        totalInvoiced: row.totalInvoiced,
        totalPaid: row.totalPaid,
        totalCredited: row.totalCredited,
        balance: row.balance,
        overdueAmount: row.overdueAmount,
        oldestOverdueDueDate: row.oldestOverdueDueDate,
      }));
    },

    /**
     * Report 2 — summary per school. One row per live, visible school: its live students
     * (all / is_active), and over the non-cancelled invoices of live students: count,
     * invoiced, paid (cash, net of refunds), credited (credit notes and write-offs),
     * pending (invoiced − paid − credited), overdue (pending of OVERDUE invoices) and the
     * collection rate paid / (invoiced − credited) rounded to 4 decimals in numeric: the
     * share of what is really owed that came in as money (0 when nothing is owed).
     *
     * Plan: students and invoices are each aggregated in one grouped pass per school
     * (one sequential read beats a bitmap scan per school, whose rows are spread over
     * the whole table), restricted to the page's schools by the same filters, and
     * left-joined to schools so a school without students or invoices still has its
     * zeros. Soft-deleted students' invoices are excluded by a hashed `not in` over the
     * (small) set of soft-deleted students. Keyset on schools.id.
     */
    async schoolSummaries(db: DbOrTx, scope: Scope, filter: { limit: number; afterSchoolId?: string; schoolId?: string }): Promise<SchoolSummaryRow[]> {
      return db
        .selectFrom('schools')
        .leftJoin(
          (eb) =>
            eb
              .selectFrom('students')
              .select([
                'students.school_id',
                sql<number>`count(*)`.as('totalStudents'),
                sql<number>`count(*) filter (where students.is_active)`.as('activeStudents'),
              ])
              .where('students.deleted_at', 'is', null)
              .where((inner) => inScope(inner, 'students.school_id', scope))
              .$if(filter.schoolId !== undefined, (qb) => qb.where('students.school_id', '=', filter.schoolId ?? ''))
              .$if(filter.afterSchoolId !== undefined, (qb) => qb.where('students.school_id', '>', filter.afterSchoolId ?? ''))
              .groupBy('students.school_id')
              .as('people'),
          (join) => join.onRef('people.school_id', '=', 'schools.id'),
        )
        .leftJoin(
          (eb) =>
            eb
              .selectFrom('invoices')
              // statusOf reads the zone from `schools`
              .innerJoin('schools', 'schools.id', 'invoices.school_id')
              .select([
                'invoices.school_id',
                sql<number>`count(*)`.as('invoiceCount'),
                sql<number>`sum(invoices.amount)`.as('totalInvoiced'),
                sql<number>`sum(invoices.paid_amount - invoices.credited_amount)`.as('totalPaid'),
                sql<number>`sum(invoices.credited_amount)`.as('totalCredited'),
                sql<number>`sum(invoices.amount - invoices.paid_amount)`.as('totalPending'),
                sql<number>`coalesce(sum(invoices.amount - invoices.paid_amount) filter (where ${statusOf} = 'OVERDUE'), 0)`.as('totalOverdue'),
              ])
              .where('invoices.cancelled_at', 'is', null)
              .where('invoices.student_id', 'not in', (inner) =>
                inner.selectFrom('students as gone').select('gone.id').where('gone.deleted_at', 'is not', null),
              )
              .where((inner) => inScope(inner, 'invoices.school_id', scope))
              .$if(filter.schoolId !== undefined, (qb) => qb.where('invoices.school_id', '=', filter.schoolId ?? ''))
              .$if(filter.afterSchoolId !== undefined, (qb) => qb.where('invoices.school_id', '>', filter.afterSchoolId ?? ''))
              .groupBy('invoices.school_id')
              .as('money'),
          (join) => join.onRef('money.school_id', '=', 'schools.id'),
        )
        .select([
          'schools.id as schoolId',
          'schools.name as schoolName',
          'schools.currency',
          sql<number>`coalesce(people."totalStudents", 0)`.as('totalStudents'),
          sql<number>`coalesce(people."activeStudents", 0)`.as('activeStudents'),
          sql<number>`coalesce(money."invoiceCount", 0)`.as('invoiceCount'),
          sql<number>`coalesce(money."totalInvoiced", 0)`.as('totalInvoiced'),
          sql<number>`coalesce(money."totalPaid", 0)`.as('totalPaid'),
          sql<number>`coalesce(money."totalCredited", 0)`.as('totalCredited'),
          sql<number>`coalesce(money."totalPending", 0)`.as('totalPending'),
          sql<number>`coalesce(money."totalOverdue", 0)`.as('totalOverdue'),
          sql<number>`coalesce(round(money."totalPaid"::numeric / nullif(money."totalInvoiced" - money."totalCredited", 0), 4), 0)`.as('collectionRate'),
        ])
        .where('schools.deleted_at', 'is', null)
        .where((eb) => inScope(eb, 'schools.id', scope))
        .$if(filter.schoolId !== undefined, (qb) => qb.where('schools.id', '=', filter.schoolId ?? ''))
        .$if(filter.afterSchoolId !== undefined, (qb) => qb.where('schools.id', '>', filter.afterSchoolId ?? ''))
        .orderBy('schools.id')
        .limit(filter.limit + 1)
        .execute();
    },

    /**
     * Report 3 — invoice details. Every invoice of a live student of a live, visible
     * school, cancelled ones included (status CANCELLED), with its status by
     * invoice_status, paid = cash (paid_amount − credited_amount), credited = credit
     * notes and write-offs, pending = amount − paid_amount, and the number and latest paid_at
     * of its payments (one lateral aggregate over payments_invoice_idx per invoice).
     * Keyset on invoices.id.
     */
    async invoiceDetails(db: DbOrTx, scope: Scope, filter: InvoiceDetailsFilter): Promise<InvoiceDetailsRow[]> {
      const rows = await db
        .selectFrom('invoices')
        .innerJoin('schools', 'schools.id', 'invoices.school_id')
        .innerJoin('students', (join) =>
          join.onRef('students.id', '=', 'invoices.student_id').onRef('students.school_id', '=', 'invoices.school_id'),
        )
        .innerJoinLateral(
          (eb) =>
            eb
              .selectFrom('payments')
              .select([sql<number>`count(*)`.as('paymentCount'), sql<Date | null>`max(payments.paid_at)`.as('lastPaymentAt')])
              .whereRef('payments.invoice_id', '=', 'invoices.id')
              .where((inner) => inScope(inner, 'payments.school_id', scope))
              .as('pay'),
          (join) => join.onTrue(),
        )
        .select([
          'invoices.id as invoiceId',
          'invoices.number',
          'invoices.description',
          'schools.id as schoolId',
          'schools.name as schoolName',
          'students.id as studentId',
          'students.first_name as firstName',
          'students.last_name as lastName',
          'students.grade',
          'invoices.amount',
          sql<number>`invoices.paid_amount - invoices.credited_amount`.as('paidAmount'),
          'invoices.credited_amount as creditedAmount',
          sql<number>`invoices.amount - invoices.paid_amount`.as('pendingAmount'),
          'schools.currency',
          statusOf.as('status'),
          'invoices.due_date as dueDate',
          'pay.paymentCount',
          'pay.lastPaymentAt',
        ])
        .where('schools.deleted_at', 'is', null)
        .where('students.deleted_at', 'is', null)
        .where((eb) => inScope(eb, 'invoices.school_id', scope))
        .$if(filter.schoolId !== undefined, (qb) => qb.where('invoices.school_id', '=', filter.schoolId ?? ''))
        .$if(filter.studentId !== undefined, (qb) => qb.where('invoices.student_id', '=', filter.studentId ?? ''))
        .$if(filter.dueFrom !== undefined, (qb) => qb.where('invoices.due_date', '>=', filter.dueFrom ?? ''))
        .$if(filter.dueTo !== undefined, (qb) => qb.where('invoices.due_date', '<=', filter.dueTo ?? ''))
        .$if(filter.status !== undefined, (qb) => qb.where(statusOf, '=', filter.status ?? 'PENDING'))
        .$if(filter.afterInvoiceId !== undefined, (qb) => qb.where('invoices.id', '>', filter.afterInvoiceId ?? ''))
        .orderBy('invoices.id')
        .limit(filter.limit + 1)
        .execute();
      return rows.map(({ firstName, lastName, lastPaymentAt, ...row }) => ({
        invoiceId: row.invoiceId,
        number: row.number,
        description: row.description,
        schoolId: row.schoolId,
        schoolName: row.schoolName,
        studentId: row.studentId,
        studentName: studentName(firstName, lastName, scope),
        grade: row.grade,
        amount: row.amount,
        paidAmount: row.paidAmount,
        creditedAmount: row.creditedAmount,
        pendingAmount: row.pendingAmount,
        currency: row.currency,
        status: row.status,
        dueDate: row.dueDate,
        paymentCount: row.paymentCount,
        lastPaymentAt: lastPaymentAt === null ? null : lastPaymentAt.toISOString(),
      }));
    },

    /**
     * Report 4 — overdue invoices, oldest due date first. Invoices whose invoice_status
     * is OVERDUE (live student, live visible school), with days overdue counted in the
     * school's calendar: (now() at time zone schools.timezone)::date − due_date.
     *
     * The redundant isOutstanding (`cancelled_at is null and paid_amount < amount`) is the
     * predicate of invoices_outstanding_idx (due_date, id), so the keyset
     * `(due_date, id) > cursor` walks that partial index in order.
     */
    async overdueInvoices(db: DbOrTx, scope: Scope, filter: OverdueFilter): Promise<OverdueRow[]> {
      const rows = await db
        .selectFrom('invoices')
        .innerJoin('schools', 'schools.id', 'invoices.school_id')
        .innerJoin('students', (join) =>
          join.onRef('students.id', '=', 'invoices.student_id').onRef('students.school_id', '=', 'invoices.school_id'),
        )
        .select([
          'invoices.id as invoiceId',
          'invoices.number',
          'schools.id as schoolId',
          'schools.name as schoolName',
          'students.id as studentId',
          'students.first_name as firstName',
          'students.last_name as lastName',
          'students.grade',
          'invoices.amount',
          sql<number>`invoices.paid_amount - invoices.credited_amount`.as('paidAmount'),
          'invoices.credited_amount as creditedAmount',
          sql<number>`invoices.amount - invoices.paid_amount`.as('pendingAmount'),
          'schools.currency',
          'invoices.due_date as dueDate',
          daysOverdueOf.as('daysOverdue'),
        ])
        .where(isOutstanding)
        .where(statusOf, '=', 'OVERDUE')
        .where('schools.deleted_at', 'is', null)
        .where('students.deleted_at', 'is', null)
        .where((eb) => inScope(eb, 'invoices.school_id', scope))
        .$if(filter.schoolId !== undefined, (qb) => qb.where('invoices.school_id', '=', filter.schoolId ?? ''))
        .$if(filter.minDaysOverdue !== undefined, (qb) => qb.where(daysOverdueOf, '>=', filter.minDaysOverdue ?? 1))
        .$if(filter.after !== undefined, (qb) =>
          qb.where(sql<boolean>`(invoices.due_date, invoices.id) > (${filter.after?.dueDate}::date, ${filter.after?.invoiceId}::uuid)`),
        )
        .orderBy('invoices.due_date')
        .orderBy('invoices.id')
        .limit(filter.limit + 1)
        .execute();
      return rows.map(({ firstName, lastName, ...row }) => ({
        invoiceId: row.invoiceId,
        number: row.number,
        schoolId: row.schoolId,
        schoolName: row.schoolName,
        studentId: row.studentId,
        studentName: studentName(firstName, lastName, scope),
        grade: row.grade,
        amount: row.amount,
        paidAmount: row.paidAmount,
        creditedAmount: row.creditedAmount,
        pendingAmount: row.pendingAmount,
        currency: row.currency,
        dueDate: row.dueDate,
        daysOverdue: row.daysOverdue,
      }));
    },

    /**
     * Report 5 — payment history, newest first. Each payment of a live student of a
     * live visible school, with the sum of its refunds (lateral over
     * refunds_payment_idx) and net = amount − refunded. Keyset on
     * (paid_at desc, id desc), a backward walk of payments_paid_at_idx (paid_at, id)
     * or payments_school_paid_at_idx when filtered by school. `cursorPaidAt` carries
     * paid_at to the microsecond (a JS Date would drop them and skip or repeat rows).
     */
    async paymentHistory(db: DbOrTx, scope: Scope, filter: PaymentHistoryFilter): Promise<(PaymentHistoryRow & { cursorPaidAt: string })[]> {
      const rows = await db
        .selectFrom('payments')
        .innerJoin('invoices', (join) =>
          join.onRef('invoices.id', '=', 'payments.invoice_id').onRef('invoices.school_id', '=', 'payments.school_id'),
        )
        .innerJoin('schools', 'schools.id', 'payments.school_id')
        .innerJoin('students', (join) =>
          join.onRef('students.id', '=', 'invoices.student_id').onRef('students.school_id', '=', 'invoices.school_id'),
        )
        .innerJoinLateral(
          (eb) =>
            eb
              .selectFrom('refunds')
              .select(sql<number>`coalesce(sum(refunds.amount), 0)`.as('refundedAmount'))
              .whereRef('refunds.payment_id', '=', 'payments.id')
              .where((inner) => inScope(inner, 'refunds.school_id', scope))
              .as('back'),
          (join) => join.onTrue(),
        )
        .select([
          'payments.id as paymentId',
          'payments.paid_at as paidAt',
          sql<string>`to_char(payments.paid_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`.as('cursorPaidAt'),
          'payments.amount',
          'back.refundedAmount',
          sql<number>`payments.amount - back."refundedAmount"`.as('netAmount'),
          'payments.method',
          'payments.reference',
          'invoices.id as invoiceId',
          'invoices.number as invoiceNumber',
          'students.id as studentId',
          'students.first_name as firstName',
          'students.last_name as lastName',
          'schools.id as schoolId',
          'schools.name as schoolName',
          'schools.currency',
        ])
        .where('schools.deleted_at', 'is', null)
        .where('students.deleted_at', 'is', null)
        .where((eb) => inScope(eb, 'payments.school_id', scope))
        .$if(filter.schoolId !== undefined, (qb) => qb.where('payments.school_id', '=', filter.schoolId ?? ''))
        .$if(filter.studentId !== undefined, (qb) => qb.where('invoices.student_id', '=', filter.studentId ?? ''))
        .$if(filter.method !== undefined, (qb) => qb.where('payments.method', '=', filter.method ?? 'cash'))
        .$if(filter.from !== undefined, (qb) => qb.where(sql<boolean>`payments.paid_at >= ${filter.from}::timestamptz`))
        .$if(filter.to !== undefined, (qb) => qb.where(sql<boolean>`payments.paid_at < ${filter.to}::timestamptz`))
        .$if(filter.before !== undefined, (qb) =>
          qb.where(sql<boolean>`(payments.paid_at, payments.id) < (${filter.before?.paidAtKey}::timestamptz, ${filter.before?.paymentId}::uuid)`),
        )
        .orderBy('payments.paid_at', 'desc')
        .orderBy('payments.id', 'desc')
        .limit(filter.limit + 1)
        .execute();
      return rows.map(({ firstName, lastName, paidAt, reference, ...row }) => ({
        paymentId: row.paymentId,
        paidAt: paidAt.toISOString(),
        amount: row.amount,
        refundedAmount: row.refundedAmount,
        netAmount: row.netAmount,
        method: row.method,
        reference: reference === null || scope.pii === 'clear' ? reference : maskReference(reference),
        invoiceId: row.invoiceId,
        invoiceNumber: row.invoiceNumber,
        studentId: row.studentId,
        studentName: studentName(firstName, lastName, scope),
        schoolId: row.schoolId,
        schoolName: row.schoolName,
        currency: row.currency,
        cursorPaidAt: row.cursorPaidAt,
      }));
    },

    /**
     * Report 6 — collections per school and local day. Each live visible school gets its
     * own range of local days [first_day, last_day] (defaults: last_day = today in the
     * school's zone, first_day = last_day − (defaultDays − 1)), turned once into a
     * timestamptz range [start_at, end_at) from local midnights. Payments are bucketed by
     * the local day of paid_at, refunds by the local day of created_at; each is
     * aggregated per (school, day) first and the two are full-joined, so only days with
     * any movement appear: payment count, collected (payments and family credit:
     * receivedSql), refunded, net = collected − refunded.
     *
     * Money of soft-deleted students is excluded through the (small) set of their
     * invoices rather than by joining every payment to invoices and students. The
     * coarse window (earliest start_at … latest end_at over all schools, which differ
     * by at most a day of zone offsets) gives the planner a range it can estimate, so
     * a short range is an index range scan on payments_school_paid_at_idx instead of
     * a read of every payment.
     * Keyset: day desc, school id asc; the cursor's day also caps last_day, so later
     * pages scan less.
     */
    async dailyCollections(db: DbOrTx, scope: Scope, filter: DailyCollectionsFilter): Promise<DailyCollectionsRow[]> {
      const after = filter.after;
      const result = await sql<DailyCollectionsRow>`
        with bounds as (
          select schools.id as school_id, schools.name as school_name, schools.currency, schools.timezone,
                 (span.first_day::timestamp at time zone schools.timezone) as start_at,
                 ((span.last_day + 1)::timestamp at time zone schools.timezone) as end_at
          from schools
          cross join lateral (
            select coalesce(${filter.to ?? null}::date, (now() at time zone schools.timezone)::date) as to_day
          ) upto
          cross join lateral (
            select coalesce(${filter.from ?? null}::date, upto.to_day - ${filter.defaultDays - 1}::int) as first_day,
                   least(upto.to_day, ${after?.date ?? null}::date) as last_day
          ) span
          where schools.deleted_at is null
            and ${inScopeSql('schools.id', scope)}
            ${andIf(filter.schoolId, (id) => sql`and schools.id = ${id}::uuid`)}
        ),
        gone_invoices as (
          select invoices.id
          from students
          join invoices on invoices.student_id = students.id and invoices.school_id = students.school_id
          where students.deleted_at is not null
            and students.school_id in (select bounds.school_id from bounds)
        ),
        paid as (${receivedSql('day', localDay, scope)}),
        refunded as (${refundedSql('day', localDay, scope)})
        select to_char(days.day, 'YYYY-MM-DD') as "date",
               bounds.school_id as "schoolId",
               bounds.school_name as "schoolName",
               bounds.currency::text as "currency",
               coalesce(days.payment_count, 0) as "paymentCount",
               coalesce(days.collected, 0) as "collected",
               coalesce(days.refunded, 0) as "refunded",
               coalesce(days.collected, 0) - coalesce(days.refunded, 0) as "net"
        from (select * from paid full join refunded using (school_id, day)) as days
        join bounds on bounds.school_id = days.school_id
        ${
          after === undefined
            ? sql``
            : sql`where days.day < ${after.date}::date or (days.day = ${after.date}::date and days.school_id > ${after.schoolId}::uuid)`
        }
        order by days.day desc, days.school_id
        limit ${filter.limit + 1}
      `.execute(db);
      return result.rows;
    },

    /**
     * Report 7 — revenue per school and month. Each live visible school gets its own
     * range of months [first_month, last_month] (defaults: last_month = the current
     * month in the school's zone, first_month = last_month − (defaultMonths − 1)).
     * Per (month, school) with any invoice, payment or refund:
     *   invoiceCount, invoiced, outstanding — non-cancelled invoices whose due date (a
     *     local calendar day already) falls in the month; outstanding is their
     *     amount − paid_amount as of now;
     *   collected — payments and family credit (receivedSql) whose paid_at falls in the
     *     local month minus refunds whose created_at does.
     * Each source is aggregated per (school, month) first, then the three are
     * full-joined. Months become due-date and timestamptz ranges per school (local
     * month starts `at time zone` the school's zone), with the same coarse window as
     * report 6 on payments and refunds for index range scans. Soft-deleted
     * students' invoices, payments and refunds are excluded through the small set of
     * their invoices. Keyset: month desc, school id asc; the cursor's month caps
     * last_month.
     */
    async monthlyRevenue(db: DbOrTx, scope: Scope, filter: MonthlyRevenueFilter): Promise<MonthlyRevenueRow[]> {
      const firstOf = (month: string | undefined) => (month === undefined ? null : `${month}-01`);
      const after = filter.after;
      const result = await sql<MonthlyRevenueRow>`
        with bounds as (
          select schools.id as school_id, schools.name as school_name, schools.currency, schools.timezone,
                 span.first_month,
                 (span.last_month + interval '1 month')::date as end_month,
                 (span.first_month::timestamp at time zone schools.timezone) as start_at,
                 ((span.last_month + interval '1 month') at time zone schools.timezone) as end_at
          from schools
          cross join lateral (
            select coalesce(${firstOf(filter.to)}::date,
                            date_trunc('month', now() at time zone schools.timezone)::date) as to_month
          ) upto
          cross join lateral (
            select coalesce(${firstOf(filter.from)}::date,
                            (upto.to_month - make_interval(months => ${filter.defaultMonths - 1}::int))::date) as first_month,
                   least(upto.to_month, ${firstOf(after?.month)}::date) as last_month
          ) span
          where schools.deleted_at is null
            and ${inScopeSql('schools.id', scope)}
            ${andIf(filter.schoolId, (id) => sql`and schools.id = ${id}::uuid`)}
        ),
        gone_invoices as (
          select invoices.id
          from students
          join invoices on invoices.student_id = students.id and invoices.school_id = students.school_id
          where students.deleted_at is not null
            and students.school_id in (select bounds.school_id from bounds)
        ),
        billed as (
          select bounds.school_id, date_trunc('month', invoices.due_date::timestamp)::date as month,
                 count(*) as invoice_count, sum(invoices.amount) as invoiced,
                 sum(invoices.amount - invoices.paid_amount) as outstanding
          from bounds
          join invoices on invoices.school_id = bounds.school_id
           and invoices.due_date >= bounds.first_month and invoices.due_date < bounds.end_month
          where invoices.cancelled_at is null
            and invoices.id not in (select gone_invoices.id from gone_invoices)
            and ${inScopeSql('invoices.school_id', scope)}
          group by 1, 2
        ),
        paid as (${receivedSql('month', localMonth, scope)}),
        refunded as (${refundedSql('month', localMonth, scope)})
        select to_char(months.month, 'YYYY-MM') as "month",
               bounds.school_id as "schoolId",
               bounds.school_name as "schoolName",
               bounds.currency::text as "currency",
               coalesce(months.invoice_count, 0) as "invoiceCount",
               coalesce(months.invoiced, 0) as "invoiced",
               coalesce(months.collected, 0) - coalesce(months.refunded, 0) as "collected",
               coalesce(months.outstanding, 0) as "outstanding"
        from (select * from billed full join paid using (school_id, month) full join refunded using (school_id, month)) as months
        join bounds on bounds.school_id = months.school_id
        ${
          after === undefined
            ? sql``
            : sql`where months.month < ${firstOf(after.month)}::date
                     or (months.month = ${firstOf(after.month)}::date and months.school_id > ${after.schoolId}::uuid)`
        }
        order by months.month desc, months.school_id
        limit ${filter.limit + 1}
      `.execute(db);
      return result.rows;
    },
  };
}

export type BillingReportsRepository = ReturnType<typeof createBillingReportsRepository>;
