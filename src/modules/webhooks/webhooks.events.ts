import { Type, type Static, type TSchema } from 'typebox';
import { maskEmail, maskPhone, maskReference } from '../../shared/masking.js';
import type { PiiVisibility } from '../../shared/policy.js';
import { DateOnly, Money, Timestamp, Uuid } from '../billing/billing.schemas.js';

/**
 * The events Bursar publishes (SPEC §9) and the versioned shape of each one's `data`
 * (version 1; a field is only ever added, never renamed, retyped or given another
 * meaning: a change of meaning is a new event type). Each schema is registered in the
 * OpenAPI document as `WebhookEvent.<type>.v1`. `data` is the object as the API shows it
 * to the endpoint owner's role: roles that see PII masked get it masked (`maskData`).
 */
export const EVENT_TYPES = [
  'invoice.created',
  'invoice.paid',
  'invoice.overdue',
  'payment.succeeded',
  'payment.failed',
  'refund.created',
  'credit_note.created',
  'reminder.sent',
  'bill_run.finished',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];
/** Sent only by POST /webhook-endpoints/:id/test, to that endpoint; no subscription needed. */
export const TEST_EVENT = 'endpoint.test';

const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);
const InvoiceStatus = Type.Union(['PENDING', 'PARTIAL', 'PAID', 'OVERDUE', 'CANCELLED'].map((s) => Type.Literal(s)));

const InvoiceData = Type.Object(
  {
    id: Uuid,
    schoolId: Uuid,
    studentId: Uuid,
    familyId: Nullable(Uuid),
    payerGuardianId: Nullable(Uuid),
    kind: Type.Union([Type.Literal('regular'), Type.Literal('late_fee')]),
    relatedInvoiceId: Nullable(Uuid),
    number: Type.String(),
    description: Nullable(Type.String()),
    amount: Money,
    paidAmount: Money,
    creditedAmount: Money,
    pendingAmount: Money,
    currency: Type.String(),
    status: InvoiceStatus,
    dueDate: DateOnly,
    createdAt: Timestamp,
    updatedAt: Timestamp,
    cancelledAt: Nullable(Timestamp),
  },
  { description: 'the invoice as GET /invoices lists it, at the time of the event' },
);

const PaymentData = Type.Object(
  {
    id: Uuid,
    invoiceId: Uuid,
    schoolId: Uuid,
    studentId: Uuid,
    amount: Money,
    refundedAmount: Money,
    currency: Type.String(),
    method: Type.String(),
    reference: Nullable(Type.String({ description: 'last 4 characters only when the owner’s role sees PII masked' })),
    paidAt: Timestamp,
    createdAt: Timestamp,
    receiptNumber: Nullable(Type.String()),
  },
  { description: 'the payment as GET /payments/:id shows it' },
);

const TransactionData = Type.Object(
  {
    id: Uuid,
    schoolId: Uuid,
    invoiceId: Nullable(Uuid),
    amount: Money,
    currency: Type.String(),
    method: Type.String(),
    status: Type.Literal('failed'),
    failureCode: Nullable(Type.String()),
    failureMessage: Nullable(Type.String()),
    gateway: Nullable(Type.String()),
    createdAt: Timestamp,
  },
  { description: 'the failed gateway transaction (a payment attempt that moved no money)' },
);

const RefundData = Type.Object({
  id: Uuid,
  paymentId: Uuid,
  invoiceId: Uuid,
  schoolId: Uuid,
  amount: Money,
  currency: Type.String(),
  reason: Nullable(Type.String()),
  createdAt: Timestamp,
});

const CreditNoteData = Type.Object({
  id: Uuid,
  invoiceId: Uuid,
  schoolId: Uuid,
  number: Type.String({ description: 'CN-NNNNNN, per school' }),
  amount: Money,
  currency: Type.String(),
  reason: Type.String(),
  createdAt: Timestamp,
});

const ReminderData = Type.Object({
  id: Uuid,
  schoolId: Uuid,
  familyId: Nullable(Uuid),
  invoiceId: Nullable(Uuid),
  guardianId: Nullable(Uuid),
  template: Nullable(Type.String()),
  channel: Type.Union([Type.Literal('email'), Type.Literal('sms'), Type.Literal('whatsapp')]),
  language: Type.String(),
  recipient: Type.String({ description: 'masked (j***@d***.com, ***78) when the owner’s role sees PII masked' }),
  subject: Nullable(Type.String({ description: 'null when the owner’s role sees PII masked' })),
  sentAt: Timestamp,
});

const BillRunData = Type.Object(
  {
    id: Uuid,
    schoolId: Uuid,
    through: DateOnly,
    status: Type.Literal('finished'),
    invoicesCreated: Type.Integer({ minimum: 0 }),
    linesCreated: Type.Integer({ minimum: 0 }),
    skipped: Type.Integer({ minimum: 0 }),
    createdAt: Nullable(Timestamp),
    startedAt: Nullable(Timestamp),
    finishedAt: Nullable(Timestamp),
  },
  { description: 'the bill run as GET /bill-runs/:id shows it (without totals and progress)' },
);

const TestData = Type.Object({ endpointId: Uuid, message: Type.String() });

export const EVENT_DATA: Record<EventType | typeof TEST_EVENT, TSchema> = {
  'invoice.created': InvoiceData,
  'invoice.paid': InvoiceData,
  'invoice.overdue': InvoiceData,
  'payment.succeeded': PaymentData,
  'payment.failed': TransactionData,
  'refund.created': RefundData,
  'credit_note.created': CreditNoteData,
  'reminder.sent': ReminderData,
  'bill_run.finished': BillRunData,
  [TEST_EVENT]: TestData,
};

/** The body of every webhook: `{type, timestamp, data}` (Standard Webhooks' payload structure). */
export const WEBHOOK_EVENT_SCHEMAS = Object.entries(EVENT_DATA).map(([type, data]) =>
  Type.Object(
    { type: Type.Literal(type), timestamp: Type.String({ format: 'date-time', description: 'when the change was committed' }), data },
    { $id: `WebhookEvent.${type}.v1`, description: `The body POSTed for ${type} (version 1)` },
  ),
);

export type WebhookBody = Static<(typeof WEBHOOK_EVENT_SCHEMAS)[number]>;

/** `data` as a role with this PII visibility may see it (SPEC §1 masks). */
export function maskData(type: string, data: Record<string, unknown>, pii: PiiVisibility): Record<string, unknown> {
  if (pii === 'clear') {
    return data;
  }
  switch (type) {
    case 'payment.succeeded':
      return { ...data, reference: typeof data.reference === 'string' ? maskReference(data.reference) : null };
    case 'reminder.sent': {
      const recipient = typeof data.recipient === 'string' ? data.recipient : '';
      return { ...data, recipient: data.channel === 'email' ? maskEmail(recipient) : maskPhone(recipient), subject: null };
    }
    default:
      // Invoices, transactions, refunds, credit notes, bill runs and tests carry ids and amounts, no PII.
      return data;
  }
}
