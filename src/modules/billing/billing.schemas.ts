import { Type, type Static } from 'typebox';
import { MAX_PAGE_SIZE, DEFAULT_PAGE_SIZE } from '../../shared/pagination.js';

/** TypeBox schemas of the billing API: validation, serialisation and OpenAPI from one source. */
export const Uuid = Type.String({ format: 'uuid' });
export const DateOnly = Type.String({ format: 'date', description: 'calendar date YYYY-MM-DD', examples: ['2026-09-10'] });
export const Timestamp = Type.String({ format: 'date-time' });
/** Money: integer minor units (cents), never floats. */
export const Money = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: 'integer minor units (cents)' });
export const PositiveMoney = Type.Integer({ minimum: 1, maximum: 1_000_000_000_000, description: 'integer minor units (cents), > 0' });
export const InvoiceStatus = Type.Union(
  [Type.Literal('PENDING'), Type.Literal('PARTIAL'), Type.Literal('PAID'), Type.Literal('OVERDUE'), Type.Literal('CANCELLED')],
  { description: 'PENDING | PARTIAL | PAID | OVERDUE | CANCELLED' },
);
export type InvoiceStatus = Static<typeof InvoiceStatus>;
export const PaymentMethod = Type.Union(
  [Type.Literal('card'), Type.Literal('bank_transfer'), Type.Literal('cash'), Type.Literal('cash_voucher'), Type.Literal('direct_debit'), Type.Literal('wallet')],
  { description: 'card | bank_transfer | cash | cash_voucher | direct_debit | wallet' },
);

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) => Type.Union([schema, Type.Null()]);
const Text = (max: number) => Type.String({ minLength: 1, maxLength: max });

export const IdParams = Type.Object({ id: Uuid });
export type IdParams = Static<typeof IdParams>;

export const ListQuery = {
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PAGE_SIZE, default: DEFAULT_PAGE_SIZE })),
  cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 512 })),
};

export const pageOf = (ref: string) =>
  Type.Object({ data: Type.Array(Type.Ref(ref)), nextCursor: Type.Union([Type.String(), Type.Null()]) });

// --- Schools -----------------------------------------------------------------------
export const School = Type.Object(
  {
    id: Uuid,
    name: Type.String(),
    address: Nullable(Type.String()),
    phone: Nullable(Type.String()),
    email: Nullable(Type.String()),
    currency: Type.String({ description: 'ISO 4217' }),
    timezone: Type.String({ description: 'IANA time zone' }),
    isActive: Type.Boolean(),
    publicStatements: Type.Boolean(),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  },
  { $id: 'School' },
);

const schoolFields = {
  name: Text(200),
  address: Type.Optional(Nullable(Type.String({ maxLength: 500 }))),
  phone: Type.Optional(Nullable(Type.String({ maxLength: 40 }))),
  email: Type.Optional(Nullable(Type.String({ format: 'email', maxLength: 254 }))),
  // No defaults here: PATCH shares these fields, and ajv would inject a default into
  // every partial update. Create applies its defaults below.
  currency: Type.Optional(Type.String({ pattern: '^[A-Z]{3}$', description: 'ISO 4217 code (default MXN)' })),
  timezone: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'IANA zone (default America/Mexico_City)' })),
  isActive: Type.Optional(Type.Boolean()),
  publicStatements: Type.Optional(Type.Boolean({ description: 'statements readable without a token (off by default)' })),
};
export const CreateSchoolBody = Type.Object(
  {
    ...schoolFields,
    currency: Type.Optional(Type.String({ pattern: '^[A-Z]{3}$', default: 'MXN', description: 'ISO 4217 code' })),
    timezone: Type.Optional(Type.String({ minLength: 1, maxLength: 64, default: 'America/Mexico_City', description: 'IANA zone' })),
  },
  { additionalProperties: false },
);
export type CreateSchoolBody = Static<typeof CreateSchoolBody>;
export const ReplaceSchoolBody = CreateSchoolBody;
export const PatchSchoolBody = Type.Object(
  { ...schoolFields, name: Type.Optional(Text(200)) },
  { additionalProperties: false, minProperties: 1 },
);
export type PatchSchoolBody = Static<typeof PatchSchoolBody>;
export const SchoolListQuery = Type.Object({ ...ListQuery, q: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'name contains' })) });
export type SchoolListQuery = Static<typeof SchoolListQuery>;

// --- Students ----------------------------------------------------------------------
export const Student = Type.Object(
  {
    id: Uuid,
    schoolId: Uuid,
    firstName: Type.String({ description: 'initials only for roles that see PII masked' }),
    lastName: Type.String(),
    email: Nullable(Type.String()),
    grade: Type.String(),
    enrolledAt: DateOnly,
    isActive: Type.Boolean(),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  },
  { $id: 'Student' },
);
const studentFields = {
  firstName: Text(100),
  lastName: Text(100),
  email: Type.Optional(Nullable(Type.String({ format: 'email', maxLength: 254 }))),
  grade: Text(20),
  enrolledAt: Type.Optional(DateOnly),
  isActive: Type.Optional(Type.Boolean()),
};
export const CreateStudentBody = Type.Object({ schoolId: Uuid, ...studentFields }, { additionalProperties: false });
export type CreateStudentBody = Static<typeof CreateStudentBody>;
export const ReplaceStudentBody = Type.Object(studentFields, { additionalProperties: false });
export const PatchStudentBody = Type.Object(
  {
    firstName: Type.Optional(Text(100)),
    lastName: Type.Optional(Text(100)),
    email: studentFields.email,
    grade: Type.Optional(Text(20)),
    enrolledAt: Type.Optional(DateOnly),
    isActive: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type PatchStudentBody = Static<typeof PatchStudentBody>;
export const StudentListQuery = Type.Object({
  ...ListQuery,
  schoolId: Type.Optional(Uuid),
  grade: Type.Optional(Type.String({ minLength: 1, maxLength: 20 })),
  isActive: Type.Optional(Type.Boolean()),
});
export type StudentListQuery = Static<typeof StudentListQuery>;

// --- Invoices ----------------------------------------------------------------------
export const Invoice = Type.Object(
  {
    id: Uuid,
    schoolId: Uuid,
    studentId: Uuid,
    number: Type.String(),
    description: Nullable(Type.String()),
    amount: Money,
    paidAmount: Money,
    pendingAmount: Money,
    currency: Type.String(),
    status: InvoiceStatus,
    dueDate: DateOnly,
    createdAt: Timestamp,
    updatedAt: Timestamp,
    cancelledAt: Nullable(Timestamp),
  },
  { $id: 'Invoice' },
);
export const CreateInvoiceBody = Type.Object(
  {
    studentId: Uuid,
    amount: PositiveMoney,
    dueDate: DateOnly,
    description: Type.Optional(Type.String({ maxLength: 500 })),
    number: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._/-]{0,39}$', description: 'unique per school; generated when omitted' })),
  },
  { additionalProperties: false },
);
export type CreateInvoiceBody = Static<typeof CreateInvoiceBody>;
export const PatchInvoiceBody = Type.Object(
  {
    amount: Type.Optional(PositiveMoney),
    dueDate: Type.Optional(DateOnly),
    description: Type.Optional(Nullable(Type.String({ maxLength: 500 }))),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type PatchInvoiceBody = Static<typeof PatchInvoiceBody>;
export const InvoiceListQuery = Type.Object({
  ...ListQuery,
  status: Type.Optional(InvoiceStatus),
  schoolId: Type.Optional(Uuid),
  studentId: Type.Optional(Uuid),
  dueFrom: Type.Optional(DateOnly),
  dueTo: Type.Optional(DateOnly),
});
export type InvoiceListQuery = Static<typeof InvoiceListQuery>;

// --- Payments and refunds ------------------------------------------------------------
export const Refund = Type.Object(
  {
    id: Uuid,
    paymentId: Uuid,
    invoiceId: Uuid,
    schoolId: Uuid,
    amount: Money,
    reason: Nullable(Type.String()),
    createdAt: Timestamp,
  },
  { $id: 'Refund' },
);
export const Payment = Type.Object(
  {
    id: Uuid,
    invoiceId: Uuid,
    schoolId: Uuid,
    studentId: Uuid,
    amount: Money,
    refundedAmount: Money,
    currency: Type.String(),
    method: PaymentMethod,
    reference: Nullable(Type.String({ description: 'last 4 characters only for roles that see PII masked' })),
    paidAt: Timestamp,
    createdAt: Timestamp,
  },
  { $id: 'Payment' },
);
export const InvoiceAfter = Type.Object({
  id: Uuid,
  status: InvoiceStatus,
  paidAmount: Money,
  pendingAmount: Money,
});
export const PaymentReceipt = Type.Object(
  { payment: Type.Ref('Payment'), invoice: InvoiceAfter },
  { $id: 'PaymentReceipt' },
);
export const RefundReceipt = Type.Object(
  { refund: Type.Ref('Refund'), payment: Type.Ref('Payment'), invoice: InvoiceAfter },
  { $id: 'RefundReceipt' },
);
export const CreatePaymentBody = Type.Object(
  {
    invoiceId: Uuid,
    amount: PositiveMoney,
    method: PaymentMethod,
    reference: Type.Optional(Type.String({ minLength: 1, maxLength: 120 })),
    paidAt: Type.Optional(Type.String({ format: 'date-time', description: 'when the money was received; default now, never in the future' })),
  },
  { additionalProperties: false },
);
export type CreatePaymentBody = Static<typeof CreatePaymentBody>;
export const CreateRefundBody = Type.Object(
  { amount: PositiveMoney, reason: Type.Optional(Type.String({ minLength: 1, maxLength: 500 })) },
  { additionalProperties: false },
);
export type CreateRefundBody = Static<typeof CreateRefundBody>;
export const PaymentListQuery = Type.Object({
  ...ListQuery,
  schoolId: Type.Optional(Uuid),
  invoiceId: Type.Optional(Uuid),
  studentId: Type.Optional(Uuid),
  method: Type.Optional(PaymentMethod),
  from: Type.Optional(Type.String({ format: 'date-time', description: 'paidAt >= from' })),
  to: Type.Optional(Type.String({ format: 'date-time', description: 'paidAt < to' })),
});
export type PaymentListQuery = Static<typeof PaymentListQuery>;
export const IdempotencyHeaders = Type.Object({
  'idempotency-key': Type.String({
    minLength: 1,
    maxLength: 255,
    description: 'client-chosen unique key; a retry with the same key and body returns the first response',
  }),
});

export const BILLING_SCHEMAS = [School, Student, Invoice, Payment, Refund, PaymentReceipt, RefundReceipt];
