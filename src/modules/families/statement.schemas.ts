import { Type, type Static } from 'typebox';
import { ExportStyleParam } from '../../shared/csv.js';
import { LanguageParam } from '../../shared/locale.js';
import { DateInput, DateOnly, InvoiceStatus, PaymentMethod, Timestamp, Uuid } from '../billing/billing.schemas.js';

/** TypeBox schemas of the family statement (SPEC §7): GET /families/:id/statement. */

/** The entries one statement lists (JSON, CSV and PDF alike); the summary and balances always cover every movement. */
export const MAX_FAMILY_STATEMENT_ENTRIES = 5000;

export const FAMILY_STATEMENT_FORMATS = ['json', 'csv', 'pdf'] as const;
export type FamilyStatementFormat = (typeof FAMILY_STATEMENT_FORMATS)[number];

export const FamilyStatementQuery = Type.Object({
  from: Type.Optional(DateInput('YYYY-MM-DD: movements on or after this day, in the school’s time zone (inclusive); earlier ones make the opening balance', ['2026-09-01'])),
  to: Type.Optional(DateInput('YYYY-MM-DD: movements on or before this day (inclusive)', ['2027-06-30'])),
  format: Type.Optional(
    Type.Union([Type.Literal('json'), Type.Literal('csv'), Type.Literal('pdf')], { description: 'json | csv | pdf; overrides Accept (default: from Accept, else JSON)' }),
  ),
  style: Type.Optional(ExportStyleParam),
  lang: Type.Optional(LanguageParam),
});
export type FamilyStatementQuery = Static<typeof FamilyStatementQuery>;

export const ENTRY_KINDS = ['invoice', 'payment', 'family_payment', 'refund', 'credit_note', 'write_off', 'waiver', 'credit_applied'] as const;
export type EntryKind = (typeof ENTRY_KINDS)[number];

const Signed = (description: string) => Type.Integer({ minimum: -Number.MAX_SAFE_INTEGER, maximum: Number.MAX_SAFE_INTEGER, description });
const Amount = (description: string) => Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description });
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) => Type.Union([schema, Type.Null()]);

const Position = Type.Object({
  balance: Signed('owed − credit: what the family owes (negative: money in its favour)'),
  owed: Signed('balance + credit: what its invoices still want'),
  credit: Amount('family credit held'),
});

export const FamilyStatementEntry = Type.Object({
  date: DateOnly,
  at: Nullable(Timestamp),
  kind: Type.Union(
    [
      Type.Literal('invoice'),
      Type.Literal('payment'),
      Type.Literal('family_payment'),
      Type.Literal('refund'),
      Type.Literal('credit_note'),
      Type.Literal('write_off'),
      Type.Literal('waiver'),
      Type.Literal('credit_applied'),
    ],
    {
      description:
        'invoice (dated by its due date: a charge when it falls due), payment (a direct payment), family_payment (the whole of a family payment: what it settled and what became credit), ' +
        'refund, credit_note, write_off, waiver (a late fee forgiven), credit_applied (family credit settling an invoice: moves no balance)',
    },
  ),
  studentId: Nullable(Uuid),
  studentName: Nullable(Type.String({ description: 'initials for roles that see PII masked' })),
  invoiceId: Nullable(Uuid),
  invoiceNumber: Nullable(Type.String()),
  dueDate: Nullable(DateOnly),
  status: Nullable(InvoiceStatus),
  pendingAmount: Nullable(Amount('invoices: what is still open on it now (0 when cancelled)')),
  paidAmount: Nullable(Amount('invoices: cash paid on it now (payments − refunds + family credit applied)')),
  creditedAmount: Nullable(Amount('invoices: credit notes and write-offs on it now; paidAmount + creditedAmount + pendingAmount = amount unless cancelled')),
  document: Nullable(Type.String({ description: 'the receipt number of a payment, the number of a credit note' })),
  method: Nullable(PaymentMethod),
  reference: Nullable(Type.String({ description: 'the payer’s reference; last 4 characters only for roles that see PII masked' })),
  note: Nullable(Type.String({ description: 'the invoice’s description, the reason of a refund, credit note or write-off' })),
  amount: Amount('the movement’s size'),
  debit: Amount('what it adds to the balance (invoices, refunds; 0 for a cancelled invoice)'),
  credit: Amount('what it takes off the balance (payments, credit notes, write-offs)'),
  creditAdded: Amount('family payments: the part that became family credit'),
  creditUsed: Amount('credit applied: family credit used'),
  balance: Signed('the balance after this entry'),
});
export type FamilyStatementEntry = Static<typeof FamilyStatementEntry>;

export const FamilyStatementSummary = Type.Object({
  invoiced: Amount('invoices falling due in the period (cancelled excluded)'),
  paid: Amount('payments and family payments received in the period'),
  refunded: Amount('refunds in the period'),
  creditNotes: Amount('credit notes in the period'),
  writeOffs: Amount('write-offs and late-fee waivers in the period'),
  credited: Amount('creditNotes + writeOffs: what was credited without money moving'),
  creditAdded: Amount('family payments’ part that became credit'),
  creditUsed: Amount('family credit applied to invoices'),
});
export type FamilyStatementSummary = Static<typeof FamilyStatementSummary>;

export const FamilyStatement = Type.Object(
  {
    familyId: Uuid,
    familyName: Type.String({ description: 'an initial for roles that see PII masked' }),
    reference: Type.String({ description: 'the family’s payment reference, to quote on bank transfers' }),
    primaryGuardian: Nullable(Type.String({ description: 'the primary guardian’s name (initials when masked)' })),
    schoolId: Uuid,
    schoolName: Type.String(),
    currency: Type.String({ description: 'ISO 4217; every amount is in its minor units' }),
    timezone: Type.String({ description: 'the school’s zone: dates are days there' }),
    period: Type.Object({ from: Nullable(DateOnly), to: Nullable(DateOnly) }, { description: 'inclusive; null: open' }),
    students: Type.Array(Type.Object({ id: Uuid, name: Type.String(), grade: Type.String() })),
    opening: Position,
    closing: Position,
    summary: FamilyStatementSummary,
    entries: Type.Array(FamilyStatementEntry, { description: 'by date (invoices first on their day), then time' }),
    entriesTruncated: Type.Boolean({ description: `true when more than ${MAX_FAMILY_STATEMENT_ENTRIES} movements fall in the period: the first ones are listed, the summary and closing cover all` }),
    generatedAt: Timestamp,
  },
  { $id: 'FamilyStatement' },
);
export type FamilyStatement = Static<typeof FamilyStatement>;

export const FAMILY_STATEMENT_MEDIA_TYPES = ['application/json', 'text/csv', 'application/pdf'] as const;

export const familyStatementResponse = {
  description: 'The statement in the format asked for (`format`, else Accept; JSON by default).',
  headers: {
    'content-disposition': { type: 'string', description: 'CSV and PDF: attachment; filename="bursar-family-statement-<school>-<family>-<YYYY-MM-DD>.csv|pdf"' },
  },
  content: {
    'application/json': { schema: Type.Ref('FamilyStatement') },
    'text/csv': {
      schema: Type.String({
        description:
          '`#` comment lines (school, family, reference, period, opening and closing balance, summary), a header row and one row per entry. ' +
          '`style=people` (default): headers in the reader’s language, amounts in currency units (Paid: payments and family payments; Credited: credit notes and write-offs), a UTF-8 byte-order mark, ' +
          'each head line `# label,value` (two cells in a spreadsheet, amounts as numbers); `style=raw`: field names and minor units.',
      }),
    },
    'application/pdf': {
      schema: Type.String({
        format: 'binary',
        description: 'Printable A4 statement in the reader’s language: school name and address, family and reference, opening balance, every movement with a running balance, closing balance, "Page n of N".',
      }),
    },
  },
};
