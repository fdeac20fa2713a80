import { sql, type RawBuilder } from 'kysely';
import type { DbOrTx } from '../../db/database.js';
import { inScope, type Scope } from '../../shared/scope.js';
import type { InvoiceStatus } from './billing.schemas.js';

export interface InvoiceLineRow {
  kind: 'charge' | 'discount' | 'late_fee';
  code: string;
  description: string;
  amount: number;
}

/** A credit note or write-off as the invoice page shows it. */
export interface InvoiceAdjustmentRow {
  id: string;
  kind: 'credit_note' | 'write_off' | 'waiver';
  amount: number;
  reason: string;
  number: string | null;
  createdAt: string;
}

/** At most this many credit notes and write-offs on one invoice answer (the newest). */
export const MAX_ADJUSTMENTS_SHOWN = 100;

export interface EarlyPayment {
  discount: number;
  payBy: string;
  /** Taken: a payment by payBy earned it (its discount line is on the invoice). */
  applied: boolean;
  /** Still on offer: not taken, payBy not past in the school's zone, and the invoice open. */
  available: boolean;
  /** What settles the invoice in full with the discount (0 once taken or paid). */
  amountDue: number;
}

export interface InvoiceRow {
  id: string;
  schoolId: string;
  studentId: string;
  familyId: string | null;
  payerGuardianId: string | null;
  /** regular, or late_fee: the late fees of relatedInvoiceId (migration 0021). */
  kind: 'regular' | 'late_fee';
  relatedInvoiceId: string | null;
  number: string;
  description: string | null;
  amount: number;
  /** Cash settled: paid_amount − credited_amount (payments − refunds + family credit applied). */
  paidAmount: number;
  /** Credit notes and write-offs. */
  creditedAmount: number;
  /** Still open: amount − paid_amount. */
  pendingAmount: number;
  currency: string;
  status: InvoiceStatus;
  dueDate: string;
  createdAt: Date;
  updatedAt: Date;
  cancelledAt: Date | null;
  /** Only on single-invoice answers (GET /invoices/:id, create, PATCH, cancel); lists omit them. */
  lines?: InvoiceLineRow[];
  /** Only on single-invoice answers, like lines: its credit notes and write-offs, oldest first. */
  adjustments?: InvoiceAdjustmentRow[];
  /** Pronto pago (0023): the discount for paying in full by payBy; null when none is offered. */
  earlyPayment: EarlyPayment | null;
  /** Only on single-invoice answers: the live late-fee invoice of this one, if any (migration 0021). */
  lateFeeInvoice?: { id: string; number: string; amount: number; pendingAmount: number } | null;
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
        'invoices.family_id as familyId',
        'invoices.payer_guardian_id as payerGuardianId',
        'invoices.kind',
        'invoices.related_invoice_id as relatedInvoiceId',
        'invoices.number',
        'invoices.description',
        'invoices.amount',
        sql<number>`invoices.paid_amount - invoices.credited_amount`.as('paidAmount'),
        'invoices.credited_amount as creditedAmount',
        sql<number>`invoices.amount - invoices.paid_amount`.as('pendingAmount'),
        'schools.currency',
        statusOf.as('status'),
        'invoices.due_date as dueDate',
        'invoices.created_at as createdAt',
        'invoices.updated_at as updatedAt',
        'invoices.cancelled_at as cancelledAt',
        sql<EarlyPayment | null>`case when invoices.early_discount > 0 then json_build_object(
          'discount', invoices.early_discount, 'payBy', to_char(invoices.early_by, 'YYYY-MM-DD'), 'applied', invoices.early_applied,
          'available', not invoices.early_applied and invoices.cancelled_at is null and invoices.paid_amount < invoices.amount
                       and invoices.early_discount <= invoices.amount - invoices.paid_amount
                       and (now() at time zone schools.timezone)::date <= invoices.early_by,
          'amountDue', case when invoices.early_applied or invoices.early_discount > invoices.amount - invoices.paid_amount then 0
                            else invoices.amount - invoices.paid_amount - invoices.early_discount end) end`.as('earlyPayment'),
      ])
      .where('schools.deleted_at', 'is', null)
      .where((eb) => inScope(eb, 'invoices.school_id', scope));

  return {
    list(
      db: DbOrTx,
      scope: Scope,
      query: {
        limit: number;
        afterId?: string;
        status?: InvoiceStatus;
        schoolId?: string;
        studentId?: string;
        number?: string;
        dueFrom?: string;
        dueTo?: string;
        family?: { schoolId: string; familyId: string };
      },
    ): Promise<InvoiceRow[]> {
      return visible(db, scope)
        // A family's invoices by the one definition (family_invoices, migration 0019): billed to it, or to its students.
        .$if(query.family !== undefined, (qb) =>
          qb.where(sql<boolean>`invoices.id in (select fi.id from family_invoices(${query.family?.schoolId ?? null}::uuid, ${query.family?.familyId ?? null}::uuid) fi)`),
        )
        .$if(query.schoolId !== undefined, (qb) => qb.where('invoices.school_id', '=', query.schoolId ?? ''))
        .$if(query.studentId !== undefined, (qb) => qb.where('invoices.student_id', '=', query.studentId ?? ''))
        .$if(query.number !== undefined, (qb) => qb.where('invoices.number', '=', (query.number ?? '').trim().toUpperCase()))
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

    /**
     * One invoice with its lines (charges, late fees, then discounts, in the order they
     * were added) and its credit notes and write-offs (the newest MAX_ADJUSTMENTS_SHOWN,
     * oldest first), in one query: both come as JSON arrays, from
     * invoice_lines_invoice_idx and invoice_adjustments_invoice_idx. Not for the money
     * paths, which lock and stay lean.
     */
    findDetailById(db: DbOrTx, scope: Scope, id: string): Promise<InvoiceRow | undefined> {
      return visible(db, scope)
        .select([
          sql<InvoiceLineRow[]>`coalesce((
            select json_agg(json_build_object('kind', l.kind, 'code', l.code, 'description', l.description, 'amount', l.amount)
                            order by l.created_at, case l.kind when 'charge' then 0 when 'late_fee' then 1 else 2 end, l.id)
              from invoice_lines l
             where l.school_id = invoices.school_id and l.invoice_id = invoices.id), '[]'::json)`.as('lines'),
          sql<InvoiceAdjustmentRow[]>`coalesce((
            select json_agg(json_build_object('id', a.id, 'kind', a.kind, 'amount', a.amount, 'reason', a.reason, 'number', a.number, 'createdAt', a.created_at)
                            order by a.created_at, a.id)
              from (select a.id, a.kind, a.amount, a.reason, a.number, a.created_at
                      from invoice_adjustments a
                     where a.school_id = invoices.school_id and a.invoice_id = invoices.id
                     order by a.created_at desc, a.id desc
                     limit ${MAX_ADJUSTMENTS_SHOWN}) a), '[]'::json)`.as('adjustments'),
          sql<InvoiceRow['lateFeeInvoice']>`(
            select json_build_object('id', f.id, 'number', f.number, 'amount', f.amount, 'pendingAmount', f.amount - f.paid_amount)
              from invoices f
             where f.school_id = invoices.school_id and f.related_invoice_id = invoices.id and f.cancelled_at is null)`.as('lateFeeInvoice'),
        ])
        .where('invoices.id', '=', id)
        .executeTakeFirst();
    },

    /**
     * The next number of the school's own sequence, e.g. INV-000042: the one numbering
     * of every invoice, whoever creates it (API, demo seed, demo simulator).
     */
    async nextNumber(db: DbOrTx, schoolId: string): Promise<string> {
      const row = await sql<{ last_number: number }>`
        insert into invoice_counters as c (school_id, last_number) values (${schoolId}, 1)
        on conflict (school_id) do update set last_number = c.last_number + 1
        returning last_number`.execute(db);
      return `INV-${String(row.rows[0]?.last_number ?? 1).padStart(6, '0')}`;
    },

    /** Due date and description; the amount changes only through the ledger (a correction line). */
    async update(db: DbOrTx, id: string, values: { dueDate?: string; description?: string | null }): Promise<void> {
      await db
        .updateTable('invoices')
        .set({
          ...(values.dueDate !== undefined ? { due_date: values.dueDate } : {}),
          ...(values.description !== undefined ? { description: values.description } : {}),
          updated_at: sql<Date>`now()`,
        })
        .where('id', '=', id)
        .execute();
    },

    /**
     * The live (not cancelled) late-fee invoice of an invoice, if any (at most one:
     * invoices_late_fee_of_idx, migration 0021); with forUpdate, its row is locked.
     */
    findLateFeeInvoice(db: DbOrTx, of: { schoolId: string; id: string }, options: { forUpdate?: boolean } = {}) {
      return db
        .selectFrom('invoices')
        .select(['id', 'amount', 'paid_amount as paidAmount'])
        .where('school_id', '=', of.schoolId)
        .where('related_invoice_id', '=', of.id)
        .where('cancelled_at', 'is', null)
        .$if(options.forUpdate === true, (qb) => qb.forUpdate())
        .executeTakeFirst();
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

    /**
     * Declares the current transaction the demo's (the demo seed, or the billing service
     * on the simulator's path once its checks passed): the invoices_touched_by_person
     * trigger (migration 0012) then leaves the invoices it writes as demo data. Every
     * other transaction marks each invoice it creates or changes as touched by a person.
     * Transaction-local: it ends with the transaction, whatever connection comes next.
     */
    async declareDemoWriter(db: DbOrTx): Promise<void> {
      await sql`select set_config('bursar.writer', 'demo', true)`.execute(db);
    },
  };
}

export type InvoicesRepository = ReturnType<typeof createInvoicesRepository>;
