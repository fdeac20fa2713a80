import { sql } from 'kysely';
import type { Db, DbOrTx } from '../../db/database.js';
import type { PaymentMethod } from '../../db/types.js';
import { maskReference } from '../../shared/masking.js';
import { inScope, type Scope } from '../../shared/scope.js';
import { unlessPaymentEventsWanted } from '../ledger/ledger.js';
import { selectWakingAfterCommit } from '../live/wake.js';
import { publishFailedTransaction } from '../webhooks/webhooks.outbox.js';

export interface PaymentRow {
  id: string;
  invoiceId: string;
  schoolId: string;
  studentId: string;
  amount: number;
  refundedAmount: number;
  currency: string;
  method: PaymentMethod;
  reference: string | null;
  paidAt: Date;
  createdAt: Date;
  /** The receipt of this payment, or of the family payment it is part of (SPEC §7). */
  receiptNumber: string | null;
}

export interface RefundRow {
  id: string;
  paymentId: string;
  invoiceId: string;
  schoolId: string;
  amount: number;
  reason: string | null;
  createdAt: Date;
}

/** Payment references are PII-grade (they identify a card or account): masked to the last 4. */
export function presentPayment(row: PaymentRow, scope: Scope): PaymentRow {
  return scope.pii === 'clear' || row.reference === null ? row : { ...row, reference: maskReference(row.reference) };
}

/** record_payment's answer. `subscribed`: some webhook endpoint listens to payment events (the caller writes them in the same transaction). */
type RecordedPayment = { replayed: boolean; status: number; body: StoredPayment; subscribed: boolean };

/** record_payment (migration 0031) in one statement; `alone`: unless payment events are wanted (null then). */
async function callRecordPayment(db: DbOrTx, input: RecordPaymentInput, alone: boolean): Promise<RecordedPayment | null> {
  const call = sql`
    record_payment(
      ${input.user.id}::uuid, ${input.user.username}, ${input.requestId},
      ${input.idempotency.key}, ${input.idempotency.path}, ${input.idempotency.hash},
      ${input.schoolIds === 'all' ? null : [...input.schoolIds]}::uuid[], ${input.invoiceId}::uuid,
      ${input.amount}, ${input.method}, ${input.reference}, ${input.paidAt}, ${input.paidAtGiven},
      ${input.demo}, ${input.window}::interval)`;
  const { rows } = await selectWakingAfterCommit<RecordedPayment | null>(alone ? unlessPaymentEventsWanted(call) : call, input.wakeAfterCommit === true).execute(db);
  return rows[0]?.result ?? null;
}

/** What record_payment needs (migration 0031). */
export interface RecordPaymentInput {
  /** The caller (created_by, audit). */
  user: { id: string; username: string };
  requestId: string | null;
  /** Idempotency-Key, the request's path and hash (idempotency.ts). */
  idempotency: { key: string; path: string; hash: Buffer };
  /** The caller's schools; 'all': every school. */
  schoolIds: 'all' | readonly string[];
  invoiceId: string;
  amount: number;
  method: PaymentMethod;
  reference: string | null;
  paidAt: Date;
  /** paidAt was given by the caller: it must fall in the school's window (not before `window` before it was registered). */
  paidAtGiven: boolean;
  window: string;
  /** The demo simulator's payment: only on demo data (refused with SQLSTATE BFDEM otherwise). */
  demo: boolean;
  /** The caller wakes the live hubs once it has committed (src/modules/live/wake.ts); otherwise the transactions trigger does, in the transaction. */
  wakeAfterCommit?: boolean;
}

/** A payment's answer as record_payment stores it (raw: reference unmasked; instants as ISO text). */
export interface StoredPayment extends Omit<PaymentRow, 'paidAt' | 'createdAt'> {
  paidAt: string;
  createdAt: string;
  invoice: { id: string; status: string; paidAmount: number; pendingAmount: number };
}

export function createPaymentsRepository() {
  const visible = (db: DbOrTx, scope: Scope) =>
    db
      .selectFrom('payments')
      .innerJoin('invoices', 'invoices.id', 'payments.invoice_id')
      .innerJoin('schools', 'schools.id', 'payments.school_id')
      .select([
        'payments.id',
        'payments.invoice_id as invoiceId',
        'payments.school_id as schoolId',
        'invoices.student_id as studentId',
        'payments.amount',
        sql<number>`coalesce((select sum(r.amount) from refunds r where r.payment_id = payments.id), 0)`.as('refundedAmount'),
        'schools.currency',
        'payments.method',
        'payments.reference',
        'payments.paid_at as paidAt',
        'payments.created_at as createdAt',
        // Its own receipt, or its family payment's (receipts_payment_idx / receipts_family_payment_idx).
        sql<string | null>`coalesce(
          (select r.number from receipts r where r.school_id = payments.school_id and r.payment_id = payments.id),
          (select r.number from receipts r where r.school_id = payments.school_id and r.family_payment_id = payments.family_payment_id))`.as('receiptNumber'),
      ])
      .where('schools.deleted_at', 'is', null)
      .where((eb) => inScope(eb, 'payments.school_id', scope));

  return {
    /**
     * A payment in one call of record_payment (migration 0031): claimed or replayed, the
     * invoice locked, checked, posted through the ledger's posting, audited and stored, in
     * the transaction of `db`. `subscribed`: some webhook endpoint listens to payment
     * events (the caller writes them in the same transaction). Refusals are PostgreSQL
     * errors of SQLSTATE class BF (the service names them).
     */
    async record(db: DbOrTx, input: RecordPaymentInput): Promise<RecordedPayment> {
      const recorded = await callRecordPayment(db, input, false);
      if (recorded === null) {
        throw new Error('record_payment returned no row');
      }
      return recorded;
    },

    /**
     * The payment as a statement of its own (its own transaction), made only when no
     * webhook endpoint listens to payment events (unlessPaymentEventsWanted): undefined,
     * with nothing done, when one does, and the caller makes it with record in a
     * transaction that writes its events.
     */
    async recordAlone(db: Db, input: RecordPaymentInput): Promise<RecordedPayment | undefined> {
      return (await callRecordPayment(db, input, true)) ?? undefined;
    },

    async list(
      db: DbOrTx,
      scope: Scope,
      query: { limit: number; afterId?: string; schoolId?: string; invoiceId?: string; studentId?: string; method?: PaymentMethod; from?: string; to?: string },
    ): Promise<PaymentRow[]> {
      const rows = await visible(db, scope)
        .$if(query.schoolId !== undefined, (qb) => qb.where('payments.school_id', '=', query.schoolId ?? ''))
        .$if(query.invoiceId !== undefined, (qb) => qb.where('payments.invoice_id', '=', query.invoiceId ?? ''))
        .$if(query.studentId !== undefined, (qb) => qb.where('invoices.student_id', '=', query.studentId ?? ''))
        .$if(query.method !== undefined, (qb) => qb.where('payments.method', '=', query.method ?? 'cash'))
        .$if(query.from !== undefined, (qb) => qb.where('payments.paid_at', '>=', new Date(query.from ?? 0)))
        .$if(query.to !== undefined, (qb) => qb.where('payments.paid_at', '<', new Date(query.to ?? 0)))
        .$if(query.afterId !== undefined, (qb) => qb.where('payments.id', '>', query.afterId ?? ''))
        .orderBy('payments.id')
        .limit(query.limit + 1)
        .execute();
      return rows.map((row) => presentPayment(row, scope));
    },

    async findById(db: DbOrTx, scope: Scope, id: string): Promise<PaymentRow | undefined> {
      const row = await visible(db, scope).where('payments.id', '=', id).executeTakeFirst();
      return row && presentPayment(row, scope);
    },

    /**
     * The gateway-side record of an attempt that moved no money (a declined card); the
     * live feed and monitoring read it. Payments and refunds write theirs through the
     * ledger (src/modules/ledger).
     */
    async insertTransaction(
      db: DbOrTx,
      values: {
        schoolId: string;
        invoiceId: string | null;
        paymentId?: string;
        refundId?: string;
        amount: number;
        method: PaymentMethod;
        status: 'succeeded' | 'failed' | 'refunded' | 'pending';
        failureCode?: string;
        failureMessage?: string;
        gateway?: string;
      },
    ): Promise<string> {
      const row = await db
        .insertInto('transactions')
        .values({
          school_id: values.schoolId,
          invoice_id: values.invoiceId,
          payment_id: values.paymentId ?? null,
          refund_id: values.refundId ?? null,
          amount: values.amount,
          method: values.method,
          status: values.status,
          failure_code: values.failureCode ?? null,
          failure_message: values.failureMessage ?? null,
          ...(values.gateway ? { gateway: values.gateway } : {}),
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      if (values.status === 'failed') {
        // payment.failed to the webhook outbox, in the caller's transaction (SPEC §9).
        await publishFailedTransaction(db, { schoolId: values.schoolId, id: row.id });
      }
      return row.id;
    },
  };
}

export type PaymentsRepository = ReturnType<typeof createPaymentsRepository>;
