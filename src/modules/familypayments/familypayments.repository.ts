import { sql } from 'kysely';
import type { Db, DbOrTx, Tx } from '../../db/database.js';
import type { PaymentMethod } from '../../db/types.js';
import { inScope, type Scope } from '../../shared/scope.js';
import { familyInvoicesSql } from '../families/families.repository.js';
import { unlessPaymentEventsWanted } from '../ledger/ledger.js';
import { selectWakingAfterCommit } from '../live/wake.js';

/** A family as money needs it: its school's currency, zone and registration, and its credit. */
export interface FamilyRow {
  id: string;
  schoolId: string;
  name: string;
  reference: string;
  creditBalance: number;
  currency: string;
  timezone: string;
  schoolCreatedAt: Date;
}

/** An invoice of the family that still owes money, locked for this transaction. */
export interface OpenInvoice {
  id: string;
  number: string;
  dueDate: string;
  open: number;
}

export interface FamilyPaymentRow {
  id: string;
  familyId: string;
  schoolId: string;
  payerGuardianId: string | null;
  amount: number;
  allocated: number;
  credited: number;
  currency: string;
  receiptNumber: string | null;
  method: PaymentMethod;
  reference: string | null;
  paidAt: Date;
  createdAt: Date;
}

/** What record_family_payment needs (migration 0019). */
export interface RecordFamilyPaymentInput {
  /** The caller (created_by, audit); null: the demo seed. */
  user: { id: string; username: string } | null;
  requestId: string | null;
  /** Idempotency-Key, the request's path and hash (idempotency.ts); key null: none (the demo seed). */
  idempotency: { key: string; path: string; hash: Buffer } | null;
  /** The caller's schools; 'all': every school. */
  schoolIds: 'all' | readonly string[];
  familyId: string;
  amount: number;
  method: PaymentMethod;
  reference: string | null;
  paidAt: Date;
  /** paidAt was given by the caller: it must fall in the school's window (not before `window` before it was registered). */
  paidAtGiven: boolean;
  window: string;
  payerGuardianId: string | null;
  /** The demo simulator's payment: only on demo data (refused with SQLSTATE BFDEM otherwise). */
  demo: boolean;
  /** The caller wakes the live hubs once it has committed (src/modules/live/wake.ts); otherwise the transactions trigger does, in the transaction. */
  wakeAfterCommit?: boolean;
}

/** A family payment's answer as record_family_payment stores it (raw: reference unmasked; timestamps as PostgreSQL writes them). */
export interface StoredFamilyPayment extends Omit<FamilyPaymentRow, 'paidAt' | 'createdAt'> {
  paidAt: string;
  createdAt: string;
  allocations: { paymentId: string; invoiceId: string; invoiceNumber: string; amount: number }[];
  balance: { owed: number; credit: number };
}

export interface AllocationRow {
  familyPaymentId: string;
  paymentId: string;
  invoiceId: string;
  invoiceNumber: string;
  amount: number;
}

/**
 * SQL of family payments and family credit. Lock order (the ledger's rule, SPEC §7 and
 * the brief): the family row first, then its invoices by (due_date, id). Every family
 * payment and every credit application of one family therefore serialise on the family
 * row, and two of them can never deadlock on the invoices; a direct payment locks a
 * single invoice, so it cannot deadlock with them either.
 */
/**
 * An invoice of the family: billed to it (family_id), or billed directly to one of its
 * students without a family (POST /invoices). The same test the ledger applies to every
 * allocation and credit application, and the grouping of the SPEC §7 invariant in
 * `npm run verify`, so what a family payment may settle is what the family owes.
 * Over `invoices` (unaliased).
 *
 * Spelled as `id in (familyInvoicesSql: a union of two index lookups)` — the family's invoices through
 * invoices_family_idx, its students' through students_family_idx and
 * invoices_student_idx — because the plain `family_id = F or (family_id is null and
 * student_id in …)` cannot use an index and walks every invoice of the school (a
 * second for 200 000 invoices, on the path of every family payment).
 */
export const ofFamily = (schoolId: string, familyId: string) =>
  sql<boolean>`invoices.id in (select fi.id from ${familyInvoicesSql(schoolId, familyId)} fi)`;

type RecordedFamilyPayment = { replayed: boolean; status: number; body: StoredFamilyPayment };

/** record_family_payment (migration 0019) in one statement; `alone`: unless payment events are wanted (null then). */
async function callRecordFamilyPayment(db: DbOrTx, input: RecordFamilyPaymentInput, alone: boolean): Promise<RecordedFamilyPayment | null> {
  const call = sql`
    record_family_payment(
      ${input.user?.id ?? null}::uuid, ${input.user?.username ?? null}, ${input.requestId},
      ${input.idempotency?.key ?? null}, ${input.idempotency?.path ?? null}, ${input.idempotency?.hash ?? null},
      ${input.schoolIds === 'all' ? null : [...input.schoolIds]}::uuid[], ${input.familyId},
      ${input.amount}, ${input.method}, ${input.reference}, ${input.paidAt}, ${input.paidAtGiven},
      ${input.payerGuardianId}, ${input.demo}, ${input.window}::interval)`;
  const { rows } = await selectWakingAfterCommit<RecordedFamilyPayment | null>(alone ? unlessPaymentEventsWanted(call) : call, input.wakeAfterCommit === true).execute(db);
  return rows[0]?.result ?? null;
}

export function createFamilyPaymentsRepository() {
  const families = (db: DbOrTx, scope: Scope) =>
    db
      .selectFrom('families')
      .innerJoin('schools', 'schools.id', 'families.school_id')
      .select([
        'families.id',
        'families.school_id as schoolId',
        'families.name',
        'families.reference',
        'families.credit_balance as creditBalance',
        'schools.currency',
        'schools.timezone',
        'schools.created_at as schoolCreatedAt',
      ])
      .where('families.deleted_at', 'is', null)
      .where('schools.deleted_at', 'is', null)
      .where((eb) => inScope(eb, 'families.school_id', scope));

  return {
    /**
     * A family payment in one call of record_family_payment (migration 0019): claimed
     * or replayed, locked, allocated oldest due first, posted, audited and stored, in
     * the transaction of `db` (its own when `db` is the pool). Its refusals are
     * PostgreSQL errors of SQLSTATE class BF (the service names them).
     */
    async record(db: DbOrTx, input: RecordFamilyPaymentInput): Promise<RecordedFamilyPayment> {
      const recorded = await callRecordFamilyPayment(db, input, false);
      if (recorded === null) {
        throw new Error('record_family_payment returned no row');
      }
      return recorded;
    },

    /**
     * The family payment as a statement of its own (its own transaction), made only when
     * no webhook endpoint listens to payment events (unlessPaymentEventsWanted):
     * undefined, with nothing done, when one does, and the caller makes it with record in
     * a transaction that writes its events.
     */
    async recordAlone(db: Db, input: RecordFamilyPaymentInput): Promise<RecordedFamilyPayment | undefined> {
      return (await callRecordFamilyPayment(db, input, true)) ?? undefined;
    },

    /** The family if the caller may see it; with forUpdate its row is locked (before any of its invoices). */
    findFamily(db: DbOrTx, scope: Scope, id: string, options: { forUpdate?: boolean } = {}): Promise<FamilyRow | undefined> {
      return families(db, scope)
        .where('families.id', '=', id)
        .$if(options.forUpdate === true, (qb) => qb.forUpdate('families'))
        .executeTakeFirst();
    },

    /** True when `guardianId` is a (not deleted) guardian of the family. */
    async isGuardianOf(db: DbOrTx, family: { schoolId: string; id: string }, guardianId: string): Promise<boolean> {
      const row = await db
        .selectFrom('guardians')
        .select('id')
        .where('school_id', '=', family.schoolId)
        .where('family_id', '=', family.id)
        .where('id', '=', guardianId)
        .where('deleted_at', 'is', null)
        .executeTakeFirst();
      return row !== undefined;
    },

    /** Which of `ids` are invoices of the family (in any state; see ofFamily). */
    async invoicesOfFamily(db: DbOrTx, family: { schoolId: string; id: string }, ids: readonly string[]): Promise<Set<string>> {
      if (ids.length === 0) {
        return new Set();
      }
      const rows = await db
        .selectFrom('invoices')
        .select('id')
        .where('school_id', '=', family.schoolId)
        .where(ofFamily(family.schoolId, family.id))
        .where('id', 'in', [...ids])
        .execute();
      return new Set(rows.map((row) => row.id));
    },

    /**
     * The family's invoices (ofFamily) that still owe money — not cancelled, amount −
     * paid_amount > 0 — oldest due date first (then id), each locked FOR UPDATE in that order. A
     * payer narrows them to that guardian's invoices; `invoiceIds` to those invoices.
     * Rows a concurrent payment settled while this waited for the lock are re-checked
     * by PostgreSQL (READ COMMITTED re-evaluates the WHERE on the new row version) and
     * drop out.
     */
    async lockOpenInvoices(
      trx: Tx,
      family: { schoolId: string; id: string },
      filter: { payerGuardianId?: string; invoiceIds?: readonly string[] } = {},
    ): Promise<OpenInvoice[]> {
      const rows = await trx
        .selectFrom('invoices')
        .select(['id', 'number', 'due_date as dueDate', sql<number>`amount - paid_amount`.as('open')])
        .where('school_id', '=', family.schoolId)
        .where(ofFamily(family.schoolId, family.id))
        .where('cancelled_at', 'is', null)
        .where(sql<boolean>`paid_amount < amount`)
        .$if(filter.payerGuardianId !== undefined, (qb) => qb.where('payer_guardian_id', '=', filter.payerGuardianId ?? ''))
        .$if(filter.invoiceIds !== undefined, (qb) => qb.where('id', 'in', [...(filter.invoiceIds ?? [])]))
        .orderBy('due_date')
        .orderBy('id')
        // Only the invoice rows: ofFamily's lookups (students, the union) are not locked.
        .forUpdate('invoices')
        .execute();
      // Locked in this order; sorted again in case a due date changed while waiting.
      return rows.sort((a, b) => (a.dueDate < b.dueDate ? -1 : a.dueDate > b.dueDate ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    },

    /** The family's balance: what its invoices (ofFamily) still owe, cancelled ones excluded, and its unapplied credit. */
    async balance(db: DbOrTx, family: { schoolId: string; id: string }): Promise<{ owed: number; credit: number }> {
      const { rows } = await sql<{ owed: number; credit: number }>`
        select coalesce((select sum(invoices.amount - invoices.paid_amount) from invoices
                          where invoices.school_id = ${family.schoolId} and ${ofFamily(family.schoolId, family.id)} and invoices.cancelled_at is null), 0)::bigint as owed,
               f.credit_balance as credit
          from families f
         where f.school_id = ${family.schoolId} and f.id = ${family.id}`.execute(db);
      const row = rows[0];
      return { owed: Number(row?.owed ?? 0), credit: Number(row?.credit ?? 0) };
    },

    /** A page of the family's payments, newest first (id is a UUIDv7: creation order). */
    listFamilyPayments(db: DbOrTx, family: { schoolId: string; id: string }, query: { limit: number; beforeId?: string }): Promise<FamilyPaymentRow[]> {
      return db
        .selectFrom('family_payments as fp')
        .innerJoin('schools', 'schools.id', 'fp.school_id')
        .leftJoin('receipts as r', (join) => join.onRef('r.school_id', '=', 'fp.school_id').onRef('r.family_payment_id', '=', 'fp.id'))
        .select([
          'fp.id',
          'fp.family_id as familyId',
          'fp.school_id as schoolId',
          'fp.payer_guardian_id as payerGuardianId',
          'fp.amount',
          'fp.allocated',
          'fp.credited',
          'schools.currency',
          'r.number as receiptNumber',
          'fp.method',
          'fp.reference',
          'fp.paid_at as paidAt',
          'fp.created_at as createdAt',
        ])
        .where('fp.school_id', '=', family.schoolId)
        .where('fp.family_id', '=', family.id)
        .$if(query.beforeId !== undefined, (qb) => qb.where('fp.id', '<', query.beforeId ?? ''))
        .orderBy('fp.id', 'desc')
        .limit(query.limit + 1)
        .execute();
    },

    /** The payments rows (allocations) of some family payments, oldest due date first. */
    async allocationsOf(db: DbOrTx, schoolId: string, familyPaymentIds: readonly string[]): Promise<AllocationRow[]> {
      if (familyPaymentIds.length === 0) {
        return [];
      }
      return db
        .selectFrom('payments as p')
        .innerJoin('invoices as i', (join) => join.onRef('i.school_id', '=', 'p.school_id').onRef('i.id', '=', 'p.invoice_id'))
        .select([
          sql<string>`p.family_payment_id`.as('familyPaymentId'),
          'p.id as paymentId',
          'p.invoice_id as invoiceId',
          'i.number as invoiceNumber',
          'p.amount',
        ])
        .where('p.school_id', '=', schoolId)
        .where('p.family_payment_id', 'in', [...familyPaymentIds])
        .orderBy('i.due_date')
        .orderBy('i.id')
        .execute();
    },
  };
}

export type FamilyPaymentsRepository = ReturnType<typeof createFamilyPaymentsRepository>;
