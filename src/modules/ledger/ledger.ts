/**
 * The ledger: the only code that writes money (SPEC §7, STYLE "Money: one ledger").
 *
 * One posting function per movement. Each takes the caller's transaction and writes in
 * it; the caller has already checked the business rules (answering 422 naming the
 * field) and holds the row locks: the invoice rows FOR UPDATE, and the family row FOR
 * UPDATE before any of its invoices when family credit is involved (lock order: family,
 * then invoices by (due_date, id)). The database checks (paid_amount ≤ amount,
 * credited_amount ≤ paid_amount, credit_balance ≥ 0, cancel only while nothing is
 * settled) are the last line of defence.
 *
 * Money model (migration 0014): an invoice's `amount` is the sum of its lines;
 * `paid_amount` is what settled it (payments − refunds + credit applied + credit notes +
 * write-offs); `credited_amount` is the credit-note and write-off part of it (no money
 * moved). Open = amount − paid_amount; cash on an invoice = paid_amount − credited_amount.
 *
 * Round trips and lock order. Every posting first writes its money rows (whose
 * statement triggers take the school's billing_versions row), then moves the invoice,
 * and takes a per-school counter (receipts, credit notes) last, so all writers of a
 * school acquire the same rows in the same order and cannot deadlock. A direct payment
 * is one call of ledger_post_payment (migration 0031), its receipt number taken last.
 *
 * Rows written here are never updated or deleted (triggers, 0001 and 0014); a mistake is
 * corrected by another posting (a refund, a credit note).
 *
 * Outbound webhooks (SPEC §9): each posting publishes its events (invoice.created,
 * payment.succeeded, invoice.paid, refund.created, credit_note.created) to the webhook
 * outbox in the same transaction (src/modules/webhooks/webhooks.outbox.ts); with no
 * subscribed endpoint that is one probe of a tiny table and no row.
 */
import { sql, type RawBuilder } from 'kysely';
import type { Tx } from '../../db/database.js';
import type { PaymentMethod } from '../../db/types.js';
import type { InvoiceStatus } from '../billing/billing.schemas.js';
import type { RefundRow } from '../billing/payments.repository.js';
import { anySubscriber, anySubscriberSql, publishCreditNote, publishIfPaid, publishInvoices, publishPayments, publishRefund } from '../webhooks/webhooks.outbox.js';

export type LineKind = 'charge' | 'discount' | 'late_fee';

export interface LineInput {
  kind: LineKind;
  code: string;
  description: string;
  /** Minor units: charge and late_fee > 0, discount < 0. */
  amount: number;
  enrolmentId?: string | null;
  itemCode?: string | null;
  dueDate?: string | null;
  ruleId?: string | null;
  awardId?: string | null;
  /** Exactly-once key of a billed instalment or late fee (unique per school). */
  billingKey?: string | null;
}

export interface InvoiceInput {
  schoolId: string;
  studentId: string;
  /** The family billed; omitted (undefined): the student's family, if any; null: none. */
  familyId?: string | null;
  payerGuardianId?: string | null;
  billRunId?: string | null;
  /** Taken from the school's invoice sequence (INV-000001) when omitted. */
  number?: string;
  description: string | null;
  dueDate: string;
  lines: LineInput[];
  /** Pronto pago (0023): the discount offered for paying in full by earlyBy (minor units, > 0), and that day. */
  early?: { discount: number; by: string } | null;
}

export interface PostedInvoice {
  id: string;
  number: string;
  amount: number;
}

/** An invoice's money figures after a posting moved them (raw columns: paidAmount is everything settled). */
export interface SettledInvoice {
  id: string;
  status: InvoiceStatus;
  amount: number;
  paidAmount: number;
  creditedAmount: number;
  pendingAmount: number;
}

export interface PaymentInput {
  schoolId: string;
  invoiceId: string;
  amount: number;
  method: PaymentMethod;
  reference: string | null;
  paidAt: Date;
  createdBy: string | null;
}

export interface PostedPayment {
  id: string;
  paidAt: Date;
  createdAt: Date;
  receiptNumber: string | null;
  /** The invoice after the payment. */
  invoice: SettledInvoice;
}

export interface RefundInput {
  schoolId: string;
  paymentId: string;
  invoiceId: string;
  amount: number;
  reason: string | null;
  createdBy: string | null;
}

export interface FamilyPaymentInput {
  schoolId: string;
  familyId: string;
  payerGuardianId?: string | null;
  amount: number;
  method: PaymentMethod;
  reference: string | null;
  paidAt: Date;
  createdBy: string | null;
  /** Σ ≤ amount, one entry per invoice (each invoice of this family); the rest becomes family credit. */
  allocations: { invoiceId: string; amount: number }[];
}

export interface PostedFamilyPayment {
  id: string;
  receiptNumber: string;
  allocated: number;
  credited: number;
  paidAt: Date;
  createdAt: Date;
  payments: { id: string; invoiceId: string; amount: number }[];
}

export interface AdjustmentInput {
  schoolId: string;
  invoiceId: string;
  amount: number;
  reason: string;
  createdBy: string | null;
}

export interface PostedAdjustment {
  id: string;
  number: string | null;
  createdAt: Date;
  invoice: SettledInvoice;
}

/** A broken precondition of a posting: a bug in the caller (services check first and answer 4xx). */
export class LedgerError extends Error {
  constructor(message: string) {
    super(`ledger: ${message}`);
    this.name = 'LedgerError';
  }
}

function positive(what: string, value: number): void {
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new LedgerError(`${what} must be a positive integer of minor units, got ${value}`);
  }
}

function lineAmountOk(line: LineInput): boolean {
  return Number.isSafeInteger(line.amount) && (line.kind === 'discount' ? line.amount < 0 : line.amount > 0);
}

/** The invoice's figures as every posting returns them (inside `update invoices … from schools`). */
const settledColumns = sql`invoices.id,
  invoice_status(invoices.amount, invoices.paid_amount, invoices.due_date, invoices.cancelled_at, schools.timezone) as status,
  invoices.amount, invoices.paid_amount as "paidAmount", invoices.credited_amount as "creditedAmount",
  invoices.amount - invoices.paid_amount as "pendingAmount"`;

/** Moves an invoice's settled (and credited) figures; the row is locked by the caller. */
function settleSql(schoolId: string, invoiceId: string, delta: number, credited: number): RawBuilder<SettledInvoice> {
  return sql<SettledInvoice>`
    update invoices
       set paid_amount = invoices.paid_amount + ${delta}::bigint,
           credited_amount = invoices.credited_amount + ${credited}::bigint,
           updated_at = now()
      from schools
     where schools.id = invoices.school_id and invoices.school_id = ${schoolId} and invoices.id = ${invoiceId}
    returning ${settledColumns}`;
}

async function settle(trx: Tx, schoolId: string, invoiceId: string, delta: number, credited = 0): Promise<SettledInvoice> {
  const { rows } = await settleSql(schoolId, invoiceId, delta, credited).execute(trx);
  const row = rows[0];
  if (row === undefined) {
    throw new LedgerError(`invoice ${invoiceId} not found in school ${schoolId}`);
  }
  return row;
}

const pad6 = (n: number) => String(n).padStart(6, '0');

// ------------------------------------------------------------------------------ invoices

/** One invoice with its lines; amount = Σ lines (≥ 0). See postInvoices. */
export async function postInvoice(trx: Tx, invoice: InvoiceInput): Promise<PostedInvoice> {
  const [posted] = await postInvoices(trx, [invoice]);
  if (posted === undefined) {
    throw new LedgerError('postInvoices returned nothing for one invoice');
  }
  return posted;
}

/**
 * Many invoices at once (bill runs): the numbers of those without one are taken in
 * bulk from each school's invoice_counters row (last_number += n, schools in id order),
 * then one multi-row insert of the invoices and one of all their lines, from arrays
 * (unnest), whatever the count. Answers in input order.
 */
export async function postInvoices(trx: Tx, invoices: InvoiceInput[]): Promise<PostedInvoice[]> {
  if (invoices.length === 0) {
    return [];
  }
  const amounts = invoices.map((invoice, index) => {
    if (invoice.lines.length === 0) {
      throw new LedgerError(`invoice ${index} has no lines`);
    }
    let total = 0;
    for (const line of invoice.lines) {
      if (!lineAmountOk(line)) {
        throw new LedgerError(`a ${line.kind} line of ${line.amount} (charges and late fees > 0, discounts < 0)`);
      }
      total += line.amount;
    }
    if (!Number.isSafeInteger(total) || total < 0) {
      throw new LedgerError(`invoice ${index} would amount to ${total} (never below zero)`);
    }
    return total;
  });

  // Numbers from each school's sequence, in input order.
  const needed = new Map<string, number>();
  for (const invoice of invoices) {
    if (invoice.number === undefined) {
      needed.set(invoice.schoolId, (needed.get(invoice.schoolId) ?? 0) + 1);
    }
  }
  const next = new Map<string, number>();
  if (needed.size > 0) {
    const schools = [...needed.keys()].sort();
    const { rows } = await sql<{ schoolId: string; lastNumber: number }>`
      insert into invoice_counters as c (school_id, last_number)
      select * from unnest(${schools}::uuid[], ${schools.map((s) => needed.get(s) ?? 0)}::bigint[])
      on conflict (school_id) do update set last_number = c.last_number + excluded.last_number
      returning school_id as "schoolId", last_number as "lastNumber"`.execute(trx);
    for (const row of rows) {
      next.set(row.schoolId, row.lastNumber - (needed.get(row.schoolId) ?? 0) + 1);
    }
  }
  const numbers = invoices.map((invoice) => {
    if (invoice.number !== undefined) {
      return invoice.number;
    }
    const n = next.get(invoice.schoolId) ?? 1;
    next.set(invoice.schoolId, n + 1);
    return `INV-${pad6(n)}`;
  });

  // touched_by_person_at is what 0012's invoices_touched_by_person row trigger would set
  // (now(), unless the writer is the demo simulator): written here, the trigger's WHEN
  // clause skips its PL/pgSQL function for each of a bill run's rows.
  const { rows: inserted } = await sql<{ id: string; schoolId: string; number: string }>`
    insert into invoices (school_id, student_id, family_id, payer_guardian_id, bill_run_id, number, description, amount, due_date, touched_by_person_at,
                          early_discount, early_by)
    select u.school_id, u.student_id,
           case when u.family_of_student then (select s.family_id from students s where s.school_id = u.school_id and s.id = u.student_id) else u.family_id end,
           u.payer_guardian_id, u.bill_run_id, u.number, u.description, u.amount, u.due_date,
           case when coalesce(current_setting('bursar.writer', true), '') <> 'demo' then now() end,
           u.early_discount, u.early_by
      from unnest(
        ${invoices.map((i) => i.schoolId)}::uuid[],
        ${invoices.map((i) => i.studentId)}::uuid[],
        ${invoices.map((i) => i.familyId ?? null)}::uuid[],
        ${invoices.map((i) => i.familyId === undefined)}::boolean[],
        ${invoices.map((i) => i.payerGuardianId ?? null)}::uuid[],
        ${invoices.map((i) => i.billRunId ?? null)}::uuid[],
        ${numbers}::text[],
        ${invoices.map((i) => i.description)}::text[],
        ${amounts}::bigint[],
        ${invoices.map((i) => i.dueDate)}::date[],
        ${invoices.map((i, index) => earlyOf(i, amounts[index] ?? 0).discount)}::bigint[],
        ${invoices.map((i, index) => earlyOf(i, amounts[index] ?? 0).by)}::date[])
        as u(school_id, student_id, family_id, family_of_student, payer_guardian_id, bill_run_id, number, description, amount, due_date, early_discount, early_by)
    returning id, school_id as "schoolId", number`.execute(trx);
  const idOf = new Map(inserted.map((row) => [`${row.schoolId}/${row.number}`, row.id]));
  const ids = invoices.map((invoice, index) => {
    const id = idOf.get(`${invoice.schoolId}/${numbers[index] ?? ''}`);
    if (id === undefined) {
      throw new LedgerError(`invoice ${numbers[index] ?? index} was not inserted`);
    }
    return id;
  });

  const lines = invoices.flatMap((invoice, index) => invoice.lines.map((line) => ({ invoice, id: ids[index] ?? '', line })));
  await sql`
    insert into invoice_lines (school_id, invoice_id, kind, code, description, amount, enrolment_id, item_code, due_date, rule_id, award_id, billing_key)
    select * from unnest(
      ${lines.map((l) => l.invoice.schoolId)}::uuid[],
      ${lines.map((l) => l.id)}::uuid[],
      ${lines.map((l) => l.line.kind)}::text[],
      ${lines.map((l) => l.line.code)}::text[],
      ${lines.map((l) => l.line.description)}::text[],
      ${lines.map((l) => l.line.amount)}::bigint[],
      ${lines.map((l) => l.line.enrolmentId ?? null)}::uuid[],
      ${lines.map((l) => l.line.itemCode ?? null)}::text[],
      ${lines.map((l) => l.line.dueDate ?? null)}::date[],
      ${lines.map((l) => l.line.ruleId ?? null)}::uuid[],
      ${lines.map((l) => l.line.awardId ?? null)}::uuid[],
      ${lines.map((l) => l.line.billingKey ?? null)}::text[])`.execute(trx);
  await publishInvoices(trx, 'invoice.created', invoices.map((invoice, index) => ({ schoolId: invoice.schoolId, id: ids[index] ?? '' })));

  return invoices.map((_, index) => ({ id: ids[index] ?? '', number: numbers[index] ?? '', amount: amounts[index] ?? 0 }));
}

/** An invoice's early-payment terms as stored: none, or a discount (at most its amount) and its day. */
function earlyOf(invoice: InvoiceInput, amount: number): { discount: number; by: string | null } {
  const discount = Math.min(invoice.early?.discount ?? 0, amount);
  if (invoice.early === null || invoice.early === undefined || discount <= 0) {
    return { discount: 0, by: null };
  }
  if (!Number.isSafeInteger(discount)) {
    throw new LedgerError(`an early-payment discount of ${discount}`);
  }
  return { discount, by: invoice.early.by };
}

/**
 * Pronto pago (SPEC §8, migration 0023): when a payment of `amount` at `paidAt` settles
 * the invoice exactly once its early-payment discount is taken, by its early day (the
 * school's local date), the discount line is posted first (ledger_post_early_discount)
 * and the invoice owes that much less. In the paying transaction, under the invoice's row
 * lock. Answers the discount posted (0: the payment does not earn one).
 */
export async function postEarlyPaymentDiscount(trx: Tx, e: { schoolId: string; invoiceId: string; paidAt: Date; amount: number }): Promise<number> {
  const { rows } = await sql<{ discount: string }>`
    select ledger_post_early_discount(i.school_id, i.id) as discount
      from invoices i join schools s on s.id = i.school_id
     where i.school_id = ${e.schoolId} and i.id = ${e.invoiceId}
       and early_discount_earned(i, s.timezone, ${e.paidAt}, ${e.amount})
       and ${e.amount} <= i.amount - i.paid_amount - i.early_discount`.execute(trx);
  return Number(rows[0]?.discount ?? 0);
}

/**
 * A correction of an existing invoice's amount (PATCH amount): one more line, charge
 * (delta > 0) or discount (delta < 0), and amount += delta. Never below what is settled
 * (the database's paid_amount ≤ amount refuses it; the service checks first).
 */
export async function postInvoiceLine(trx: Tx, i: { schoolId: string; invoiceId: string; line: LineInput }): Promise<SettledInvoice> {
  if (!lineAmountOk(i.line)) {
    throw new LedgerError(`a ${i.line.kind} line of ${i.line.amount}`);
  }
  const { rows } = await sql<SettledInvoice>`
    with line as (
      insert into invoice_lines (school_id, invoice_id, kind, code, description, amount, enrolment_id, item_code, due_date, rule_id, award_id, billing_key)
      values (${i.schoolId}, ${i.invoiceId}, ${i.line.kind}, ${i.line.code}, ${i.line.description}, ${i.line.amount},
              ${i.line.enrolmentId ?? null}, ${i.line.itemCode ?? null}, ${i.line.dueDate ?? null}, ${i.line.ruleId ?? null},
              ${i.line.awardId ?? null}, ${i.line.billingKey ?? null})
    )
    update invoices set amount = invoices.amount + ${i.line.amount}::bigint, updated_at = now()
      from schools
     where schools.id = invoices.school_id and invoices.school_id = ${i.schoolId} and invoices.id = ${i.invoiceId}
       and invoices.cancelled_at is null
    returning ${settledColumns}`.execute(trx);
  const row = rows[0];
  if (row === undefined) {
    throw new LedgerError(`invoice ${i.invoiceId} not found (or cancelled) in school ${i.schoolId}`);
  }
  return row;
}

/** Cancels an invoice; only while nothing is settled on it (0001's invoices_cancel_only_unpaid). A cancelled one stays as it is. */
export async function voidInvoice(trx: Tx, i: { schoolId: string; invoiceId: string }): Promise<void> {
  const result = await trx
    .updateTable('invoices')
    .set({ cancelled_at: sql<Date>`now()`, updated_at: sql<Date>`now()` })
    .where('school_id', '=', i.schoolId)
    .where('id', '=', i.invoiceId)
    .where('cancelled_at', 'is', null)
    .where('paid_amount', '=', 0)
    .executeTakeFirst();
  if (result.numUpdatedRows === 0n) {
    const row = await trx
      .selectFrom('invoices')
      .select(['cancelled_at', 'paid_amount'])
      .where('school_id', '=', i.schoolId)
      .where('id', '=', i.invoiceId)
      .executeTakeFirst();
    if (row === undefined) {
      throw new LedgerError(`invoice ${i.invoiceId} not found in school ${i.schoolId}`);
    }
    if (row.cancelled_at === null) {
      throw new LedgerError(`invoice ${i.invoiceId} has ${row.paid_amount} settled and cannot be voided`);
    }
  }
}

// ------------------------------------------------------------------------------ money in and out

/**
 * Money received on one invoice: the payment and its succeeded gateway transaction, then
 * paid_amount += amount and the school's next receipt — SQL function ledger_post_payment
 * (migration 0031), one round trip, which record_payment (POST /payments in one call)
 * calls too.
 */
export async function postPayment(trx: Tx, p: PaymentInput): Promise<PostedPayment> {
  positive('payment amount', p.amount);
  const { rows } = await sql<{ posted: { id: string; paidAt: string; createdAt: string; receiptNumber: string; invoice: SettledInvoice } | null }>`
    select ledger_post_payment(${p.schoolId}, ${p.invoiceId}, ${p.amount}, ${p.method}, ${p.reference}, ${p.paidAt}, ${p.createdBy}) as posted`.execute(trx);
  const posted = rows[0]?.posted;
  if (posted === null || posted === undefined) {
    throw new LedgerError('ledger_post_payment returned no row');
  }
  await publishPaymentEvents(trx, p.schoolId, [{ paymentId: posted.id, invoiceId: p.invoiceId }]);
  // jsonb gives bigint amounts as JSON numbers: exact within the safe range checked above.
  return { ...posted, paidAt: new Date(posted.paidAt), createdAt: new Date(posted.createdAt) };
}

/** The events of a payment (publishPaymentEvents). */
const PAYMENT_EVENTS = ['payment.succeeded', 'invoice.paid'] as const;

/**
 * A one-call payment (record_payment, record_family_payment) made only when no webhook
 * endpoint listens to payment events: `case when <someone listens> then null else <call>
 * end`, so the call is not made at all when one does. Run as a statement of its own, the
 * payment is then its own transaction with nothing to write after it: one round trip
 * instead of begin, call, events and commit. A null answer tells the caller to make the
 * payment in a transaction with its events (publishPaymentEvents). An endpoint created
 * while the payment runs is as concurrent as one created just before the commit of the
 * transaction path: neither sees that payment's events.
 */
export function unlessPaymentEventsWanted(call: RawBuilder<unknown>): RawBuilder<unknown> {
  return sql`case when ${anySubscriberSql(...PAYMENT_EVENTS)} then null else ${call} end`;
}

/**
 * payment.succeeded for each payment, then invoice.paid for the invoices they settled in
 * full (one probe when nobody listens to either); also for the one-call payments
 * (record_payment, record_family_payment), whose services write them after the call.
 */
export async function publishPaymentEvents(trx: Tx, schoolId: string, made: readonly { paymentId: string; invoiceId: string }[]): Promise<void> {
  if (!(await anySubscriber(trx, ...PAYMENT_EVENTS))) {
    return;
  }
  await publishPayments(trx, made.map((m) => ({ schoolId, id: m.paymentId })));
  await publishIfPaid(trx, made.map((m) => ({ schoolId, id: m.invoiceId })));
}

/** A refund of (part of) a payment: the refund and its `refunded` transaction, then paid_amount −= amount. */
export async function postRefund(trx: Tx, r: RefundInput): Promise<RefundRow & { invoice: SettledInvoice }> {
  positive('refund amount', r.amount);
  const { rows } = await sql<RefundRow>`
    with refund as (
      insert into refunds (school_id, payment_id, invoice_id, amount, reason, created_by)
      values (${r.schoolId}, ${r.paymentId}, ${r.invoiceId}, ${r.amount}, ${r.reason}, ${r.createdBy})
      returning id, payment_id, invoice_id, school_id, amount, reason, created_at
    ),
    gateway as (
      insert into transactions (school_id, invoice_id, payment_id, refund_id, amount, method, status)
      select refund.school_id, refund.invoice_id, refund.payment_id, refund.id, refund.amount, p.method, 'refunded'
        from refund join payments p on p.school_id = refund.school_id and p.id = refund.payment_id
    )
    select id, payment_id as "paymentId", invoice_id as "invoiceId", school_id as "schoolId", amount, reason, created_at as "createdAt"
      from refund`.execute(trx);
  const refund = rows[0];
  if (refund === undefined) {
    throw new LedgerError('insert into refunds returned no row');
  }
  const invoice = await settle(trx, r.schoolId, r.invoiceId, -r.amount);
  await publishRefund(trx, { schoolId: r.schoolId, id: refund.id });
  return { ...refund, invoice };
}

/**
 * The family-membership test of an invoice: one of family_invoices() (migration 0019),
 * the definition ledger_post_family_payment and the families module use too (`npm run
 * verify` groups by the same rule, written there on its own as a check). Over
 * `invoices` (unaliased) of school `schoolId`.
 */
const ofFamily = (schoolId: string, familyId: string) =>
  sql<boolean>`invoices.id in (select fi.id from family_invoices(${schoolId}::uuid, ${familyId}::uuid) fi)`;

/**
 * Money a family paid: the family_payments row and one payment (with its succeeded
 * transaction) per allocation, linked to it; then the allocated invoices' paid_amount,
 * the family's credit (+= what was not allocated) and ONE receipt for the whole family
 * payment — SQL function ledger_post_family_payment (migration 0019), one round trip.
 * Every allocated invoice must belong to the family (an invoice of another family fails
 * the statement).
 */
export async function postFamilyPayment(trx: Tx, f: FamilyPaymentInput): Promise<PostedFamilyPayment> {
  positive('family payment amount', f.amount);
  const seen = new Set<string>();
  let allocated = 0;
  for (const allocation of f.allocations) {
    positive('allocation amount', allocation.amount);
    if (seen.has(allocation.invoiceId)) {
      throw new LedgerError(`invoice ${allocation.invoiceId} allocated twice`);
    }
    seen.add(allocation.invoiceId);
    allocated += allocation.amount;
  }
  if (allocated > f.amount) {
    throw new LedgerError(`allocations of ${allocated} exceed the family payment of ${f.amount}`);
  }
  // One call of the SQL posting (migration 0019), which record_family_payment (POST
  // /families/:id/payments in one round trip) calls too.
  const { rows } = await sql<{ posted: { id: string; receiptNumber: string; allocated: number; credited: number; paidAt: string; createdAt: string; payments: { id: string; invoiceId: string; amount: number }[] } }>`
    select ledger_post_family_payment(${f.schoolId}, ${f.familyId}, ${f.payerGuardianId ?? null}, ${f.amount}, ${f.method}, ${f.reference},
                                      ${f.paidAt}, ${f.createdBy}, ${f.allocations.map((a) => a.invoiceId)}::uuid[], ${f.allocations.map((a) => a.amount)}::bigint[]) as posted`.execute(trx);
  const posted = rows[0]?.posted;
  if (posted === undefined) {
    throw new LedgerError('ledger_post_family_payment returned no row');
  }
  await publishPaymentEvents(trx, f.schoolId, posted.payments.map((payment) => ({ paymentId: payment.id, invoiceId: payment.invoiceId })));
  // jsonb gives bigint amounts as JSON numbers: exact within the safe range checked above.
  return { ...posted, allocated, credited: posted.credited, paidAt: new Date(posted.paidAt), createdAt: new Date(posted.createdAt) };
}

/** Family credit applied to one of the family's invoices: credit_applications row, paid_amount +=, credit_balance −=. */
export async function applyCredit(
  trx: Tx,
  c: { schoolId: string; familyId: string; invoiceId: string; amount: number; createdBy: string | null },
): Promise<{ id: string; invoice: SettledInvoice }> {
  positive('credit applied', c.amount);
  const { rows } = await sql<{ id: string; invoice: SettledInvoice | null; families: number }>`
    with application as (
      insert into credit_applications (school_id, family_id, invoice_id, amount, created_by)
      values (${c.schoolId}, ${c.familyId}, ${c.invoiceId}, ${c.amount}, ${c.createdBy})
      returning id
    ),
    fam as (
      update families set credit_balance = credit_balance - ${c.amount}::bigint
       where school_id = ${c.schoolId} and id = ${c.familyId}
      returning id
    ),
    inv as (
      update invoices
         set paid_amount = invoices.paid_amount + ${c.amount}::bigint, updated_at = now()
        from schools
       where schools.id = invoices.school_id and invoices.school_id = ${c.schoolId} and invoices.id = ${c.invoiceId}
         and ${ofFamily(c.schoolId, c.familyId)}
      returning ${settledColumns}
    )
    select application.id, (select to_json(inv) from inv) as invoice, (select count(*) from fam)::int as families from application`.execute(trx);
  const row = rows[0];
  if (row === undefined || row.invoice === null || row.families !== 1) {
    throw new LedgerError(`credit of family ${c.familyId} applied to invoice ${c.invoiceId}: not the family's invoice in school ${c.schoolId}`);
  }
  await publishIfPaid(trx, [{ schoolId: c.schoolId, id: c.invoiceId }]);
  return { id: row.id, invoice: row.invoice };
}

async function postAdjustment(trx: Tx, kind: 'credit_note' | 'write_off' | 'waiver', a: AdjustmentInput): Promise<PostedAdjustment> {
  positive(`${kind.replace('_', ' ')} amount`, a.amount);
  // The invoice first (its triggers take the school's billing_versions row, as every
  // posting does first), the credit-note counter last.
  const invoice = await settle(trx, a.schoolId, a.invoiceId, a.amount, a.amount);
  const number =
    kind === 'credit_note'
      ? sql`(select 'CN-' || lpad(n.last_number::text, greatest(6, length(n.last_number::text)), '0') from counter n)`
      : sql`null::text`;
  const counter =
    kind === 'credit_note'
      ? sql`counter as (
          insert into credit_note_counters as c (school_id, last_number) values (${a.schoolId}, 1)
          on conflict (school_id) do update set last_number = c.last_number + 1
          returning last_number
        ),`
      : sql``;
  const { rows } = await sql<{ id: string; number: string | null; createdAt: Date }>`
    with ${counter}
    adjustment as (
      insert into invoice_adjustments (school_id, invoice_id, kind, amount, reason, number, created_by)
      values (${a.schoolId}, ${a.invoiceId}, ${kind}, ${a.amount}, ${a.reason}, ${number}, ${a.createdBy})
      returning id, number, created_at
    )
    select id, number, created_at as "createdAt" from adjustment`.execute(trx);
  const row = rows[0];
  if (row === undefined) {
    throw new LedgerError('insert into invoice_adjustments returned no row');
  }
  return { ...row, invoice };
}

/** A credit note (a fee correction, numbered CN-NNNNNN per school): paid_amount += and credited_amount += amount. */
export async function postCreditNote(trx: Tx, a: AdjustmentInput): Promise<PostedAdjustment & { number: string }> {
  const posted = await postAdjustment(trx, 'credit_note', a);
  await publishCreditNote(trx, { schoolId: a.schoolId, id: posted.id });
  await publishIfPaid(trx, [{ schoolId: a.schoolId, id: a.invoiceId }]);
  return { ...posted, number: posted.number ?? '' };
}

/** A write-off (bad debt): like a credit note, without a number. */
export function postWriteOff(trx: Tx, a: AdjustmentInput): Promise<PostedAdjustment> {
  return postAdjustment(trx, 'write_off', a);
}

/** A late fee forgiven (on a late-fee invoice; the service checks): like a write-off, kind waiver. */
export function postWaiver(trx: Tx, a: AdjustmentInput): Promise<PostedAdjustment> {
  return postAdjustment(trx, 'waiver', a);
}

// ------------------------------------------------------------------------------ late fees

export interface PostedLateFee {
  /** The overdue invoice charged for. */
  invoiceId: string;
  /** Its late-fee invoice (kind late_fee), created by the first posting. */
  lateFeeInvoiceId: string;
  amount: number;
}

/**
 * A school day's late fees by the school's policy (migration 0021's
 * ledger_post_late_fees, one statement): for each regular invoice open past its due
 * date and grace, a late_fee line on its late-fee invoice (created on the first
 * posting), never beyond the cap, once per billing key (once per invoice for fixed and
 * percent fees, once per invoice and day for daily interest). Runs of one school
 * serialise; a re-run of a day posts nothing. No policy, or a disabled one: nothing.
 */
export async function postLateFees(trx: Tx, d: { schoolId: string; day: string }): Promise<PostedLateFee[]> {
  const { rows } = await sql<PostedLateFee>`
    select invoice_id as "invoiceId", late_fee_invoice_id as "lateFeeInvoiceId", amount
      from ledger_post_late_fees(${d.schoolId}::uuid, ${d.day}::date)`.execute(trx);
  return rows;
}
