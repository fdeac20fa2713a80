import { Type, type Static } from 'typebox';
import { ExportStyleParam, type PeopleColumn } from '../../shared/csv.js';
import { INVOICE_STATUS_LABELS, LanguageParam, type Localized } from '../../shared/locale.js';
import { DateOnly, ListQuery, Money, Uuid } from '../billing/billing.schemas.js';

/**
 * Schemas of the outstanding-payments queue (`GET /reports/pending-payments`) and its
 * export. Both take the same filters; query objects reject unknown parameters so a
 * misspelt filter is a 400 naming it, never a silently unfiltered (or unbounded) export.
 */

/** The statuses an outstanding invoice can have (never PAID or CANCELLED). */
export const OutstandingStatus = Type.Union([Type.Literal('PENDING'), Type.Literal('PARTIAL'), Type.Literal('OVERDUE')], {
  description: 'PENDING | PARTIAL | OVERDUE (invoice_status, in the school’s time zone)',
});
export type OutstandingStatus = Static<typeof OutstandingStatus>;

const filters = {
  schoolId: Type.Optional(Uuid),
  grade: Type.Optional(Type.String({ minLength: 1, maxLength: 20 })),
  status: Type.Optional(OutstandingStatus),
  minAmount: Type.Optional(
    Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: 'only invoices whose pendingAmount is at least this (minor units)' }),
  ),
};

export const PendingQuery = Type.Object({ ...ListQuery, ...filters }, { additionalProperties: false });
export type PendingQuery = Static<typeof PendingQuery>;

export const EXPORT_FORMATS = ['csv', 'xlsx'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export const PendingExportQuery = Type.Object(
  {
    format: Type.Optional(Type.Union([Type.Literal('csv'), Type.Literal('xlsx')], { default: 'csv', description: 'csv (default) | xlsx' })),
    style: Type.Optional(ExportStyleParam),
    lang: Type.Optional(LanguageParam),
    ...filters,
  },
  { additionalProperties: false },
);
export type PendingExportQuery = Static<typeof PendingExportQuery>;

export const PendingRow = Type.Object({
  invoiceId: Uuid,
  number: Type.String(),
  schoolId: Uuid,
  schoolName: Type.String(),
  studentId: Uuid,
  studentName: Type.String({ description: 'initials only for roles that see PII masked' }),
  grade: Type.String(),
  dueDate: DateOnly,
  amount: Money,
  paidAmount: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: 'cash settled: payments − refunds + family credit applied' }),
  creditedAmount: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: 'credit notes and write-offs' }),
  pendingAmount: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: 'still open: amount − paidAmount − creditedAmount' }),
  currency: Type.String({ description: 'ISO 4217 code of the school' }),
  status: OutstandingStatus,
  daysOverdue: Type.Integer({ minimum: 0, description: 'whole days past due in the school’s time zone; 0 when not overdue' }),
});
export type PendingRow = Static<typeof PendingRow>;

export const PendingPage = Type.Object({
  data: Type.Array(PendingRow),
  nextCursor: Type.Union([Type.String(), Type.Null()]),
  total: Type.Integer({
    minimum: 0,
    description: 'exact number of matching rows, counted when the first page (no cursor) is read and carried by the cursor to later pages',
  }),
});
export type PendingPage = Static<typeof PendingPage>;

/** Export columns, in order (also the CSV header and the xlsx header row). */
export const PENDING_COLUMNS = [
  'invoiceId',
  'number',
  'schoolId',
  'schoolName',
  'studentId',
  'studentName',
  'grade',
  'dueDate',
  'amount',
  'paidAmount',
  'creditedAmount',
  'pendingAmount',
  'currency',
  'status',
  'daysOverdue',
] as const satisfies readonly (keyof PendingRow)[];

/** Headers of the export for people, by column (PENDING_PEOPLE_COLUMNS and the CSV's SQL use these). */
export const PENDING_PEOPLE_HEADERS = {
  number: { en: 'Invoice', es: 'Factura' },
  schoolName: { en: 'School', es: 'Escuela' },
  studentName: { en: 'Student', es: 'Alumno' },
  grade: { en: 'Grade', es: 'Grado' },
  dueDate: { en: 'Due date', es: 'Vencimiento' },
  amount: { en: 'Amount', es: 'Importe' },
  paidAmount: { en: 'Paid', es: 'Pagado' },
  creditedAmount: { en: 'Credited', es: 'Acreditado' },
  pendingAmount: { en: 'Pending', es: 'Pendiente' },
  currency: { en: 'Currency', es: 'Moneda' },
  status: { en: 'Status', es: 'Estado' },
  daysOverdue: { en: 'Days overdue', es: 'Días de atraso' },
} as const satisfies Partial<Record<keyof PendingRow, Localized>>;

/**
 * The export for people (`style=people`, the default), in order: headers in words,
 * amounts in currency units (their own column for the currency), the due date a day,
 * the status in words. Ids are left out (they are in `style=raw`). The CSV's SQL
 * (pending.repository exportSelect) writes the same columns in the same order.
 */
export const PENDING_PEOPLE_COLUMNS: readonly PeopleColumn<PendingRow>[] = [
  { header: PENDING_PEOPLE_HEADERS.number, width: 18, cell: (row) => ({ text: row.number }) },
  { header: PENDING_PEOPLE_HEADERS.schoolName, width: 28, cell: (row) => ({ text: row.schoolName }) },
  { header: PENDING_PEOPLE_HEADERS.studentName, width: 28, cell: (row) => ({ text: row.studentName }) },
  { header: PENDING_PEOPLE_HEADERS.grade, width: 8, cell: (row) => ({ text: row.grade }) },
  { header: PENDING_PEOPLE_HEADERS.dueDate, width: 12, cell: (row) => ({ date: row.dueDate }) },
  { header: PENDING_PEOPLE_HEADERS.amount, width: 18, cell: (row) => ({ money: row.amount, currency: row.currency }) },
  { header: PENDING_PEOPLE_HEADERS.paidAmount, width: 18, cell: (row) => ({ money: row.paidAmount, currency: row.currency }) },
  { header: PENDING_PEOPLE_HEADERS.creditedAmount, width: 18, cell: (row) => ({ money: row.creditedAmount, currency: row.currency }) },
  { header: PENDING_PEOPLE_HEADERS.pendingAmount, width: 18, cell: (row) => ({ money: row.pendingAmount, currency: row.currency }) },
  { header: PENDING_PEOPLE_HEADERS.currency, width: 10, cell: (row) => ({ text: row.currency }) },
  { header: PENDING_PEOPLE_HEADERS.status, width: 15, cell: (row, language) => ({ text: INVOICE_STATUS_LABELS[row.status][language] }) },
  { header: PENDING_PEOPLE_HEADERS.daysOverdue, width: 14, cell: (row) => ({ integer: row.daysOverdue }) },
];
