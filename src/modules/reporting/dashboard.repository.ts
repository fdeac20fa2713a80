import { expressionBuilder, sql, type Expression, type RawBuilder, type SqlBool } from 'kysely';
import type { DbOrTx } from '../../db/database.js';
import type { DB, PaymentMethod } from '../../db/types.js';
import { inScope, type Scope } from '../../shared/scope.js';
import { statusOf } from '../billing/invoices.repository.js';
import { studentName } from '../billing/students.repository.js';
import { OUTSTANDING_SAMPLE_SIZE, type OutstandingInvoice } from './dashboard.schemas.js';

/**
 * The SQL of the dashboard. Every aggregate is read from the rollup tables of migration
 * 0003 (invoice_rollups, payment_rollups), never from invoices or payments: their size
 * is bounded by schools × grades × days, not by the number of bills. Only the
 * outstanding sample reads invoices, 10 rows through the partial outstanding indexes.
 *
 * Tenant isolation: the selected schools pass through `inScope`, and the rollups are
 * joined to that selection (which also leaves soft-deleted schools out; soft-deleted
 * students are already out of the rollups). Each aggregate comes back per grouping set
 * (per school, per grade / method with currency, per currency) in one statement, so
 * money is only ever summed within one currency.
 */

export interface DashboardFilter {
  schoolId?: string;
  grade?: string;
  method?: PaymentMethod;
  from?: string;
  to?: string;
}

export interface SelectedSchool {
  schoolId: string;
  schoolName: string;
  currency: string;
}

/** One row of a grouping-sets aggregate; the key columns not in its set are null. */
export interface InvoiceAggregate {
  level: 'school' | 'grade' | 'currency';
  schoolId: string | null;
  grade: string | null;
  currency: string;
  amountDue: number;
  amountOutstanding: number;
  amountOverdue: number;
}

export interface PaymentAggregate {
  level: 'school' | 'grade' | 'method' | 'currency';
  schoolId: string | null;
  grade: string | null;
  method: PaymentMethod | null;
  currency: string;
  amount: number;
  count: number;
}

function scoped(column: string, scope: Scope): Expression<SqlBool> {
  return inScope(expressionBuilder<DB, keyof DB>(), column, scope);
}

function andIf<T>(value: T | undefined, condition: (value: T) => RawBuilder<unknown>) {
  return value === undefined ? sql`` : condition(value);
}

/** The live, visible schools of the selection, as a CTE body. */
function selectedSchools(scope: Scope, filter: DashboardFilter) {
  return sql`
    select schools.id, schools.name, schools.currency, schools.timezone
      from schools
     where schools.deleted_at is null
       and ${scoped('schools.id', scope)}
       ${andIf(filter.schoolId, (id) => sql`and schools.id = ${id}`)}`;
}

export function createDashboardRepository() {
  return {

    async schools(db: DbOrTx, scope: Scope, filter: DashboardFilter): Promise<SelectedSchool[]> {
      const result = await sql<SelectedSchool>`
        select sel.id as "schoolId", sel.name as "schoolName", sel.currency
          from (${selectedSchools(scope, filter)}) sel`.execute(db);
      return result.rows;
    },

    /**
     * Due, outstanding and overdue from invoice_rollups, for due dates in [from, to].
     * Overdue = outstanding of buckets due before the school's local today (today is
     * computed once per school, not per bucket).
     */
    async invoiceAggregates(db: DbOrTx, scope: Scope, filter: DashboardFilter): Promise<InvoiceAggregate[]> {
      const result = await sql<InvoiceAggregate>`
        with sel as (
          select s.id, s.currency, (now() at time zone s.timezone)::date as today
            from (${selectedSchools(scope, filter)}) s
        )
        select case when grouping(r.school_id) = 0 then 'school' when grouping(r.grade) = 0 then 'grade' else 'currency' end as level,
               r.school_id as "schoolId", r.grade, sel.currency,
               sum(r.amount_due)::bigint as "amountDue",
               sum(r.amount_due - r.amount_paid)::bigint as "amountOutstanding",
               coalesce(sum(r.amount_due - r.amount_paid) filter (where r.due_date < sel.today), 0)::bigint as "amountOverdue"
          from invoice_rollups r
          join sel on sel.id = r.school_id
         where true
           ${andIf(filter.grade, (grade) => sql`and r.grade = ${grade}`)}
           ${andIf(filter.from, (from) => sql`and r.due_date >= ${from}::date`)}
           ${andIf(filter.to, (to) => sql`and r.due_date <= ${to}::date`)}
         group by grouping sets ((r.school_id, sel.currency), (r.grade, sel.currency), (sel.currency))`.execute(db);
      return result.rows;
    },

    /** Money received (payments − refunds) from payment_rollups, for local days in [from, to]. */
    async paymentAggregates(db: DbOrTx, scope: Scope, filter: DashboardFilter): Promise<PaymentAggregate[]> {
      const result = await sql<PaymentAggregate>`
        with sel as (${selectedSchools(scope, filter)})
        select case when grouping(r.school_id) = 0 then 'school' when grouping(r.grade) = 0 then 'grade'
                    when grouping(r.method) = 0 then 'method' else 'currency' end as level,
               r.school_id as "schoolId", r.grade, r.method, sel.currency,
               sum(r.amount)::bigint as amount, sum(r.payment_count)::bigint as count
          from payment_rollups r
          join sel on sel.id = r.school_id
         where true
           ${andIf(filter.grade, (grade) => sql`and r.grade = ${grade}`)}
           ${andIf(filter.method, (method) => sql`and r.method = ${method}`)}
           ${andIf(filter.from, (from) => sql`and r.paid_on >= ${from}::date`)}
           ${andIf(filter.to, (to) => sql`and r.paid_on <= ${to}::date`)}
         group by grouping sets ((r.school_id, sel.currency), (r.grade, sel.currency), (r.method, sel.currency), (sel.currency))`.execute(db);
      return result.rows;
    },

    /**
     * The oldest-due invoices that still owe money (status PENDING, PARTIAL or OVERDUE),
     * in (due_date, id) order — the order of invoices_outstanding_idx /
     * invoices_school_outstanding_idx, whose predicate this query repeats so the planner
     * can walk them and stop after a few rows.
     */
    async outstandingSample(db: DbOrTx, scope: Scope, filter: DashboardFilter): Promise<OutstandingInvoice[]> {
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
          'invoices.due_date as dueDate',
          'invoices.amount',
          sql<number>`invoices.amount - invoices.paid_amount`.as('pendingAmount'),
          'schools.currency',
          statusOf.as('status'),
        ])
        .where('invoices.cancelled_at', 'is', null)
        .whereRef('invoices.paid_amount', '<', 'invoices.amount')
        .where('schools.deleted_at', 'is', null)
        .where('students.deleted_at', 'is', null)
        .where((eb) => inScope(eb, 'invoices.school_id', scope))
        .$if(filter.schoolId !== undefined, (qb) => qb.where('invoices.school_id', '=', filter.schoolId ?? ''))
        .$if(filter.grade !== undefined, (qb) => qb.where('students.grade', '=', filter.grade ?? ''))
        .$if(filter.from !== undefined, (qb) => qb.where('invoices.due_date', '>=', filter.from ?? ''))
        .$if(filter.to !== undefined, (qb) => qb.where('invoices.due_date', '<=', filter.to ?? ''))
        .orderBy('invoices.due_date')
        .orderBy('invoices.id')
        .limit(OUTSTANDING_SAMPLE_SIZE)
        .execute();
      return rows.map(({ firstName, lastName, status, ...row }) => ({
        invoiceId: row.invoiceId,
        number: row.number,
        schoolId: row.schoolId,
        schoolName: row.schoolName,
        studentId: row.studentId,
        studentName: studentName(firstName, lastName, scope),
        grade: row.grade,
        dueDate: row.dueDate,
        amount: row.amount,
        pendingAmount: row.pendingAmount,
        currency: row.currency,
        status: status as OutstandingInvoice['status'],
      }));
    },
  };
}

export type DashboardRepository = ReturnType<typeof createDashboardRepository>;
