import type { Db, Tx } from '../../db/database.js';
import type { PaymentMethod } from '../../db/types.js';
import { systemClock, type Clock } from '../../shared/clock.js';
import { type Actor, requirePrincipal } from '../../shared/context.js';
import { AppError, notFound, unprocessable } from '../../shared/errors.js';
import { cursorPart, decodeCursorOf, toPage, type Page } from '../../shared/pagination.js';
import type { Scope } from '../../shared/scope.js';
import { isCurrency, isTimeZone } from '../../shared/time.js';
import { recordAudit } from '../audit/audit.repository.js';
import { postCreditNote, postInvoice, postInvoiceLine, postRefund, publishPaymentEvents, postWaiver, postWriteOff, voidInvoice, type SettledInvoice } from '../ledger/ledger.js';
import { holdFamilyForStudent } from '../families/membership.js';
import type {
  Adjustment,
  CreateAdjustmentBody,
  CreateInvoiceBody,
  CreatePaymentBody,
  CreateRefundBody,
  CreateSchoolBody,
  CreateStudentBody,
  InvoiceListQuery,
  PatchInvoiceBody,
  PatchSchoolBody,
  PatchStudentBody,
  PaymentListQuery,
  SchoolListQuery,
  StudentListQuery,
} from './billing.schemas.js';
import { requestHash, runIdempotent, type IdempotentResult } from './idempotency.js';
import { moneyCallError, runMoneyCall } from './money-calls.js';
import type { InvoiceRow, InvoicesRepository } from './invoices.repository.js';
import { presentPayment, type PaymentRow, type PaymentsRepository, type RecordPaymentInput, type RefundRow } from './payments.repository.js';
import type { SchoolRow, SchoolsRepository } from './schools.repository.js';
import type { StudentRow, StudentsRepository } from './students.repository.js';
import type { LiveWaker } from '../live/wake.js';

export interface BillingDeps {
  db: Db;
  schools: SchoolsRepository;
  students: StudentsRepository;
  invoices: InvoicesRepository;
  payments: PaymentsRepository;
  /** What "now" is for a payment's default paidAt and the future check (`bursar simulate` moves it). */
  clock?: Clock;
  /** Wakes the live hubs after a payment in its own transaction commits (migration 0036); without it the transactions trigger does, in the transaction. */
  live?: LiveWaker;
}

/** The invoice after a payment or refund: what changed on it. */
export type InvoiceAfter = Pick<InvoiceRow, 'id' | 'status' | 'paidAmount' | 'pendingAmount'>;

/** The invoice's figures after a posting, as the API shows them (paidAmount: cash, net of credit notes and write-offs). */
function invoiceAfter(settled: SettledInvoice): InvoiceAfter {
  return { id: settled.id, status: settled.status, paidAmount: settled.paidAmount - settled.creditedAmount, pendingAmount: settled.pendingAmount };
}

/** POST /payments answers the payment it created, its receipt number and the invoice it changed as `invoice` (SPEC §3, §7). */
export type PaymentReceipt = PaymentRow & { invoice: InvoiceAfter };

/** POST /payments/:id/refunds answers the refund, with the refunded payment and the invoice it changed. */
export type RefundReceipt = RefundRow & { payment: PaymentRow; invoice: InvoiceAfter };

/**
 * Responses stored for an Idempotency-Key before the receipts took this shape were
 * `{payment, invoice}` and `{refund, payment, invoice}`; a replay answers the current
 * shape whatever was stored. Keys live 24 hours, so this only matters for a day after
 * the upgrade.
 */
function currentShape<T extends PaymentReceipt | RefundReceipt>(body: T): T {
  const stored = body as unknown as { id?: unknown; payment?: PaymentRow; refund?: RefundRow; invoice: InvoiceAfter };
  // Payments stored before receipts existed answer receiptNumber null.
  const withReceipt = (payment: Omit<PaymentRow, 'receiptNumber'> | undefined) => (payment === undefined ? payment : { receiptNumber: null, ...payment });
  if (stored.id !== undefined) {
    return ('paymentId' in stored ? { ...body, payment: withReceipt(stored.payment) } : { receiptNumber: null, ...body });
  }
  if (stored.refund) {
    return { ...stored.refund, payment: withReceipt(stored.payment), invoice: stored.invoice } as unknown as T;
  }
  return { ...withReceipt(stored.payment), invoice: stored.invoice } as unknown as T;
}

/** A receipt for the caller: the payment's reference masked by their role, its instants as Dates. */
function presentReceipt(receipt: PaymentReceipt, scope: Scope): PaymentReceipt {
  return { ...presentPayment({ ...receipt, paidAt: new Date(receipt.paidAt), createdAt: new Date(receipt.createdAt) }, scope), invoice: receipt.invoice };
}

/** record_payment's refusals (SQLSTATE class BF, migration 0031) as the API's errors; anything else as it is. */
function paymentError(error: unknown, amount: number): unknown {
  const pg = error as { code?: unknown; detail?: unknown };
  if (pg.code === 'BFCAN') {
    return new AppError('INVOICE_CANCELLED', 'the invoice is cancelled and takes no payments', {
      errors: [{ field: 'invoiceId', in: 'body', message: 'invoice is cancelled' }],
    });
  }
  if (pg.code === 'BFOVR') {
    const pending = String(pg.detail);
    return new AppError('OVERPAYMENT', `amount ${amount} exceeds the ${pending} still owed`, {
      errors: [{ field: 'amount', in: 'body', message: `must not exceed the pending amount ${pending}` }],
    });
  }
  return moneyCallError(error, 'invoice');
}

/** A payment attempt the gateway declined (see recordFailedAttempt). */
export interface FailedAttempt {
  invoiceId: string;
  amount: number;
  method: PaymentMethod;
  failureCode: string;
  failureMessage?: string | null;
  gateway?: string;
}

export interface FailedAttemptReceipt {
  transactionId: string;
  invoiceId: string;
  schoolId: string;
}

export interface MoneyRequest {
  idempotencyKey: string;
  path: string;
}

/**
 * The demo simulator's way through this service (src/modules/simulator); no route ever
 * passes one. A simulated write is admitted only if, inside its transaction and under
 * the invoice's row lock, the school is a demo school with simulated traffic on and the
 * invoice (when there is one yet) was never created or changed by a person
 * (schools.simulatorMayAct); it is then declared the demo's, so the invoice stays demo
 * data (invoices.declareDemoWriter). Any other write — every API request — marks the
 * invoices it creates or changes as touched by a person (trigger, migration 0012).
 * `confirm` runs last in the same transaction: the simulator records its business key
 * there (a monthly bill); throwing from it rolls the whole write back.
 */
export interface SimulatedWrite {
  confirm?: (trx: Tx, invoice: { id: string; schoolId: string; studentId: string }) => Promise<void>;
}

export type BillingService = ReturnType<typeof createBillingService>;

/** Allowed clock skew for a client-supplied paidAt. */
const FUTURE_TOLERANCE_MS = 5 * 60_000;

/**
 * How far before a school's registration in Bursar a payment may be dated: the school
 * year that was under way when it switched (a cheque from last spring), not the books
 * of the system Bursar replaced. Together with the schema's 2000-01-01 floor and the
 * 5-minute future tolerance, the sane window of paidAt.
 */
const PAID_BEFORE_REGISTRATION_DAYS = 366;

const afterId = (cursor: string | undefined) => (cursor ? decodeCursorOf(cursor, [cursorPart.uuid])[0] : undefined);
const byId = (row: { id: string }) => [row.id];

function checkSchoolValues(values: { currency?: string; timezone?: string }): void {
  if (values.currency !== undefined && !isCurrency(values.currency)) {
    throw new AppError('VALIDATION_FAILED', `${values.currency} is not an ISO 4217 currency`, {
      errors: [{ field: 'currency', in: 'body', message: 'is not an ISO 4217 currency code' }],
    });
  }
  if (values.timezone !== undefined && !isTimeZone(values.timezone)) {
    throw new AppError('VALIDATION_FAILED', `${values.timezone} is not an IANA time zone`, {
      errors: [{ field: 'timezone', in: 'body', message: 'is not an IANA time zone (e.g. America/Mexico_City)' }],
    });
  }
}

/**
 * Schools, students, invoices, payments and refunds. Every read and write goes through
 * the caller's scope (their schools, their PII visibility) in the repositories; every
 * write is one transaction with its audit entry; every money movement locks its
 * invoice row first, so concurrent payments and refunds on one invoice serialise and
 * can never overpay or over-refund.
 */
export function createBillingService(deps: BillingDeps) {
  const { db, schools, students, invoices, payments } = deps;
  const clock = deps.clock ?? systemClock;

  async function visibleSchool(trx: Db | Tx, scope: Scope, id: string, forUpdate = false): Promise<SchoolRow> {
    const school = await schools.findById(trx, scope, id, { forUpdate });
    if (!school) {
      throw notFound('school');
    }
    return school;
  }

  async function visibleStudent(trx: Db | Tx, scope: Scope, id: string): Promise<StudentRow> {
    const student = await students.findById(trx, scope, id);
    if (!student) {
      throw notFound('student');
    }
    return student;
  }

  async function visibleInvoice(trx: Db | Tx, scope: Scope, id: string, forUpdate = false): Promise<InvoiceRow> {
    const invoice = await invoices.findById(trx, scope, id, { forUpdate });
    if (!invoice) {
      throw notFound('invoice');
    }
    return invoice;
  }

  /**
   * What a waiver of `id` waives: the invoice itself when it is a late-fee invoice, else
   * its live late-fee invoice (an overdue invoice's late fees are on their own invoice,
   * SPEC §8). 404 when the caller may not see it; 422 NOT_A_LATE_FEE when it has none.
   */
  async function lateFeeInvoiceOf(trx: Tx, scope: Scope, id: string): Promise<string> {
    const invoice = await visibleInvoice(trx, scope, id);
    if (invoice.kind === 'late_fee') {
      return invoice.id;
    }
    const fees = await invoices.findLateFeeInvoice(trx, invoice);
    if (fees === undefined) {
      throw new AppError('NOT_A_LATE_FEE', `invoice ${invoice.number} has no late fees to waive (use a credit note to reduce a fee)`);
    }
    return fees.id;
  }

  /** See SimulatedWrite: refuses unless the simulator may act here, then declares the transaction the demo's. */
  async function admitSimulated(trx: Tx, simulated: SimulatedWrite | undefined, target: { schoolId: string; invoiceId?: string }): Promise<void> {
    if (!simulated) {
      return;
    }
    if (!(await schools.simulatorMayAct(trx, target))) {
      throw new AppError('FORBIDDEN', 'the demo simulator acts only on demo schools with simulated traffic on, never on an invoice a person created or changed');
    }
    await invoices.declareDemoWriter(trx);
  }

  /** One invoice with its lines, for single-invoice answers. */
  async function invoiceDetail(trx: Db | Tx, scope: Scope, id: string): Promise<InvoiceRow> {
    const invoice = await invoices.findDetailById(trx, scope, id);
    if (!invoice) {
      throw notFound('invoice');
    }
    return invoice;
  }

  async function visiblePayment(trx: Db | Tx, scope: Scope, id: string): Promise<PaymentRow> {
    const payment = await payments.findById(trx, scope, id);
    if (!payment) {
      throw notFound('payment');
    }
    return payment;
  }

  return {
    // ---------------------------------------------------------------- schools
    async listSchools(scope: Scope, query: SchoolListQuery & { limit: number }): Promise<Page<SchoolRow>> {
      const rows = await schools.list(db, scope, { limit: query.limit, afterId: afterId(query.cursor), q: query.q });
      return toPage(rows, query.limit, byId);
    },

    getSchool: (scope: Scope, id: string) => visibleSchool(db, scope, id),

    async createSchool(actor: Actor, body: CreateSchoolBody): Promise<SchoolRow> {
      const scope = requirePrincipal(actor);
      checkSchoolValues(body);
      return db.transaction().execute(async (trx) => {
        const id = await schools.insert(trx, body);
        const school = await visibleSchool(trx, scope, id);
        await recordAudit(trx, actor, { action: 'school.create', entityType: 'school', entityId: id, schoolId: id, changes: { ...body } });
        return school;
      });
    },

    /** PUT replaces every editable field (omitted optional ones reset); PATCH changes the given ones. */
    async updateSchool(actor: Actor, id: string, body: PatchSchoolBody, mode: 'replace' | 'patch'): Promise<SchoolRow> {
      const scope = requirePrincipal(actor);
      checkSchoolValues(body);
      const values =
        mode === 'replace'
          ? { address: null, phone: null, email: null, currency: 'MXN', timezone: 'America/Mexico_City', language: null, isActive: true, publicStatements: false, ...body }
          : body;
      return db.transaction().execute(async (trx) => {
        const before = await visibleSchool(trx, scope, id, true);
        if (values.simulatorEnabled !== undefined && !before.isDemo) {
          throw unprocessable('simulatorEnabled', 'only a demo school has simulated traffic to switch');
        }
        if (values.currency !== undefined && values.currency !== before.currency && (await schools.hasInvoices(trx, id))) {
          throw new AppError('CONFLICT', 'the currency of a school with invoices cannot change: its amounts are in that currency', {
            errors: [{ field: 'currency', in: 'body', message: 'cannot change once the school has invoices' }],
          });
        }
        // A new currency (only before the first invoice: setting the school up) brings its
        // language too, unless the same request names one.
        const currencyChanged = values.currency !== undefined && values.currency !== before.currency;
        await schools.update(trx, id, currencyChanged && values.language === undefined ? { ...values, language: null } : values);
        const after = await visibleSchool(trx, scope, id);
        await recordAudit(trx, actor, { action: 'school.update', entityType: 'school', entityId: id, schoolId: id, changes: { ...body } });
        return after;
      });
    },

    async deleteSchool(actor: Actor, id: string): Promise<void> {
      const scope = requirePrincipal(actor);
      await db.transaction().execute(async (trx) => {
        await visibleSchool(trx, scope, id, true);
        if (await invoices.hasOutstanding(trx, { schoolId: id })) {
          throw new AppError('CONFLICT', 'the school has invoices still owed; settle or cancel them first');
        }
        await schools.softDelete(trx, id);
        await recordAudit(trx, actor, { action: 'school.delete', entityType: 'school', entityId: id, schoolId: id });
      });
    },

    // ---------------------------------------------------------------- students
    async listStudents(scope: Scope, query: StudentListQuery & { limit: number }): Promise<Page<StudentRow>> {
      if (query.schoolId !== undefined) {
        await visibleSchool(db, scope, query.schoolId);
      }
      const rows = await students.list(db, scope, {
        limit: query.limit,
        afterId: afterId(query.cursor),
        schoolId: query.schoolId,
        grade: query.grade,
        isActive: query.isActive,
      });
      return toPage(rows, query.limit, byId);
    },

    getStudent: (scope: Scope, id: string) => visibleStudent(db, scope, id),

    async createStudent(actor: Actor, body: CreateStudentBody): Promise<StudentRow> {
      const scope = requirePrincipal(actor);
      return db.transaction().execute(async (trx) => {
        await visibleSchool(trx, scope, body.schoolId);
        if (body.familyId !== undefined && body.familyId !== null) {
          await holdFamilyForStudent(trx, body.schoolId, body.familyId);
        }
        const id = await students.insert(trx, body.schoolId, body);
        const student = await visibleStudent(trx, scope, id);
        await recordAudit(trx, actor, { action: 'student.create', entityType: 'student', entityId: id, schoolId: body.schoolId, changes: { ...body } });
        return student;
      });
    },

    async updateStudent(actor: Actor, id: string, body: PatchStudentBody, mode: 'replace' | 'patch'): Promise<StudentRow> {
      const scope = requirePrincipal(actor);
      const values = mode === 'replace' ? { email: null, isActive: true, ...body } : body;
      return db.transaction().execute(async (trx) => {
        const before = await visibleStudent(trx, scope, id);
        if (values.familyId !== undefined && values.familyId !== null && values.familyId !== before.familyId) {
          await holdFamilyForStudent(trx, before.schoolId, values.familyId, id);
        }
        await students.update(trx, id, values);
        const after = await visibleStudent(trx, scope, id);
        await recordAudit(trx, actor, { action: 'student.update', entityType: 'student', entityId: id, schoolId: before.schoolId, changes: { ...body } });
        return after;
      });
    },

    async deleteStudent(actor: Actor, id: string): Promise<void> {
      const scope = requirePrincipal(actor);
      await db.transaction().execute(async (trx) => {
        const student = await visibleStudent(trx, scope, id);
        if (await invoices.hasOutstanding(trx, { studentId: id })) {
          throw new AppError('CONFLICT', 'the student still owes invoices; settle or cancel them first');
        }
        await students.softDelete(trx, id);
        await recordAudit(trx, actor, { action: 'student.delete', entityType: 'student', entityId: id, schoolId: student.schoolId });
      });
    },

    // ---------------------------------------------------------------- invoices
    async listInvoices(scope: Scope, query: InvoiceListQuery & { limit: number }): Promise<Page<InvoiceRow>> {
      if (query.schoolId !== undefined) {
        await visibleSchool(db, scope, query.schoolId);
      }
      if (query.studentId !== undefined) {
        await visibleStudent(db, scope, query.studentId);
      }
      if (query.dueFrom !== undefined && query.dueTo !== undefined && query.dueFrom > query.dueTo) {
        throw new AppError('VALIDATION_FAILED', 'dueFrom is after dueTo', {
          errors: [{ field: 'dueFrom', in: 'querystring', message: 'must not be after dueTo' }],
        });
      }
      const rows = await invoices.list(db, scope, { ...query, afterId: afterId(query.cursor) });
      return toPage(rows, query.limit, byId);
    },

    getInvoice: (scope: Scope, id: string) => invoiceDetail(db, scope, id),

    async createInvoice(actor: Actor, body: CreateInvoiceBody, simulated?: SimulatedWrite): Promise<InvoiceRow> {
      const scope = requirePrincipal(actor);
      return db.transaction().execute(async (trx) => {
        const student = await visibleStudent(trx, scope, body.studentId);
        if (!student.isActive) {
          throw new AppError('BUSINESS_RULE_VIOLATION', 'the student is not active', {
            errors: [{ field: 'studentId', in: 'body', message: 'student is not active' }],
          });
        }
        await admitSimulated(trx, simulated, { schoolId: student.schoolId });
        const number = body.number ?? (await invoices.nextNumber(trx, student.schoolId));
        const description = body.description ?? null;
        // One charge line (SPEC §7: an invoice created directly is one charge line).
        const { id } = await postInvoice(trx, {
          schoolId: student.schoolId,
          studentId: student.id,
          number,
          description,
          dueDate: body.dueDate,
          lines: [{ kind: 'charge', code: 'fee', description: description !== null && description.trim() !== '' ? description : number, amount: body.amount }],
        });
        const invoice = await invoiceDetail(trx, scope, id);
        await recordAudit(trx, actor, { action: 'invoice.create', entityType: 'invoice', entityId: id, schoolId: student.schoolId, changes: { ...body, number } });
        await simulated?.confirm?.(trx, { id, schoolId: student.schoolId, studentId: student.id });
        return invoice;
      });
    },

    async updateInvoice(actor: Actor, id: string, body: PatchInvoiceBody): Promise<InvoiceRow> {
      const scope = requirePrincipal(actor);
      return db.transaction().execute(async (trx) => {
        const before = await visibleInvoice(trx, scope, id, true);
        if (before.status === 'CANCELLED') {
          throw new AppError('INVOICE_CANCELLED', 'a cancelled invoice cannot be changed');
        }
        // Settled: cash paid, credit applied, credit notes and write-offs (amount − pending).
        const settled = before.amount - before.pendingAmount;
        if (body.amount !== undefined && body.amount < settled) {
          throw new AppError('BUSINESS_RULE_VIOLATION', `amount cannot drop below what is already settled (${settled})`, {
            errors: [{ field: 'amount', in: 'body', message: `must be at least the settled amount ${settled}` }],
          });
        }
        if (body.amount !== undefined && body.amount !== before.amount) {
          // The amount changes by a correction line (lines are never updated): a charge
          // for an increase, a discount for a decrease.
          const delta = body.amount - before.amount;
          await postInvoiceLine(trx, {
            schoolId: before.schoolId,
            invoiceId: id,
            line: {
              kind: delta > 0 ? 'charge' : 'discount',
              code: 'correction',
              description: `Correction of the amount from ${before.amount} to ${body.amount}`,
              amount: delta,
            },
          });
        }
        const { amount: _amount, ...rest } = body;
        if (Object.keys(rest).length > 0) {
          await invoices.update(trx, id, rest);
        }
        const after = await invoiceDetail(trx, scope, id);
        await recordAudit(trx, actor, {
          action: 'invoice.update',
          entityType: 'invoice',
          entityId: id,
          schoolId: before.schoolId,
          changes: Object.fromEntries(Object.entries(body).map(([field, value]) => [field, { from: before[field as keyof typeof before], to: value }])),
        });
        return after;
      });
    },

    /** DELETE = cancel, allowed only while nothing is paid (net of refunds). Cancelling twice is a no-op. */
    async cancelInvoice(actor: Actor, id: string): Promise<InvoiceRow> {
      const scope = requirePrincipal(actor);
      return db.transaction().execute(async (trx) => {
        const invoice = await visibleInvoice(trx, scope, id, true);
        if (invoice.status === 'CANCELLED') {
          return invoiceDetail(trx, scope, id);
        }
        const settled = invoice.amount - invoice.pendingAmount;
        if (settled > 0) {
          throw new AppError('INVOICE_HAS_PAYMENTS', `the invoice has ${settled} settled; refund the payments before cancelling it`);
        }
        // Its late fees go with it: cancelled while nothing of them is settled, else what is
        // still open is waived (what was paid stays paid; a refund is the bursar's call).
        // The late-fee invoice's row is locked before the first write, as a family payment
        // locks both (by due date: the fee is due later).
        const fees = invoice.kind === 'regular' ? await invoices.findLateFeeInvoice(trx, invoice, { forUpdate: true }) : undefined;
        await voidInvoice(trx, { schoolId: invoice.schoolId, invoiceId: id });
        await recordAudit(trx, actor, { action: 'invoice.cancel', entityType: 'invoice', entityId: id, schoolId: invoice.schoolId });
        if (fees !== undefined && fees.paidAmount === 0) {
          await voidInvoice(trx, { schoolId: invoice.schoolId, invoiceId: fees.id });
          await recordAudit(trx, actor, { action: 'invoice.cancel', entityType: 'invoice', entityId: fees.id, schoolId: invoice.schoolId, changes: { lateFeesOf: id } });
        } else if (fees !== undefined && fees.amount > fees.paidAmount) {
          const reason = `invoice ${invoice.number} cancelled`;
          const waiver = await postWaiver(trx, { schoolId: invoice.schoolId, invoiceId: fees.id, amount: fees.amount - fees.paidAmount, reason, createdBy: scope.userId });
          await recordAudit(trx, actor, {
            action: 'invoice.waiver',
            entityType: 'invoice_adjustment',
            entityId: waiver.id,
            schoolId: invoice.schoolId,
            changes: { invoiceId: fees.id, kind: 'waiver', amount: fees.amount - fees.paidAmount, reason, lateFeesOf: id },
          });
        }
        return invoiceDetail(trx, scope, id);
      });
    },

    async listStudentInvoices(scope: Scope, studentId: string, query: { limit: number; cursor?: string }): Promise<Page<InvoiceRow>> {
      await visibleStudent(db, scope, studentId);
      const rows = await invoices.list(db, scope, { limit: query.limit, afterId: afterId(query.cursor), studentId });
      return toPage(rows, query.limit, byId);
    },

    // ---------------------------------------------------------------- payments
    async listPayments(scope: Scope, query: PaymentListQuery & { limit: number }): Promise<Page<PaymentRow>> {
      if (query.schoolId !== undefined) {
        await visibleSchool(db, scope, query.schoolId);
      }
      const rows = await payments.list(db, scope, { ...query, afterId: afterId(query.cursor) });
      return toPage(rows, query.limit, byId);
    },

    async listInvoicePayments(scope: Scope, invoiceId: string, query: { limit: number; cursor?: string }): Promise<Page<PaymentRow>> {
      await visibleInvoice(db, scope, invoiceId);
      const rows = await payments.list(db, scope, { limit: query.limit, afterId: afterId(query.cursor), invoiceId });
      return toPage(rows, query.limit, byId);
    },

    getPayment: (scope: Scope, id: string) => visiblePayment(db, scope, id),

    /**
     * Records money received against an invoice in one call: record_payment (migration
     * 0031) claims the key (or answers the stored response), locks the invoice, refuses
     * cancelled invoices and any amount above what is still owed (after an early-payment
     * discount it earns), posts the payment, its succeeded gateway transaction, the new
     * paid amount and the receipt, writes the audit entry and stores the answer. When
     * nothing must be written with it (no `alongside`, no `within`, no webhook endpoint
     * listening to payment events) that call is the whole transaction, one round trip;
     * otherwise its webhook events and `alongside` follow it in the same transaction.
     * The stored answer is raw; it is masked here for the caller, on a replay too.
     */
    async recordPayment(
      actor: Actor,
      body: CreatePaymentBody,
      request: MoneyRequest,
      simulated?: SimulatedWrite,
      /** Runs in the payment's transaction once it is posted, not on a replay (a gateway's record of it: src/modules/gateway). */
      alongside?: (trx: Tx, paymentId: string) => Promise<void>,
      /** The caller's transaction to record it in (a batch: src/modules/reconciliation); its own otherwise. */
      within?: Tx,
    ): Promise<IdempotentResult<PaymentReceipt>> {
      const principal = requirePrincipal(actor);
      const now = clock.now();
      const paidAt = body.paidAt === undefined ? new Date(now) : new Date(body.paidAt);
      if (paidAt.getTime() > now + FUTURE_TOLERANCE_MS) {
        throw new AppError('VALIDATION_FAILED', 'paidAt is in the future', {
          errors: [{ field: 'paidAt', in: 'body', message: 'must not be in the future' }],
        });
      }
      if (!Number.isSafeInteger(body.amount) || body.amount <= 0) {
        throw unprocessable('amount', 'must be a positive amount of minor units');
      }
      const input: RecordPaymentInput = {
        user: { id: principal.userId, username: principal.username },
        requestId: actor.requestId ?? null,
        idempotency: { key: request.idempotencyKey, path: request.path, hash: requestHash({ method: 'POST', path: request.path, body }) },
        schoolIds: principal.schoolIds,
        invoiceId: body.invoiceId,
        amount: body.amount,
        method: body.method,
        reference: body.reference ?? null,
        paidAt,
        paidAtGiven: body.paidAt !== undefined,
        window: `${PAID_BEFORE_REGISTRATION_DAYS} days`,
        demo: simulated !== undefined,
        wakeAfterCommit: within === undefined && deps.live !== undefined,
      };
      const result = await runMoneyCall(db, {
        within,
        // Nothing to write with it: its own transaction in one round trip, unless someone listens to its events.
        alone: alongside === undefined ? (handle) => payments.recordAlone(handle, input) : undefined,
        inTransaction: async (trx) => {
          const recorded = await payments.record(trx, input);
          if (!recorded.replayed) {
            if (recorded.subscribed) {
              await publishPaymentEvents(trx, recorded.body.schoolId, [{ paymentId: recorded.body.id, invoiceId: recorded.body.invoiceId }]);
            }
            await alongside?.(trx, recorded.body.id);
          }
          return recorded;
        },
        refusal: (error) => paymentError(error, body.amount),
      });
      if (within === undefined && !result.replayed) {
        deps.live?.wake();
      }
      return { status: result.status, body: presentReceipt(currentShape(result.body as unknown as PaymentReceipt), principal), replayed: result.replayed };
    },

    /**
     * A refund is a linked negative movement: never more than what remains refundable
     * on the payment, checked under the invoice's row lock (the same lock payments
     * take), and it moves the invoice back (PAID → PARTIAL → PENDING/OVERDUE).
     */
    refundPayment(actor: Actor, paymentId: string, body: CreateRefundBody, request: MoneyRequest, simulated?: SimulatedWrite): Promise<IdempotentResult<RefundReceipt>> {
      const principal = requirePrincipal(actor);
      return runIdempotent<RefundReceipt>(
        db,
        { userId: principal.userId, key: request.idempotencyKey, method: 'POST', path: request.path, body },
        async (trx) => {
          const found = await visiblePayment(trx, principal, paymentId);
          await visibleInvoice(trx, principal, found.invoiceId, true);
          await admitSimulated(trx, simulated, { schoolId: found.schoolId, invoiceId: found.invoiceId });
          // Re-read after taking the lock: a concurrent refund may have committed meanwhile.
          const payment = await visiblePayment(trx, principal, paymentId);
          const refundable = payment.amount - payment.refundedAmount;
          if (body.amount > refundable) {
            throw new AppError('REFUND_EXCEEDS_PAYMENT', `amount ${body.amount} exceeds the ${refundable} still refundable on this payment`, {
              errors: [{ field: 'amount', in: 'body', message: `must not exceed the refundable amount ${refundable}` }],
            });
          }
          const { invoice: after, ...refund } = await postRefund(trx, {
            schoolId: payment.schoolId,
            paymentId: payment.id,
            invoiceId: payment.invoiceId,
            amount: body.amount,
            reason: body.reason ?? null,
            createdBy: principal.userId,
          });
          await recordAudit(trx, actor, {
            action: 'refund.create',
            entityType: 'refund',
            entityId: refund.id,
            schoolId: payment.schoolId,
            changes: { paymentId: payment.id, amount: body.amount, reason: body.reason ?? null },
          });
          return {
            status: 201,
            body: { ...refund, payment: await visiblePayment(trx, principal, payment.id), invoice: invoiceAfter(after) },
          };
        },
      ).then((result) => ({ ...result, body: currentShape(result.body) }));
    },

    /**
     * A credit note (a fee correction) or a write-off (bad debt): reduces what the
     * invoice still owes without moving money (SPEC §7). Under the invoice's row lock,
     * like payments: never on a cancelled invoice (409), never above what is open (422
     * EXCEEDS_OPEN_AMOUNT naming amount), so concurrent ones can never over-credit.
     * Audited; replayed as-is for a repeated Idempotency-Key.
     */
    adjustInvoice(
      actor: Actor,
      invoiceId: string,
      kind: Adjustment['kind'],
      body: CreateAdjustmentBody,
      request: MoneyRequest,
    ): Promise<IdempotentResult<Adjustment>> {
      const principal = requirePrincipal(actor);
      const reason = body.reason.trim();
      const what = { credit_note: 'credit notes', write_off: 'write-offs', waiver: 'waivers' }[kind];
      return runIdempotent<Adjustment>(db, { userId: principal.userId, key: request.idempotencyKey, method: 'POST', path: request.path, body }, async (trx) => {
        const invoice = await visibleInvoice(trx, principal, kind === 'waiver' ? await lateFeeInvoiceOf(trx, principal, invoiceId) : invoiceId, true);
        if (invoice.status === 'CANCELLED') {
          throw new AppError('INVOICE_CANCELLED', `the invoice is cancelled and takes no ${what}`);
        }
        if (body.amount > invoice.pendingAmount) {
          throw new AppError('EXCEEDS_OPEN_AMOUNT', `amount ${body.amount} exceeds the ${invoice.pendingAmount} still open on the invoice`, {
            errors: [{ field: 'amount', in: 'body', message: `must not exceed the open amount ${invoice.pendingAmount}` }],
          });
        }
        const values = { schoolId: invoice.schoolId, invoiceId: invoice.id, amount: body.amount, reason, createdBy: principal.userId };
        const post = { credit_note: postCreditNote, write_off: postWriteOff, waiver: postWaiver }[kind];
        const posted = await post(trx, values);
        await recordAudit(trx, actor, {
          action: `invoice.${kind}`,
          entityType: 'invoice_adjustment',
          entityId: posted.id,
          schoolId: invoice.schoolId,
          changes: { invoiceId: invoice.id, kind, amount: body.amount, reason, number: posted.number },
        });
        const after = posted.invoice;
        return {
          status: 201,
          body: {
            id: posted.id,
            invoiceId: invoice.id,
            kind,
            amount: body.amount,
            reason,
            number: posted.number,
            createdAt: posted.createdAt.toISOString(),
            invoice: { id: after.id, status: after.status, paidAmount: after.paidAmount - after.creditedAmount, creditedAmount: after.creditedAmount, pendingAmount: after.pendingAmount },
          },
        };
      });
    },

    /**
     * A payment attempt the gateway declined: a `failed` transactions row (a live
     * payment_failed event and a line in the failures feed) and its audit entry. No
     * money moves and nothing about the invoice changes, so there is no idempotency key
     * and no row lock (but for the simulator's attempts, which must see a person's write in
     * flight); the invoice must be visible to the actor and not cancelled.
     */
    async recordFailedAttempt(actor: Actor, attempt: FailedAttempt, simulated?: SimulatedWrite): Promise<FailedAttemptReceipt> {
      const principal = requirePrincipal(actor);
      if (!Number.isSafeInteger(attempt.amount) || attempt.amount <= 0) {
        throw new AppError('VALIDATION_FAILED', 'amount must be a positive integer of minor units', {
          errors: [{ field: 'amount', in: 'body', message: 'must be a positive integer (minor units)' }],
        });
      }
      if (attempt.failureCode.trim() === '') {
        throw new AppError('VALIDATION_FAILED', 'failureCode is required', {
          errors: [{ field: 'failureCode', in: 'body', message: 'must not be empty' }],
        });
      }
      return db.transaction().execute(async (trx) => {
        // The simulator's attempt waits for a person's payment in flight on the invoice, then sees it.
        const invoice = await visibleInvoice(trx, principal, attempt.invoiceId, simulated !== undefined);
        await admitSimulated(trx, simulated, { schoolId: invoice.schoolId, invoiceId: invoice.id });
        if (invoice.status === 'CANCELLED') {
          throw new AppError('INVOICE_CANCELLED', 'the invoice is cancelled and takes no payments', {
            errors: [{ field: 'invoiceId', in: 'body', message: 'invoice is cancelled' }],
          });
        }
        const transactionId = await payments.insertTransaction(trx, {
          schoolId: invoice.schoolId,
          invoiceId: invoice.id,
          amount: attempt.amount,
          method: attempt.method,
          status: 'failed',
          failureCode: attempt.failureCode,
          ...(attempt.failureMessage ? { failureMessage: attempt.failureMessage } : {}),
          ...(attempt.gateway ? { gateway: attempt.gateway } : {}),
        });
        await recordAudit(trx, actor, {
          action: 'payment.fail',
          entityType: 'transaction',
          entityId: transactionId,
          schoolId: invoice.schoolId,
          changes: { invoiceId: invoice.id, amount: attempt.amount, method: attempt.method, failureCode: attempt.failureCode, gateway: attempt.gateway ?? null },
        });
        return { transactionId, invoiceId: invoice.id, schoolId: invoice.schoolId };
      });
    },
  };
}
