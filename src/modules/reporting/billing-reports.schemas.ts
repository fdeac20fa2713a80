import { Type, type Static, type TSchema } from 'typebox';
import { ExportStyleParam } from '../../shared/csv.js';
import { LanguageParam } from '../../shared/locale.js';
import { DateInput, DateOnly, InvoiceStatus, ListQuery, Money, PaymentMethod, SANE_DATES, TimestampInput, Uuid } from '../billing/billing.schemas.js';

/**
 * TypeBox schemas of the billing reports (SPEC §3 "Reports"): query validation,
 * response serialisation and OpenAPI from one source. Every row is per school and
 * carries that school's currency; money is integer minor units.
 *
 * Query objects reject unknown parameters, so a misspelt filter (`schoolID=`) is a 400
 * naming it instead of a silently unfiltered report.
 */
const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);
const Timestamp = Type.String({ format: 'date-time' });
/** Money that can be negative: net movements (a day or month with more refunds than payments). */
const SignedMoney = Type.Integer({
  minimum: -Number.MAX_SAFE_INTEGER,
  maximum: Number.MAX_SAFE_INTEGER,
  description: 'integer minor units (cents); negative when refunds exceed payments',
});
const Count = Type.Integer({ minimum: 0 });
/** Cash paid (migration 0014: paid_amount − credited_amount) and credited (credit notes and write-offs): paid + credited + pending = invoiced. */
const CashPaid = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: 'cash settled: payments − refunds + family credit applied' });
const Credited = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: 'credit notes and write-offs (no money moved)' });
const Currency = Type.String({ description: 'ISO 4217 code of the school' });
const month = (description: string) => Type.String({ pattern: '^[0-9]{4}-(0[1-9]|1[0-2])$', description, examples: ['2026-09'] });
/** A month a client sends: 'YYYY-MM' inside SANE_DATES (2000-01 to 2100-12). */
const monthInput = (description: string) =>
  Type.String({
    pattern: '^(20[0-9]{2}|2100)-(0[1-9]|1[0-2])$',
    description: `${description}; between ${SANE_DATES.earliest.slice(0, 7)} and ${SANE_DATES.latest.slice(0, 7)}`,
    examples: ['2026-09'],
  });

const page = <T extends TSchema>(row: T) => Type.Object({ data: Type.Array(row), nextCursor: Nullable(Type.String()) });
/**
 * `format=csv` streams every matching row (from `cursor`, if given) as a CSV file
 * (billing-reports.csv.ts); `style` and `lang` shape it.
 */
const csvQuery = {
  format: Type.Optional(Type.Union([Type.Literal('json'), Type.Literal('csv')], { description: 'json (default): one page | csv: every matching row, as a file' })),
  style: Type.Optional(ExportStyleParam),
  lang: Type.Optional(LanguageParam),
};
const query = <P extends Record<string, TSchema>>(properties: P) =>
  Type.Object({ ...ListQuery, ...csvQuery, ...properties }, { additionalProperties: false });

const schoolFilter = { schoolId: Type.Optional(Uuid) };

// --- 1. Student balances ---------------------------------------------------------------
export const StudentBalanceQuery = query({
  ...schoolFilter,
  grade: Type.Optional(Type.String({ minLength: 1, maxLength: 20 })),
  onlyWithBalance: Type.Optional(Type.Boolean({ description: 'only students who still owe money' })),
});
export type StudentBalanceQuery = Static<typeof StudentBalanceQuery>;
export const StudentBalanceRow = Type.Object({
  studentId: Uuid,
  schoolId: Uuid,
  schoolName: Type.String(),
  studentName: Type.String({ description: 'initials only for roles that see PII masked' }),
  grade: Type.String(),
  currency: Currency,
  invoiceCount: Count,
  totalInvoiced: Money,
  totalPaid: CashPaid,
  totalCredited: Credited,
  balance: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: 'still open: totalInvoiced − totalPaid − totalCredited' }),
  overdueAmount: Money,
  oldestOverdueDueDate: Nullable(DateOnly),
});
export type StudentBalanceRow = Static<typeof StudentBalanceRow>;
export const StudentBalancePage = page(StudentBalanceRow);

// --- 2. School summary -----------------------------------------------------------------
export const SchoolSummaryQuery = query(schoolFilter);
export type SchoolSummaryQuery = Static<typeof SchoolSummaryQuery>;
export const SchoolSummaryRow = Type.Object({
  schoolId: Uuid,
  schoolName: Type.String(),
  currency: Currency,
  totalStudents: Count,
  activeStudents: Count,
  invoiceCount: Count,
  totalInvoiced: Money,
  totalPaid: CashPaid,
  totalCredited: Credited,
  totalPending: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: 'still open: totalInvoiced − totalPaid − totalCredited' }),
  totalOverdue: Money,
  collectionRate: Type.Number({
    minimum: 0,
    maximum: 1,
    description: 'totalPaid / (totalInvoiced − totalCredited): the share of what is owed that was paid, 4 decimals; 0 when nothing is owed',
  }),
});
export type SchoolSummaryRow = Static<typeof SchoolSummaryRow>;
export const SchoolSummaryPage = page(SchoolSummaryRow);

// --- 3. Invoice details ----------------------------------------------------------------
export const InvoiceDetailsQuery = query({
  ...schoolFilter,
  studentId: Type.Optional(Uuid),
  status: Type.Optional(InvoiceStatus),
  dueFrom: Type.Optional(DateInput('due on or after this day')),
  dueTo: Type.Optional(DateInput('due on or before this day')),
});
export type InvoiceDetailsQuery = Static<typeof InvoiceDetailsQuery>;
export const InvoiceDetailsRow = Type.Object({
  invoiceId: Uuid,
  number: Type.String(),
  description: Nullable(Type.String()),
  schoolId: Uuid,
  schoolName: Type.String(),
  studentId: Uuid,
  studentName: Type.String(),
  grade: Type.String(),
  amount: Money,
  paidAmount: CashPaid,
  creditedAmount: Credited,
  pendingAmount: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: 'still open: amount − paidAmount − creditedAmount' }),
  currency: Currency,
  status: InvoiceStatus,
  dueDate: DateOnly,
  paymentCount: Count,
  lastPaymentAt: Nullable(Timestamp),
});
export type InvoiceDetailsRow = Static<typeof InvoiceDetailsRow>;
export const InvoiceDetailsPage = page(InvoiceDetailsRow);

// --- 4. Overdue invoices ---------------------------------------------------------------
export const OverdueQuery = query({
  ...schoolFilter,
  minDaysOverdue: Type.Optional(Type.Integer({ minimum: 1, maximum: 36_500, description: 'at least this many days past due' })),
});
export type OverdueQuery = Static<typeof OverdueQuery>;
export const OverdueRow = Type.Object({
  invoiceId: Uuid,
  number: Type.String(),
  schoolId: Uuid,
  schoolName: Type.String(),
  studentId: Uuid,
  studentName: Type.String(),
  grade: Type.String(),
  amount: Money,
  paidAmount: CashPaid,
  creditedAmount: Credited,
  pendingAmount: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: 'still open: amount − paidAmount − creditedAmount' }),
  currency: Currency,
  dueDate: DateOnly,
  daysOverdue: Type.Integer({ minimum: 1, description: 'whole days since the due date, in the school’s time zone' }),
});
export type OverdueRow = Static<typeof OverdueRow>;
export const OverduePage = page(OverdueRow);

// --- 5. Payment history ----------------------------------------------------------------
export const PaymentHistoryQuery = query({
  ...schoolFilter,
  studentId: Type.Optional(Uuid),
  method: Type.Optional(PaymentMethod),
  from: Type.Optional(TimestampInput('paidAt >= from')),
  to: Type.Optional(TimestampInput('paidAt < to')),
});
export type PaymentHistoryQuery = Static<typeof PaymentHistoryQuery>;
export const PaymentHistoryRow = Type.Object({
  paymentId: Uuid,
  paidAt: Timestamp,
  amount: Money,
  refundedAmount: Money,
  netAmount: Money,
  method: PaymentMethod,
  reference: Nullable(Type.String({ description: 'last 4 characters only for roles that see PII masked' })),
  invoiceId: Uuid,
  invoiceNumber: Type.String(),
  studentId: Uuid,
  studentName: Type.String(),
  schoolId: Uuid,
  schoolName: Type.String(),
  currency: Currency,
});
export type PaymentHistoryRow = Static<typeof PaymentHistoryRow>;
export const PaymentHistoryPage = page(PaymentHistoryRow);

// --- 6. Daily collections --------------------------------------------------------------
export const MAX_DAILY_RANGE_DAYS = 366;
export const DEFAULT_DAILY_RANGE_DAYS = 30;
export const DailyCollectionsQuery = query({
  ...schoolFilter,
  from: Type.Optional(DateInput('first day (inclusive, school’s local calendar); default 29 days before to')),
  to: Type.Optional(DateInput('last day (inclusive, school’s local calendar); default today')),
});
export type DailyCollectionsQuery = Static<typeof DailyCollectionsQuery>;
export const DailyCollectionsRow = Type.Object({
  date: DateOnly,
  schoolId: Uuid,
  schoolName: Type.String(),
  currency: Currency,
  paymentCount: Count,
  collected: Money,
  refunded: Money,
  net: SignedMoney,
});
export type DailyCollectionsRow = Static<typeof DailyCollectionsRow>;
export const DailyCollectionsPage = page(DailyCollectionsRow);

// --- 7. Monthly revenue ----------------------------------------------------------------
export const MAX_MONTHLY_RANGE_MONTHS = 36;
export const DEFAULT_MONTHLY_RANGE_MONTHS = 12;
export const MonthlyRevenueQuery = query({
  ...schoolFilter,
  from: Type.Optional(monthInput('first month YYYY-MM (inclusive); default 11 months before to')),
  to: Type.Optional(monthInput('last month YYYY-MM (inclusive); default the current month in the school’s zone')),
});
export type MonthlyRevenueQuery = Static<typeof MonthlyRevenueQuery>;
export const MonthlyRevenueRow = Type.Object({
  month: month('calendar month YYYY-MM'),
  schoolId: Uuid,
  schoolName: Type.String(),
  currency: Currency,
  invoiceCount: Count,
  invoiced: Money,
  collected: SignedMoney,
  outstanding: Money,
});
export type MonthlyRevenueRow = Static<typeof MonthlyRevenueRow>;
export const MonthlyRevenuePage = page(MonthlyRevenueRow);
