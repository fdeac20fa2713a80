import type { Db, Tx } from '../../db/database.js';
import type { PaymentMethod } from '../../db/types.js';
import type { Actor } from '../../shared/context.js';
import { AppError, notFound } from '../../shared/errors.js';
import { decodeCursor, toPage, type Page } from '../../shared/pagination.js';
import type { Principal } from '../../shared/policy.js';
import type { Scope } from '../../shared/scope.js';
import { isCurrency, isTimeZone } from '../../shared/time.js';
import { recordAudit } from '../audit/audit.repository.js';
import type {
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
import { runIdempotent, type IdempotentResult } from './idempotency.js';
import type { InvoiceRow, InvoicesRepository } from './invoices.repository.js';
import { presentPayment, type PaymentRow, type PaymentsRepository, type RefundRow } from './payments.repository.js';
import type { SchoolRow, SchoolsRepository } from './schools.repository.js';
import type { StudentRow, StudentsRepository } from './students.repository.js';

export interface BillingDeps {
  db: Db;
  schools: SchoolsRepository;
  students: StudentsRepository;
  invoices: InvoicesRepository;
  payments: PaymentsRepository;
}

export interface PaymentReceipt {
  payment: PaymentRow;
  invoice: Pick<InvoiceRow, 'id' | 'status' | 'paidAmount' | 'pendingAmount'>;
}

export interface RefundReceipt extends PaymentReceipt {
  refund: RefundRow;
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

export type BillingService = ReturnType<typeof createBillingService>;

/** Allowed clock skew for a client-supplied paidAt. */
const FUTURE_TOLERANCE_MS = 5 * 60_000;

const afterId = (cursor: string | undefined) => (cursor ? String(decodeCursor(cursor, 1)[0]) : undefined);
const byId = (row: { id: string }) => [row.id];

function requirePrincipal(actor: Actor): Principal {
  if (!actor.principal) {
    throw new AppError('UNAUTHENTICATED', 'authentication required');
  }
  return actor.principal;
}

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
          ? { address: null, phone: null, email: null, currency: 'MXN', timezone: 'America/Mexico_City', isActive: true, publicStatements: false, ...body }
          : body;
      return db.transaction().execute(async (trx) => {
        const before = await visibleSchool(trx, scope, id, true);
        if (values.currency !== undefined && values.currency !== before.currency && (await schools.hasInvoices(trx, id))) {
          throw new AppError('CONFLICT', 'the currency of a school with invoices cannot change: its amounts are in that currency', {
            errors: [{ field: 'currency', in: 'body', message: 'cannot change once the school has invoices' }],
          });
        }
        await schools.update(trx, id, values);
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

    getInvoice: (scope: Scope, id: string) => visibleInvoice(db, scope, id),

    async createInvoice(actor: Actor, body: CreateInvoiceBody): Promise<InvoiceRow> {
      const scope = requirePrincipal(actor);
      return db.transaction().execute(async (trx) => {
        const student = await visibleStudent(trx, scope, body.studentId);
        if (!student.isActive) {
          throw new AppError('BUSINESS_RULE_VIOLATION', 'the student is not active', {
            errors: [{ field: 'studentId', in: 'body', message: 'student is not active' }],
          });
        }
        const number = body.number ?? (await invoices.nextNumber(trx, student.schoolId));
        const id = await invoices.insert(trx, {
          schoolId: student.schoolId,
          studentId: student.id,
          number,
          amount: body.amount,
          dueDate: body.dueDate,
          description: body.description ?? null,
        });
        const invoice = await visibleInvoice(trx, scope, id);
        await recordAudit(trx, actor, { action: 'invoice.create', entityType: 'invoice', entityId: id, schoolId: student.schoolId, changes: { ...body, number } });
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
        if (body.amount !== undefined && body.amount < before.paidAmount) {
          throw new AppError('BUSINESS_RULE_VIOLATION', `amount cannot drop below what is already paid (${before.paidAmount})`, {
            errors: [{ field: 'amount', in: 'body', message: `must be at least the paid amount ${before.paidAmount}` }],
          });
        }
        await invoices.update(trx, id, body);
        const after = await visibleInvoice(trx, scope, id);
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
          return invoice;
        }
        if (invoice.paidAmount > 0) {
          throw new AppError('INVOICE_HAS_PAYMENTS', `the invoice has ${invoice.paidAmount} paid; refund the payments before cancelling it`);
        }
        await invoices.cancel(trx, id);
        await recordAudit(trx, actor, { action: 'invoice.cancel', entityType: 'invoice', entityId: id, schoolId: invoice.schoolId });
        return visibleInvoice(trx, scope, id);
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
     * Records money received against an invoice. Under the invoice's row lock: refuses
     * cancelled invoices and any amount above what is still owed, then writes the
     * payment, its succeeded gateway transaction, the new paid amount and the audit
     * entry — one transaction, replayed as-is for a repeated Idempotency-Key.
     */
    recordPayment(actor: Actor, body: CreatePaymentBody, request: MoneyRequest): Promise<IdempotentResult<PaymentReceipt>> {
      const principal = requirePrincipal(actor);
      const paidAt = body.paidAt === undefined ? new Date() : new Date(body.paidAt);
      if (paidAt.getTime() > Date.now() + FUTURE_TOLERANCE_MS) {
        throw new AppError('VALIDATION_FAILED', 'paidAt is in the future', {
          errors: [{ field: 'paidAt', in: 'body', message: 'must not be in the future' }],
        });
      }
      return runIdempotent(
        db,
        { userId: principal.userId, key: request.idempotencyKey, method: 'POST', path: request.path, body },
        async (trx) => {
          const invoice = await visibleInvoice(trx, principal, body.invoiceId, true);
          if (invoice.status === 'CANCELLED') {
            throw new AppError('INVOICE_CANCELLED', 'the invoice is cancelled and takes no payments', {
              errors: [{ field: 'invoiceId', in: 'body', message: 'invoice is cancelled' }],
            });
          }
          if (body.amount > invoice.pendingAmount) {
            throw new AppError('OVERPAYMENT', `amount ${body.amount} exceeds the ${invoice.pendingAmount} still owed`, {
              errors: [{ field: 'amount', in: 'body', message: `must not exceed the pending amount ${invoice.pendingAmount}` }],
            });
          }
          const inserted = await payments.insert(trx, {
            schoolId: invoice.schoolId,
            invoiceId: invoice.id,
            amount: body.amount,
            method: body.method,
            reference: body.reference ?? null,
            paidAt,
            createdBy: principal.userId,
          });
          const after = await invoices.addToPaid(trx, invoice.id, body.amount);
          await recordAudit(trx, actor, {
            action: 'payment.create',
            entityType: 'payment',
            entityId: inserted.id,
            schoolId: invoice.schoolId,
            changes: { invoiceId: invoice.id, amount: body.amount, method: body.method },
          });
          // Built from what was just written and the locked invoice, not read back.
          const payment = presentPayment(
            {
              id: inserted.id,
              invoiceId: invoice.id,
              schoolId: invoice.schoolId,
              studentId: invoice.studentId,
              amount: body.amount,
              refundedAmount: 0,
              currency: invoice.currency,
              method: body.method,
              reference: body.reference ?? null,
              paidAt: inserted.paidAt,
              createdAt: inserted.createdAt,
            },
            principal,
          );
          return { status: 201, body: { payment, invoice: after } };
        },
      );
    },

    /**
     * A refund is a linked negative movement: never more than what remains refundable
     * on the payment, checked under the invoice's row lock (the same lock payments
     * take), and it moves the invoice back (PAID → PARTIAL → PENDING/OVERDUE).
     */
    refundPayment(actor: Actor, paymentId: string, body: CreateRefundBody, request: MoneyRequest): Promise<IdempotentResult<RefundReceipt>> {
      const principal = requirePrincipal(actor);
      return runIdempotent(
        db,
        { userId: principal.userId, key: request.idempotencyKey, method: 'POST', path: request.path, body },
        async (trx) => {
          const found = await visiblePayment(trx, principal, paymentId);
          await visibleInvoice(trx, principal, found.invoiceId, true);
          // Re-read after taking the lock: a concurrent refund may have committed meanwhile.
          const payment = await visiblePayment(trx, principal, paymentId);
          const refundable = payment.amount - payment.refundedAmount;
          if (body.amount > refundable) {
            throw new AppError('REFUND_EXCEEDS_PAYMENT', `amount ${body.amount} exceeds the ${refundable} still refundable on this payment`, {
              errors: [{ field: 'amount', in: 'body', message: `must not exceed the refundable amount ${refundable}` }],
            });
          }
          const refund = await payments.insertRefund(trx, {
            schoolId: payment.schoolId,
            paymentId: payment.id,
            invoiceId: payment.invoiceId,
            amount: body.amount,
            reason: body.reason ?? null,
            createdBy: principal.userId,
          });
          await payments.insertTransaction(trx, {
            schoolId: payment.schoolId,
            invoiceId: payment.invoiceId,
            paymentId: payment.id,
            refundId: refund.id,
            amount: body.amount,
            method: payment.method,
            status: 'refunded',
          });
          const after = await invoices.addToPaid(trx, payment.invoiceId, -body.amount);
          await recordAudit(trx, actor, {
            action: 'refund.create',
            entityType: 'refund',
            entityId: refund.id,
            schoolId: payment.schoolId,
            changes: { paymentId: payment.id, amount: body.amount, reason: body.reason ?? null },
          });
          return {
            status: 201,
            body: { refund, payment: await visiblePayment(trx, principal, payment.id), invoice: after },
          };
        },
      );
    },

    /**
     * A payment attempt the gateway declined: a `failed` transactions row (a live
     * payment_failed event and a line in the failures feed) and its audit entry. No
     * money moves and nothing about the invoice changes, so there is no idempotency key
     * and no row lock; the invoice must be visible to the actor and not cancelled.
     */
    async recordFailedAttempt(actor: Actor, attempt: FailedAttempt): Promise<FailedAttemptReceipt> {
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
        const invoice = await visibleInvoice(trx, principal, attempt.invoiceId);
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
