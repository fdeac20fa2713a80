import { Type, type Static } from 'typebox';
import { Money, PaymentMethod, Timestamp, TimestampInput, Uuid } from '../billing/billing.schemas.js';

/**
 * Live analytics (SPEC §3 "Live analytics", seed 003): the recent-transactions list and
 * the metrics, trends and methods aggregates behind the Live page. Money is integer
 * minor units and always per currency: nothing here sums two currencies.
 */
export const MAX_TRANSACTIONS_PAGE = 200;
export const DEFAULT_TRANSACTIONS_PAGE = 50;

export const PERIODS = ['day', 'week', 'month'] as const;
export type Period = (typeof PERIODS)[number];
/** Length of each period: the last 24 hours, 7 days or 30 days. */
export const PERIOD_DAYS: Readonly<Record<Period, number>> = { day: 1, week: 7, month: 30 };

const PeriodParam = Type.Union(
  [Type.Literal('day'), Type.Literal('week'), Type.Literal('month')],
  { default: 'day', description: 'day = the last 24 h, week = the last 7 days, month = the last 30 days' },
);
const SchoolParam = Type.Optional(Uuid);
const Count = Type.Integer({ minimum: 0 });
const Currency = Type.String({ description: 'ISO 4217 of the schools the row is about' });
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) => Type.Union([schema, Type.Null()]);

export const TransactionStatusParam = Type.Union([Type.Literal('succeeded'), Type.Literal('failed'), Type.Literal('refunded')], {
  description: 'succeeded | failed | refunded',
});

// --------------------------------------------------------------- GET /transactions
export const TransactionListQuery = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_TRANSACTIONS_PAGE, default: DEFAULT_TRANSACTIONS_PAGE })),
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 512, description: 'nextCursor of the previous page' })),
    schoolId: SchoolParam,
    status: Type.Optional(TransactionStatusParam),
    method: Type.Optional(PaymentMethod),
    from: Type.Optional(TimestampInput('createdAt ≥ from (ISO timestamp)')),
    to: Type.Optional(TimestampInput('createdAt < to (ISO timestamp)')),
  },
  { additionalProperties: false },
);
export type TransactionListQuery = Static<typeof TransactionListQuery>;

export const TransactionItem = Type.Object({
  id: Uuid,
  eventId: Nullable(
    Type.String({
      description:
        'the live event id; null for bulk-loaded history. This list shows committed rows at once, the live feed only once every older ' +
        'transaction has ended, so resume the feed from the hello message\'s lastEventId, not from a row of this list.',
    }),
  ),
  type: Type.Union([Type.Literal('payment_received'), Type.Literal('payment_failed'), Type.Literal('payment_refunded')]),
  schoolId: Uuid,
  schoolName: Type.String(),
  invoiceId: Nullable(Uuid),
  invoiceNumber: Nullable(Type.String()),
  studentName: Nullable(Type.String({ description: 'initials for roles that see PII masked' })),
  amount: Money,
  currency: Currency,
  method: PaymentMethod,
  status: Type.Union([Type.Literal('succeeded'), Type.Literal('failed'), Type.Literal('refunded'), Type.Literal('pending')]),
  gateway: Type.String(),
  failureCode: Nullable(Type.String()),
  createdAt: Timestamp,
});
export type TransactionItem = Static<typeof TransactionItem>;

export const TransactionPage = Type.Object({
  data: Type.Array(TransactionItem, { description: 'newest first' }),
  nextCursor: Nullable(Type.String()),
});
export type TransactionPage = Static<typeof TransactionPage>;

// --------------------------------------------------------------- analytics
/**
 * The IANA zone a person reads the figures in: the school's own for one school, the
 * viewer's across schools. It moves the peak hour and the trend buckets (local hours,
 * local days); totals over the rolling window do not depend on it.
 */
const TimeZoneParam = Type.String({
  minLength: 1,
  maxLength: 64,
  default: 'UTC',
  description: 'IANA time zone (e.g. America/Bogota) for peakHour and the trend buckets; default UTC',
});

export const AnalyticsQuery = Type.Object(
  {
    period: Type.Optional(PeriodParam),
    schoolId: SchoolParam,
    timeZone: Type.Optional(TimeZoneParam),
  },
  { additionalProperties: false },
);
export type AnalyticsQuery = Static<typeof AnalyticsQuery>;

export const CurrencyMetrics = Type.Object({
  currency: Currency,
  totalVolume: Type.Integer({ description: 'succeeded amount − refunded amount in the window (minor units; negative when refunds exceed)' }),
  totalPayments: Type.Integer({ minimum: 0, description: 'succeeded transactions' }),
  successRate: Nullable(Type.Number({ minimum: 0, maximum: 1, description: 'succeeded / (succeeded + failed); null when neither' })),
  averageAmount: Type.Integer({ minimum: 0, description: 'mean succeeded amount, rounded half up to minor units; 0 when none' }),
  peakHour: Nullable(
    Type.Integer({ minimum: 0, maximum: 23, description: 'hour of the day, in the report\'s timeZone, with the most succeeded payments (earliest on ties)' }),
  ),
  topPaymentMethod: Nullable(PaymentMethod),
  failedPayments: Count,
  refundedAmount: Money,
  succeededAmount: Money,
  refunds: Count,
});
export type CurrencyMetrics = Static<typeof CurrencyMetrics>;

const ZoneField = Type.String({ description: 'the IANA zone of peakHour and of the trend buckets (the timeZone asked for, else UTC)' });

export const MetricsReport = Type.Object({
  period: PeriodParam,
  timeZone: ZoneField,
  from: Timestamp,
  to: Timestamp,
  byCurrency: Type.Array(CurrencyMetrics, { description: 'one entry per currency of the selected schools, by currency' }),
  generatedAt: Timestamp,
});
export type MetricsReport = Static<typeof MetricsReport>;

export const TrendsReport = Type.Object({
  period: PeriodParam,
  unit: Type.Union([Type.Literal('hour'), Type.Literal('day')]),
  timeZone: ZoneField,
  from: Timestamp,
  to: Timestamp,
  points: Type.Array(
    Type.Object({
      bucket: Type.String({ format: 'date-time', description: 'start (UTC instant) of the hour or the day in timeZone' }),
      currency: Currency,
      amount: Money,
      count: Count,
      failed: Count,
      refunded: Money,
    }),
    {
      description:
        'every bucket × every currency of the selected schools, by bucket then currency; amount/count = succeeded, failed = failed ' +
        'attempts, refunded = refunded amount',
    },
  ),
});
export type TrendsReport = Static<typeof TrendsReport>;

export const MethodsReport = Type.Object({
  period: PeriodParam,
  from: Timestamp,
  to: Timestamp,
  methods: Type.Array(
    Type.Object({
      method: PaymentMethod,
      currency: Currency,
      amount: Money,
      count: Count,
      failed: Count,
      refunded: Money,
    }),
    { description: 'methods with any activity in the window, by currency then amount (desc)' },
  ),
});
export type MethodsReport = Static<typeof MethodsReport>;
