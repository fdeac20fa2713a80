import { sql, type RawBuilder } from 'kysely';
import type { DbOrTx } from '../../db/database.js';
import { inScope, type Scope } from '../../shared/scope.js';
import type { InvoiceStatus } from './billing.schemas.js';

export interface InvoiceRow {
  id: string;
  schoolId: string;
  studentId: string;
  number: string;
  description: string | null;
  amount: number;
  paidAmount: number;
  pendingAmount: number;
  currency: string;
  status: InvoiceStatus;
  dueDate: string;
  createdAt: Date;
  updatedAt: Date;
  cancelledAt: Date | null;
}

/**
 * The status of `invoices` joined with its `schools`, by the one SQL definition
 * (invoice_status in migration 0002). Used for output and for `?status=` filters.
 */
export const statusOf: RawBuilder<InvoiceStatus> = sql<InvoiceStatus>`invoice_status(invoices.amount, invoices.paid_amount, invoices.due_date, invoices.cancelled_at, schools.timezone)`;

/**
 * An invoice that still owes money: `cancelled_at is null and paid_amount < amount`,
 * spelled as the predicate of the partial indexes invoices_outstanding_idx (due_date,
 * id) and invoices_school_outstanding_idx (school_id, due_date, id), so a query that
 * filters on it can use them.
 */
export const isOutstanding: RawBuilder<boolean> = sql<boolean>`(invoices.cancelled_at is null and invoices.paid_amount < invoices.amount)`;

/** The same status, given the school's local date (for queries that compute that date once per school, as the pending export does). */
export const statusOn = (today: RawBuilder<string>): RawBuilder<InvoiceStatus> =>
  sql<InvoiceStatus>`invoice_status_on(invoices.amount, invoices.paid_amount, invoices.due_date, invoices.cancelled_at, ${today})`;

export function createInvoicesRepository() {
  const visible = (db: DbOrTx, scope: Scope) =>
    db
      .selectFrom('invoices')
      .innerJoin('schools', 'schools.id', 'invoices.school_id')
      .select([
        'invoices.id',
        'invoices.school_id as schoolId',
        'invoices.student_id as studentId',
        'invoices.number',
        'invoices.description',
        'invoices.amount',
        'invoices.paid_amount as paidAmount',
        sql<number>`invoices.amount - invoices.paid_amount`.as('pendingAmount'),
        'schools.currency',
        statusOf.as('status'),
        'invoices.due_date as dueDate',
        'invoices.created_at as createdAt',
        'invoices.updated_at as updatedAt',
        'invoices.cancelled_at as cancelledAt',
      ])
      .where('schools.deleted_at', 'is', null)
      .where((eb) => inScope(eb, 'invoices.school_id', scope));

  return {
    list(
      db: DbOrTx,
      scope: Scope,
      query: { limit: number; afterId?: string; status?: InvoiceStatus; schoolId?: string; studentId?: string; dueFrom?: string; dueTo?: string },
    ): Promise<InvoiceRow[]> {
      return visible(db, scope)
        .$if(query.schoolId !== undefined, (qb) => qb.where('invoices.school_id', '=', query.schoolId ?? ''))
        .$if(query.studentId !== undefined, (qb) => qb.where('invoices.student_id', '=', query.studentId ?? ''))
        .$if(query.dueFrom !== undefined, (qb) => qb.where('invoices.due_date', '>=', query.dueFrom ?? ''))
        .$if(query.dueTo !== undefined, (qb) => qb.where('invoices.due_date', '<=', query.dueTo ?? ''))
        .$if(query.status !== undefined, (qb) => qb.where(statusOf, '=', query.status ?? 'PENDING'))
        .$if(query.afterId !== undefined, (qb) => qb.where('invoices.id', '>', query.afterId ?? ''))
        .orderBy('invoices.id')
        .limit(query.limit + 1)
        .execute();
    },

    /** With forUpdate, the invoice row is locked: every money write on it serialises here. */
    findById(db: DbOrTx, scope: Scope, id: string, options: { forUpdate?: boolean } = {}): Promise<InvoiceRow | undefined> {
      return visible(db, scope)
        .where('invoices.id', '=', id)
        .$if(options.forUpdate === true, (qb) => qb.forUpdate('invoices'))
        .executeTakeFirst();
    },

    async insert(
      db: DbOrTx,
      values: { schoolId: string; studentId: string; number: string; amount: number; dueDate: string; description: string | null },
    ): Promise<string> {
      const row = await db
        .insertInto('invoices')
        .values({
          school_id: values.schoolId,
          student_id: values.studentId,
          number: values.number,
          amount: values.amount,
          due_date: values.dueDate,
          description: values.description,
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      return row.id;
    },

    /** The next number of the school's own sequence, e.g. INV-000042. */
    async nextNumber(db: DbOrTx, schoolId: string): Promise<string> {
      const row = await sql<{ last_number: number }>`
        insert into invoice_counters as c (school_id, last_number) values (${schoolId}, 1)
        on conflict (school_id) do update set last_number = c.last_number + 1
        returning last_number`.execute(db);
      return `INV-${String(row.rows[0]?.last_number ?? 1).padStart(6, '0')}`;
    },

    async update(db: DbOrTx, id: string, values: { amount?: number; dueDate?: string; description?: string | null }): Promise<void> {
      await db
        .updateTable('invoices')
        .set({
          ...(values.amount !== undefined ? { amount: values.amount } : {}),
          ...(values.dueDate !== undefined ? { due_date: values.dueDate } : {}),
          ...(values.description !== undefined ? { description: values.description } : {}),
          updated_at: sql<Date>`now()`,
        })
        .where('id', '=', id)
        .execute();
    },

    /** Moves paid_amount by `delta` (payment > 0, refund < 0); the row is already locked. */
    /** Moves paid_amount by `delta`; returns the invoice's money figures and status after it. */
    async addToPaid(db: DbOrTx, id: string, delta: number): Promise<Pick<InvoiceRow, 'id' | 'status' | 'paidAmount' | 'pendingAmount'>> {
      return db
        .updateTable('invoices')
        .from('schools')
        .set((eb) => ({ paid_amount: eb('invoices.paid_amount', '+', delta), updated_at: sql<Date>`now()` }))
        .whereRef('schools.id', '=', 'invoices.school_id')
        .where('invoices.id', '=', id)
        .returning([
          'invoices.id',
          statusOf.as('status'),
          'invoices.paid_amount as paidAmount',
          sql<number>`invoices.amount - invoices.paid_amount`.as('pendingAmount'),
        ])
        .executeTakeFirstOrThrow();
    },

    /** True when a school's or a student's invoices still owe money (not cancelled, not fully paid). */
    async hasOutstanding(db: DbOrTx, owner: { schoolId: string } | { studentId: string }): Promise<boolean> {
      const [column, id] = 'schoolId' in owner ? (['school_id', owner.schoolId] as const) : (['student_id', owner.studentId] as const);
      const row = await db
        .selectFrom('invoices')
        .select('id')
        .where(column, '=', id)
        .where(isOutstanding)
        .limit(1)
        .executeTakeFirst();
      return row !== undefined;
    },

    async cancel(db: DbOrTx, id: string): Promise<void> {
      await db.updateTable('invoices').set({ cancelled_at: sql<Date>`now()`, updated_at: sql<Date>`now()` }).where('id', '=', id).execute();
    },
  };
}

export type InvoicesRepository = ReturnType<typeof createInvoicesRepository>;
