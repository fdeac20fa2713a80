import { Type, type Static } from 'typebox';
import { Money, PaymentMethod, Timestamp, Uuid } from '../billing/billing.schemas.js';
import { LanguageParam } from '../../shared/locale.js';

/** TypeBox schemas of receipts (SPEC §7): the JSON document, its query and its media types. */

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) => Type.Union([schema, Type.Null()]);

export const ReceiptLine = Type.Object({
  paymentId: Uuid,
  invoiceId: Uuid,
  invoiceNumber: Type.String(),
  description: Nullable(Type.String()),
  studentName: Type.String({ description: 'initials for roles that see PII masked' }),
  amount: Money,
  refunded: Money,
});

export const ReceiptDocument = Type.Object(
  {
    kind: Type.Union([Type.Literal('payment'), Type.Literal('family_payment')], { description: 'a direct payment, or a family payment with all its allocations' }),
    paymentId: Nullable(Uuid),
    familyPaymentId: Nullable(Uuid),
    number: Nullable(Type.String({ description: 'PREFIX-YYYY-NNNNNN, gapless per school; null only for payments recorded before receipts were numbered' })),
    schoolId: Uuid,
    schoolName: Type.String(),
    schoolAddress: Nullable(Type.String()),
    schoolPhone: Nullable(Type.String()),
    familyId: Nullable(Uuid),
    familyReference: Nullable(Type.String({ description: 'the family’s payment reference; last 4 characters only for roles that see PII masked' })),
    payer: Type.String({ description: 'the guardian who paid, else the family’s name, else the student’s; initials for roles that see PII masked' }),
    students: Type.Array(Type.String(), { description: 'the students this money was for' }),
    lines: Type.Array(ReceiptLine, { description: 'what was paid for, oldest due date first' }),
    credited: Money,
    total: Money,
    refunded: Money,
    currency: Type.String(),
    method: PaymentMethod,
    reference: Nullable(Type.String({ description: 'last 4 characters only for roles that see PII masked' })),
    paidAt: Timestamp,
    localPaidAt: Type.String({ description: 'paidAt on the school’s wall clock, with its UTC offset: 2026-12-02T12:45:00-06:00' }),
    timeZone: Type.String({ description: 'the school’s IANA time zone' }),
    balanceLeft: Type.Object(
      { owed: Money, credit: Money },
      { description: 'what is still owed (the payer’s invoices, else the family’s, else the student’s) and the family’s unapplied credit, as of balanceAsOf' },
    ),
    balanceAsOf: Timestamp,
  },
  { $id: 'ReceiptDocument' },
);
export type ReceiptDocument = Static<typeof ReceiptDocument>;

export const ReceiptQuery = Type.Object({ lang: Type.Optional(LanguageParam) });
export type ReceiptQuery = Static<typeof ReceiptQuery>;

/** The media types a receipt is offered in, in order of preference (a PDF unless JSON is asked for). */
export const RECEIPT_MEDIA_TYPES = ['application/pdf', 'application/json'] as const;
export type ReceiptMediaType = (typeof RECEIPT_MEDIA_TYPES)[number];

export const receiptResponse = {
  description: 'The receipt: a one-page A4 PDF by default, JSON with Accept: application/json.',
  headers: {
    'content-disposition': { type: 'string', description: 'PDF: attachment; filename="bursar-receipt-<school>-<number>-<YYYY-MM-DD>.pdf"' },
  },
  content: {
    'application/pdf': {
      schema: Type.String({
        format: 'binary',
        description:
          'One A4 page in the reader’s language (`lang`, else Accept-Language, else the family’s language): the school’s name and address, the receipt ' +
          'number, payer, students, what was paid for, method, the local date and time with the zone, and the balance left.',
      }),
    },
    'application/json': { schema: Type.Ref('ReceiptDocument') },
  },
};
