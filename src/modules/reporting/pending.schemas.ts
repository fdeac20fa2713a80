import { Type, type Static } from 'typebox';
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
  paidAmount: Money,
  pendingAmount: Money,
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
  'pendingAmount',
  'currency',
  'status',
  'daysOverdue',
] as const satisfies readonly (keyof PendingRow)[];
