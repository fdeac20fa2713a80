import { sql, type CompiledQuery } from 'kysely';
import type { DbOrTx } from '../../db/database.js';
import { inScope, type Scope } from '../../shared/scope.js';
import { statusOf } from '../billing/invoices.repository.js';
import { studentName } from '../billing/students.repository.js';
import type { OutstandingStatus, PendingRow } from './pending.schemas.js';

/**
 * The SQL of the outstanding-payments queue and its export.
 *
 *  - Outstanding = `cancelled_at is null and paid_amount < amount`, spelled exactly as
 *    the predicate of the partial indexes invoices_outstanding_idx (due_date, id) and
 *    invoices_school_outstanding_idx (school_id, due_date, id), so the planner can use
 *    them; the order (due_date, id) is the index order and the keyset
 *    `(due_date, id) > cursor` makes every page, first or very deep, an index range scan
 *    that stops after limit + 1 rows.
 *  - Status comes from the one definition, invoice_status (statusOf). A status filter
 *    also adds a redundant, sargable bound on due_date that holds in every time zone
 *    (UTC−12 … UTC+14): OVERDUE implies due_date < today in the zone furthest ahead,
 *    PENDING/PARTIAL imply due_date ≥ today in the zone furthest behind. Filtering by
 *    status therefore narrows the index range instead of filtering a walk over it.
 *  - Tenant scope through `inScope`; soft-deleted schools and students are left out
 *    (as in every billing report); names are masked for roles with masked PII.
 */

/** The zones whose calendars are furthest ahead (UTC+14) and behind (UTC−12). */
const ZONE_FURTHEST_AHEAD = 'Pacific/Kiritimati';
const ZONE_FURTHEST_BEHIND = 'Etc/GMT+12';

export interface PendingFilter {
  schoolId?: string;
  grade?: string;
  status?: OutstandingStatus;
  minAmount?: number;
}

/** A row as read from the database, before masking. */
interface RawPendingRow extends Omit<PendingRow, 'studentName'> {
  firstName: string;
  lastName: string;
}

const pendingAmountOf = sql<number>`(invoices.amount - invoices.paid_amount)`;
/** Whole days past due in the school's calendar; 0 when not (yet) overdue, exactly when status is not OVERDUE. */
const daysOverdueOf = sql<number>`greatest(0, (now() at time zone schools.timezone)::date - invoices.due_date)`;

/** The outstanding invoices the caller may see that match the filter, without columns or order. */
function matching(db: DbOrTx, scope: Scope, filter: PendingFilter) {
  const status = filter.status;
  return db
    .selectFrom('invoices')
    .innerJoin('schools', 'schools.id', 'invoices.school_id')
    .innerJoin('students', (join) =>
      join.onRef('students.id', '=', 'invoices.student_id').onRef('students.school_id', '=', 'invoices.school_id'),
    )
    .where('invoices.cancelled_at', 'is', null)
    .whereRef('invoices.paid_amount', '<', 'invoices.amount')
    .where('schools.deleted_at', 'is', null)
    .where('students.deleted_at', 'is', null)
    .where((eb) => inScope(eb, 'invoices.school_id', scope))
    .$if(filter.schoolId !== undefined, (qb) => qb.where('invoices.school_id', '=', filter.schoolId ?? ''))
    .$if(filter.grade !== undefined, (qb) => qb.where('students.grade', '=', filter.grade ?? ''))
    .$if(status !== undefined, (qb) =>
      qb
        .where(statusOf, '=', status ?? 'PENDING')
        .where(
          status === 'OVERDUE'
            ? sql<boolean>`invoices.due_date < (now() at time zone ${sql.lit(ZONE_FURTHEST_AHEAD)})::date`
            : sql<boolean>`invoices.due_date >= (now() at time zone ${sql.lit(ZONE_FURTHEST_BEHIND)})::date`,
        ),
    )
    .$if(filter.minAmount !== undefined, (qb) => qb.where(pendingAmountOf, '>=', filter.minAmount ?? 0));
}

/** The queue's rows in (due_date, id) order, optionally after a key. */
function rowsQuery(db: DbOrTx, scope: Scope, filter: PendingFilter, after?: { dueDate: string; invoiceId: string }) {
  return matching(db, scope, filter)
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
      'invoices.paid_amount as paidAmount',
      pendingAmountOf.as('pendingAmount'),
      'schools.currency',
      sql<OutstandingStatus>`${statusOf}`.as('status'),
      daysOverdueOf.as('daysOverdue'),
    ])
    .$if(after !== undefined, (qb) =>
      qb.where(sql<boolean>`(invoices.due_date, invoices.id) > (${after?.dueDate}::date, ${after?.invoiceId}::uuid)`),
    )
    .orderBy('invoices.due_date')
    .orderBy('invoices.id');
}

/** Masks the student's name per the caller's PII visibility and fixes the column order. */
export function toPendingRow(raw: RawPendingRow, scope: Scope): PendingRow {
  return {
    invoiceId: raw.invoiceId,
    number: raw.number,
    schoolId: raw.schoolId,
    schoolName: raw.schoolName,
    studentId: raw.studentId,
    studentName: studentName(raw.firstName, raw.lastName, scope),
    grade: raw.grade,
    dueDate: raw.dueDate,
    amount: raw.amount,
    paidAmount: raw.paidAmount,
    pendingAmount: raw.pendingAmount,
    currency: raw.currency,
    status: raw.status,
    daysOverdue: raw.daysOverdue,
  };
}

export function createPendingRepository() {
  return {
    /** One keyset page: limit + 1 rows (the extra one only says another page exists). */
    async page(
      db: DbOrTx,
      scope: Scope,
      filter: PendingFilter & { limit: number; after?: { dueDate: string; invoiceId: string } },
    ): Promise<PendingRow[]> {
      const rows = await rowsQuery(db, scope, filter, filter.after)
        .limit(filter.limit + 1)
        .execute();
      return rows.map((row) => toPendingRow(row, scope));
    },

    /** The exact number of matching rows (same predicate as the pages, no order, no columns). */
    async count(db: DbOrTx, scope: Scope, filter: PendingFilter): Promise<number> {
      const row = await matching(db, scope, filter).select(sql<number>`count(*)`.as('total')).executeTakeFirstOrThrow();
      return row.total;
    },

    /**
     * The export's statement, compiled for a server-side cursor: every matching row in
     * queue order. Rows it yields go through `toPendingRow`.
     */
    exportQuery(db: DbOrTx, scope: Scope, filter: PendingFilter): CompiledQuery<RawPendingRow> {
      return rowsQuery(db, scope, filter).compile();
    },
  };
}

export type PendingRepository = ReturnType<typeof createPendingRepository>;
