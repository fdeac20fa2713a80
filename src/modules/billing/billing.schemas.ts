import { Type, type Static } from 'typebox';
import { MAX_PAGE_SIZE, DEFAULT_PAGE_SIZE } from '../../shared/pagination.js';

/** TypeBox schemas of the billing API: validation, serialisation and OpenAPI from one source. */
export const Uuid = Type.String({ format: 'uuid' });
export const DateOnly = Type.String({ format: 'date', description: 'calendar date YYYY-MM-DD', examples: ['2026-09-10'] });
export const Timestamp = Type.String({ format: 'date-time' });

/**
 * The sane window for dates and times a client sends: no school bills, enrols or takes
 * money before 2000 or after 2100, and a date outside it is a typo (`0001-01-01`,
 * `2206-09-01`) that would otherwise be stored, or reach PostgreSQL and fail there
 * (year 0000). Enforced by Ajv (ajv-formats' formatMinimum/formatMaximum): a 400 naming
 * the field. Responses use DateOnly/Timestamp, which carry no window.
 */
export const SANE_DATES = { earliest: '2000-01-01', latest: '2100-12-31' } as const;
const windowNote = `between ${SANE_DATES.earliest} and ${SANE_DATES.latest}`;

/** A calendar date a client sends ('YYYY-MM-DD'), inside SANE_DATES. */
export const DateInput = (description = 'calendar date YYYY-MM-DD', examples: string[] = ['2026-09-10']) =>
  Type.String({ format: 'date', formatMinimum: SANE_DATES.earliest, formatMaximum: SANE_DATES.latest, description: `${description}; ${windowNote}`, examples });

/** An instant a client sends (RFC 3339 with a zone), inside SANE_DATES. */
export const TimestampInput = (description: string, examples: string[] = ['2026-09-10T14:30:00Z']) =>
  Type.String({
    format: 'date-time',
    formatMinimum: `${SANE_DATES.earliest}T00:00:00Z`,
    formatMaximum: `${SANE_DATES.latest}T23:59:59.999Z`,
    description: `${description}; ${windowNote}`,
    examples,
  });
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
/**
 * An e-mail address a client sends: trimmed and lower-cased before it is checked
 * (the `x-normalise` keyword, src/plugins/validation.ts), so ` User@Example.COM ` is
 * stored as `user@example.com` (see src/shared/email.ts).
 */
const EmailInput = Type.String({ format: 'email', maxLength: 254, 'x-normalise': 'email', description: 'stored trimmed and in lower case' });

export const IdParams = Type.Object({ id: Uuid });
export type IdParams = Static<typeof IdParams>;

export const ListQuery = {
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PAGE_SIZE, default: DEFAULT_PAGE_SIZE })),
  cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 512 })),
};

export const pageOf = (ref: string) =>
  Type.Object({ data: Type.Array(Type.Ref(ref)), nextCursor: Type.Union([Type.String(), Type.Null()]) });

// --- Schools -----------------------------------------------------------------------
const SchoolLanguage = Type.Union([Type.Literal('es'), Type.Literal('en')], {
  description: 'what Bursar writes into the school’s invoices (month names, late fees) is in this language; default by currency: en for USD, es otherwise',
});
export const School = Type.Object(
  {
    id: Uuid,
    name: Type.String(),
    address: Nullable(Type.String()),
    phone: Nullable(Type.String()),
    email: Nullable(Type.String()),
    currency: Type.String({ description: 'ISO 4217' }),
    timezone: Type.String({ description: 'IANA time zone' }),
    language: SchoolLanguage,
    isActive: Type.Boolean(),
    publicStatements: Type.Boolean(),
    isDemo: Type.Boolean({ description: 'created by the demo seed: the demo simulator acts only on demo schools' }),
    simulatorEnabled: Type.Boolean({ description: 'simulated demo traffic on for this school (always false outside demo schools)' }),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  },
  { $id: 'School' },
);

const schoolFields = {
  name: Text(200),
  address: Type.Optional(Nullable(Type.String({ maxLength: 500 }))),
  phone: Type.Optional(Nullable(Type.String({ maxLength: 40 }))),
  email: Type.Optional(Nullable(EmailInput)),
  // No defaults here: PATCH shares these fields, and ajv would inject a default into
  // every partial update. Create applies its defaults below.
  currency: Type.Optional(Type.String({ pattern: '^[A-Z]{3}$', description: 'ISO 4217 code (default MXN)' })),
  timezone: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'IANA zone (default America/Mexico_City)' })),
  language: Type.Optional(SchoolLanguage),
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
  {
    ...schoolFields,
    name: Type.Optional(Text(200)),
    // PATCH only: PUT replaces a school's details, the switch is not one of them.
    simulatorEnabled: Type.Optional(Type.Boolean({ description: 'switch the demo simulator on or off for a demo school (422 on any other school)' })),
  },
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
    familyId: Nullable(Uuid),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  },
  { $id: 'Student' },
);
const studentFields = {
  firstName: Text(100),
  lastName: Text(100),
  email: Type.Optional(Nullable(EmailInput)),
  grade: Text(20),
  enrolledAt: Type.Optional(DateInput('the day the student joined the school (default today)')),
  isActive: Type.Optional(Type.Boolean()),
};
/** The family a student belongs to (SPEC §7): one of the student's school; null to take the student out of it. */
const FamilyIdInput = Type.Optional(
  Type.Union([Uuid, Type.Null()], { description: 'a family of the student’s school (422 otherwise); null: no family. Not part of PUT, which leaves it as it is.' }),
);
export const CreateStudentBody = Type.Object({ schoolId: Uuid, ...studentFields, familyId: FamilyIdInput }, { additionalProperties: false });
export type CreateStudentBody = Static<typeof CreateStudentBody>;
export const ReplaceStudentBody = Type.Object(studentFields, { additionalProperties: false });
export const PatchStudentBody = Type.Object(
  {
    firstName: Type.Optional(Text(100)),
    lastName: Type.Optional(Text(100)),
    email: studentFields.email,
    grade: Type.Optional(Text(20)),
    enrolledAt: studentFields.enrolledAt,
    isActive: Type.Optional(Type.Boolean()),
    familyId: FamilyIdInput,
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
export const InvoiceLine = Type.Object(
  {
    kind: Type.Union([Type.Literal('charge'), Type.Literal('discount'), Type.Literal('late_fee')], { description: 'charge | discount | late_fee' }),
    code: Type.String({ description: 'the fee item (tuition, transport, …), the discount, or `fee` / `correction` for invoices created directly' }),
    description: Type.String(),
    amount: Type.Integer({ description: 'integer minor units: charges and late fees > 0, discounts < 0' }),
  },
  { $id: 'InvoiceLine' },
);
export const Invoice = Type.Object(
  {
    id: Uuid,
    schoolId: Uuid,
    studentId: Uuid,
    familyId: Nullable(Uuid),
    payerGuardianId: Nullable(Type.String({ format: 'uuid', description: 'the guardian billed when an enrolment splits its instalments between payers' })),
    kind: Type.Union([Type.Literal('regular'), Type.Literal('late_fee')], { description: 'regular | late_fee (the late fees of relatedInvoiceId, posted by the daily collections run)' }),
    relatedInvoiceId: Nullable(Type.String({ format: 'uuid', description: 'on a late-fee invoice: the overdue invoice it charges for' })),
    number: Type.String(),
    description: Nullable(Type.String()),
    amount: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: 'integer minor units: the sum of the lines' }),
    paidAmount: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: 'cash settled: payments − refunds + family credit applied' }),
    creditedAmount: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: 'credit notes and write-offs' }),
    pendingAmount: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: 'still open: amount − paidAmount − creditedAmount' }),
    currency: Type.String(),
    status: InvoiceStatus,
    dueDate: DateOnly,
    createdAt: Timestamp,
    updatedAt: Timestamp,
    cancelledAt: Nullable(Timestamp),
    lines: Type.Optional(Type.Array(Type.Ref('InvoiceLine'), { description: 'on single-invoice answers; lists omit them' })),
    earlyPayment: Type.Optional(
      Nullable(
        Type.Object(
          {
            discount: Money,
            payBy: DateOnly,
            applied: Type.Boolean({ description: 'a payment by payBy earned it: its discount line is on the invoice' }),
            available: Type.Boolean({ description: 'still on offer: not taken, payBy not past (school time) and the invoice open' }),
            amountDue: Money,
          },
          { description: 'pronto pago: paying amountDue (what is open minus the discount) by payBy, in one payment, earns the discount; null: none offered' },
        ),
      ),
    ),
    lateFeeInvoice: Type.Optional(
      Nullable(
        Type.Object(
          { id: Uuid, number: Type.String(), amount: Money, pendingAmount: Money },
          { description: 'on single-invoice answers of a regular invoice: its late-fee invoice (the late fees charged for it), or null' },
        ),
      ),
    ),
    adjustments: Type.Optional(
      Type.Array(
        Type.Object({
          id: Uuid,
          kind: Type.Union([Type.Literal('credit_note'), Type.Literal('write_off'), Type.Literal('waiver')], { description: 'credit_note | write_off | waiver (a late fee forgiven)' }),
          amount: Money,
          reason: Type.String(),
          number: Nullable(Type.String({ description: 'CN-NNNNNN for credit notes; null for write-offs' })),
          createdAt: Timestamp,
        }),
        { maxItems: 100, description: 'its credit notes and write-offs (the newest 100, oldest first), on single-invoice answers; lists omit them' },
      ),
    ),
  },
  { $id: 'Invoice' },
);
export const CreateInvoiceBody = Type.Object(
  {
    studentId: Uuid,
    amount: PositiveMoney,
    dueDate: DateInput('the day the bill falls due, in the school’s time zone'),
    description: Type.Optional(Type.String({ maxLength: 500 })),
    number: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._/-]{0,39}$', description: 'unique per school; generated when omitted' })),
  },
  { additionalProperties: false },
);
export type CreateInvoiceBody = Static<typeof CreateInvoiceBody>;
export const PatchInvoiceBody = Type.Object(
  {
    amount: Type.Optional(PositiveMoney),
    dueDate: Type.Optional(DateInput('the day the bill falls due, in the school’s time zone')),
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
  number: Type.Optional(Type.String({ minLength: 1, maxLength: 40, description: 'the invoice number as printed (any case), e.g. INV-000123' })),
  dueFrom: Type.Optional(DateInput('due on or after this day')),
  dueTo: Type.Optional(DateInput('due on or before this day')),
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
    receiptNumber: Nullable(Type.String({ description: 'its receipt (or its family payment’s), gapless per school, e.g. MIRA-2026-000123' })),
  },
  { $id: 'Payment' },
);
export const InvoiceAfter = Type.Object({
  id: Uuid,
  status: InvoiceStatus,
  paidAmount: Money,
  pendingAmount: Money,
});
/** A created payment (the Payment fields at the top level, SPEC §3) and the invoice it changed. */
export const PaymentReceipt = Type.Object(
  { ...Payment.properties, invoice: Type.Object(InvoiceAfter.properties, { description: 'the invoice after this payment' }) },
  { $id: 'PaymentReceipt' },
);
/** A created refund (the Refund fields at the top level), the payment it refunds and the invoice it changed. */
export const RefundReceipt = Type.Object(
  {
    ...Refund.properties,
    payment: Type.Ref('Payment', { description: 'the refunded payment, refundedAmount included' }),
    invoice: Type.Object(InvoiceAfter.properties, { description: 'the invoice after this refund' }),
  },
  { $id: 'RefundReceipt' },
);
export const CreatePaymentBody = Type.Object(
  {
    invoiceId: Uuid,
    amount: PositiveMoney,
    method: PaymentMethod,
    reference: Type.Optional(Type.String({ minLength: 1, maxLength: 120 })),
    paidAt: Type.Optional(
      TimestampInput(
        'when the money was received (default now): not in the future (5 minutes of clock skew allowed), and not more than ' +
          'a year before the school was registered in Bursar (older payments belong to the books it replaced)',
      ),
    ),
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
  from: Type.Optional(TimestampInput('paidAt >= from')),
  to: Type.Optional(TimestampInput('paidAt < to')),
});
export type PaymentListQuery = Static<typeof PaymentListQuery>;
// --- Credit notes, write-offs (SPEC §7) and late-fee waivers (SPEC §8) ---------------------------------------------
export const CreateAdjustmentBody = Type.Object(
  {
    amount: PositiveMoney,
    reason: Type.String({ minLength: 1, maxLength: 500, pattern: '\\S', description: 'why (required, audited)' }),
  },
  { additionalProperties: false },
);
export type CreateAdjustmentBody = Static<typeof CreateAdjustmentBody>;
export const Adjustment = Type.Object(
  {
    id: Uuid,
    invoiceId: Uuid,
    kind: Type.Union([Type.Literal('credit_note'), Type.Literal('write_off'), Type.Literal('waiver')], { description: 'credit_note | write_off | waiver' }),
    amount: Money,
    reason: Type.String(),
    number: Nullable(Type.String({ description: 'CN-NNNNNN per school for credit notes; null for write-offs and waivers' })),
    createdAt: Timestamp,
    invoice: Type.Object(
      { id: Uuid, status: InvoiceStatus, paidAmount: Money, creditedAmount: Money, pendingAmount: Money },
      { description: 'the invoice after this adjustment' },
    ),
  },
  { $id: 'InvoiceAdjustment' },
);
export type Adjustment = Static<typeof Adjustment>;

export const IdempotencyHeaders = Type.Object({
  'idempotency-key': Type.String({
    minLength: 1,
    maxLength: 255,
    description: 'client-chosen unique key; a retry with the same key and body returns the first response',
  }),
});

export const BILLING_SCHEMAS = [School, Student, InvoiceLine, Invoice, Payment, Refund, PaymentReceipt, RefundReceipt, Adjustment];
