import { Type, type Static, type TSchema } from 'typebox';
import { DateInput, DateOnly, Money, PaymentMethod, Uuid } from '../billing/billing.schemas.js';

/**
 * TypeBox schemas of GET /reports/dashboard (SPEC §3 "Reporting engine").
 *
 * Money is integer minor units and is never summed across currencies: every aggregate
 * row carries its currency, and `totals` is filled only when the selection has exactly
 * one currency (otherwise its fields are null and `totalsByCurrency` has one row per
 * currency).
 */
const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);
/** Net money received in a range: negative when refunds exceed payments. */
const SignedMoney = Type.Integer({
  minimum: -Number.MAX_SAFE_INTEGER,
  maximum: Number.MAX_SAFE_INTEGER,
  description: 'integer minor units (cents); negative when refunds exceed payments in the range',
});
const Currency = Type.String({ description: 'ISO 4217 code' });

export const DEFAULT_SCHOOLS_LIMIT = 50;
export const MAX_SCHOOLS_LIMIT = 200;
export const OUTSTANDING_SAMPLE_SIZE = 10;

export const DashboardQuery = Type.Object(
  {
    schoolId: Type.Optional(Uuid),
    grade: Type.Optional(Type.String({ minLength: 1, maxLength: 20, description: 'the student’s grade' })),
    method: Type.Optional(PaymentMethod),
    from: Type.Optional(DateInput('first day (inclusive): due date for due/outstanding/overdue, school-local payment day for collected')),
    to: Type.Optional(DateInput('last day (inclusive), same meaning as from')),
    schoolsLimit: Type.Optional(
      Type.Integer({ minimum: 1, maximum: MAX_SCHOOLS_LIMIT, default: DEFAULT_SCHOOLS_LIMIT, description: 'schools per page of bySchool' }),
    ),
    schoolsCursor: Type.Optional(Type.String({ minLength: 1, maxLength: 512, description: 'bySchoolNextCursor of the previous page (same schoolsSort)' })),
    schoolsSort: Type.Optional(
      Type.Union([Type.Literal('outstanding'), Type.Literal('name')], {
        default: 'outstanding',
        description: 'bySchool order: largest amountOutstanding first (then name), or by name',
      }),
    ),
  },
  { additionalProperties: false },
);
export type DashboardQuery = Static<typeof DashboardQuery>;

const amounts = {
  amountDue: Money,
  amountCollected: SignedMoney,
  amountOutstanding: Money,
  amountOverdue: Money,
};

export const DashboardTotals = Type.Object({
  currency: Nullable(Currency),
  amountDue: Nullable(Money),
  amountCollected: Nullable(SignedMoney),
  amountOutstanding: Nullable(Money),
  amountOverdue: Nullable(Money),
});

export const CurrencyTotals = Type.Object({ currency: Currency, ...amounts });
export type CurrencyTotals = Static<typeof CurrencyTotals>;

export const SchoolTotals = Type.Object({ schoolId: Uuid, schoolName: Type.String(), currency: Currency, ...amounts });
export type SchoolTotals = Static<typeof SchoolTotals>;

export const MethodTotals = Type.Object({
  method: PaymentMethod,
  currency: Currency,
  amount: SignedMoney,
  count: Type.Integer({ minimum: 0, description: 'payments received (refunds do not change it)' }),
});
export type MethodTotals = Static<typeof MethodTotals>;

export const GradeTotals = Type.Object({
  grade: Type.String({ description: 'a student grade, or "family credit, no grade": money received as family credit (collected only; it belongs to no student)' }),
  currency: Currency,
  ...amounts,
});
export type GradeTotals = Static<typeof GradeTotals>;

export const OutstandingInvoice = Type.Object({
  invoiceId: Uuid,
  number: Type.String(),
  schoolId: Uuid,
  schoolName: Type.String(),
  studentId: Uuid,
  studentName: Type.String({ description: 'initials only for roles that see PII masked' }),
  grade: Type.String(),
  dueDate: DateOnly,
  amount: Money,
  pendingAmount: Money,
  currency: Currency,
  status: Type.Union([Type.Literal('PENDING'), Type.Literal('PARTIAL'), Type.Literal('OVERDUE')]),
});
export type OutstandingInvoice = Static<typeof OutstandingInvoice>;

export const Dashboard = Type.Object({
  totals: DashboardTotals,
  totalsByCurrency: Type.Array(CurrencyTotals),
  bySchool: Type.Array(SchoolTotals, {
    description: `one page of the selected schools (schoolsLimit, default ${DEFAULT_SCHOOLS_LIMIT}), in schoolsSort order: largest amountOutstanding first by default`,
  }),
  bySchoolNextCursor: Nullable(Type.String({ description: 'pass as schoolsCursor for the next page of bySchool; null on the last page' })),
  bySchoolTruncated: Type.Boolean({ description: 'true when more schools follow this page (bySchoolNextCursor is set)' }),
  schoolCount: Type.Integer({ minimum: 0, description: 'how many schools the figures cover' }),
  byPaymentMethod: Type.Array(MethodTotals),
  byGrade: Type.Array(GradeTotals),
  outstandingSample: Type.Array(OutstandingInvoice, { description: `the ${OUTSTANDING_SAMPLE_SIZE} oldest-due invoices that still owe money` }),
  generatedAt: Type.String({ format: 'date-time' }),
});
export type Dashboard = Static<typeof Dashboard>;
