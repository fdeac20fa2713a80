import { Type, type Static } from 'typebox';
import { ExportStyleParam } from '../../shared/csv.js';
import { LanguageParam } from '../../shared/locale.js';
import { DateInput, DateOnly, InvoiceStatus, Money, PaymentMethod, Timestamp, Uuid } from './billing.schemas.js';

/** TypeBox schemas of the statements API (student and school statements). */

/** The JSON invoice list of a statement is bounded; summaries and CSV are always complete. */
export const MAX_STATEMENT_INVOICES = 5000;

export const StatementQuery = Type.Object({
  from: Type.Optional(DateInput('YYYY-MM-DD: invoices due on or after this day (inclusive)', ['2026-09-01'])),
  to: Type.Optional(DateInput('YYYY-MM-DD: invoices due on or before this day (inclusive)', ['2027-06-30'])),
  style: Type.Optional(ExportStyleParam),
  lang: Type.Optional(LanguageParam),
});
export type StatementQuery = Static<typeof StatementQuery>;

const Period = Type.Object(
  {
    from: Type.Union([DateOnly, Type.Null()], { description: 'null: open' }),
    to: Type.Union([DateOnly, Type.Null()], { description: 'null: open' }),
  },
  { description: 'the due-date range asked for (inclusive)' },
);
export type Period = Static<typeof Period>;

const moneyTotals = {
  totalInvoiced: Type.Integer({ minimum: 0, description: 'amounts of the non-cancelled invoices (minor units)' }),
  totalPaid: Type.Integer({ minimum: 0, description: 'cash paid net of refunds (family credit applied included), non-cancelled invoices' }),
  totalCredited: Type.Integer({ minimum: 0, description: 'credit notes and write-offs (no money moved), non-cancelled invoices' }),
  totalPending: Type.Integer({ minimum: 0, description: 'still open over non-cancelled invoices: totalInvoiced − totalPaid − totalCredited' }),
  totalOverdue: Type.Integer({ minimum: 0, description: 'pending of OVERDUE invoices' }),
};
export type StatementTotals = { [K in keyof typeof moneyTotals]: number };

const InvoicePaid = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: 'cash settled: payments − refunds + family credit applied' });
const InvoiceCredited = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: 'credit notes and write-offs' });
const InvoicePending = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: 'still open: amount − paidAmount − creditedAmount' });

const Truncated = Type.Boolean({
  description: `true when more than ${MAX_STATEMENT_INVOICES} invoices match: the list holds the first ${MAX_STATEMENT_INVOICES} by due date, the summary covers all (the CSV lists all)`,
});

const StatementPayment = Type.Object({
  id: Uuid,
  amount: Money,
  refundedAmount: Money,
  method: PaymentMethod,
  reference: Type.Union([Type.String({ description: 'last 4 characters only for roles that see PII masked' }), Type.Null()]),
  paidAt: Timestamp,
});

const StudentStatementInvoice = Type.Object({
  id: Uuid,
  number: Type.String(),
  description: Type.Union([Type.String(), Type.Null()]),
  amount: Money,
  paidAmount: InvoicePaid,
  creditedAmount: InvoiceCredited,
  pendingAmount: InvoicePending,
  status: InvoiceStatus,
  dueDate: DateOnly,
  payments: Type.Array(StatementPayment),
});

export const StudentStatement = Type.Object(
  {
    studentId: Uuid,
    studentName: Type.String({ description: 'initials for roles that see PII masked and for anonymous readers' }),
    schoolId: Uuid,
    schoolName: Type.String(),
    currency: Type.String({ description: 'ISO 4217; every amount is in its minor units' }),
    period: Period,
    summary: Type.Object(moneyTotals),
    invoices: Type.Array(StudentStatementInvoice, { description: 'by due date; cancelled invoices are listed but excluded from every total' }),
    invoicesTruncated: Truncated,
    generatedAt: Timestamp,
  },
  { $id: 'StudentStatement' },
);
export type StudentStatement = Static<typeof StudentStatement>;

const SchoolStatementInvoice = Type.Object({
  id: Uuid,
  number: Type.String(),
  studentId: Uuid,
  studentName: Type.String(),
  amount: Money,
  paidAmount: InvoicePaid,
  creditedAmount: InvoiceCredited,
  pendingAmount: InvoicePending,
  status: InvoiceStatus,
  dueDate: DateOnly,
});

export const SchoolStatement = Type.Object(
  {
    schoolId: Uuid,
    schoolName: Type.String(),
    currency: Type.String({ description: 'ISO 4217; every amount is in its minor units' }),
    period: Period,
    summary: Type.Object({
      totalStudents: Type.Integer({ minimum: 0, description: 'students of the school (not deleted)' }),
      activeStudents: Type.Integer({ minimum: 0 }),
      ...moneyTotals,
    }),
    invoices: Type.Array(SchoolStatementInvoice, { description: 'by due date; cancelled invoices are listed but excluded from every total' }),
    invoicesTruncated: Truncated,
    generatedAt: Timestamp,
  },
  { $id: 'SchoolStatement' },
);
export type SchoolStatement = Static<typeof SchoolStatement>;

export type Statement = StudentStatement | SchoolStatement;

/** The media types a statement is offered in, in order of preference. */
export const STATEMENT_MEDIA_TYPES = ['application/json', 'text/csv', 'application/pdf'] as const;
export type StatementMediaType = (typeof STATEMENT_MEDIA_TYPES)[number];

/** OpenAPI description of the 200 response in every media type. */
export function statementResponse(ref: 'StudentStatement' | 'SchoolStatement') {
  return {
    description: 'The statement, in the media type chosen by Accept (JSON by default).',
    headers: {
      'content-disposition': {
        type: 'string',
        description: 'CSV and PDF: attachment; filename="bursar-statement-<school>[-<student>]-<YYYY-MM-DD>.csv|pdf"; filename*=UTF-8\'\'… (the school’s date)',
      },
      'cache-status': { type: 'string', description: 'JSON only (RFC 9211): `bursar; hit` or `bursar; fwd=miss; stored`' },
    },
    content: {
      'application/json': { schema: Type.Ref(ref) },
      'text/csv': {
        schema: Type.String({
          description:
            'Streamed. `#` comment lines (statement, school, student, currency, period, summary, generated at in the school’s time zone), then a header row and one row per invoice (all of them). ' +
            '`style=people` (default): headers and statuses in words in the reader’s language, amounts in currency units with the currency’s digits (Paid is cash, Credited the credit notes and write-offs), a UTF-8 byte-order mark first, ' +
            'each head line `# label,value` (two cells in a spreadsheet, amounts as numbers); ' +
            '`style=raw`: the API’s field names and minor units. Cells that could be read as spreadsheet formulas are prefixed with `\'`.',
        }),
      },
      'application/pdf': {
        schema: Type.String({
          format: 'binary',
          description:
            'Streamed, printable A4 statement in the reader’s language: the school’s name and address, times in the school’s zone, every column sized to its widest amount ' +
            '(landscape when they need it), long names wrapped, "Page 1 of N", totals after the last row.',
        }),
      },
    },
  };
}
