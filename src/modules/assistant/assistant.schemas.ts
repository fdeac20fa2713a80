import { Type, type Static, type TSchema } from 'typebox';
import { DateInput, DateOnly, Money, Uuid } from '../billing/billing.schemas.js';
import { CurrencyTotals, DashboardTotals } from '../reporting/dashboard.schemas.js';

/**
 * TypeBox schemas of the collection assistant (SPEC §3 "Collection assistant"). Both
 * providers (rules, LLM) answer with these same shapes; `generatedBy` says which one
 * wrote the text, and `fallbackReason` why the rules answered when an LLM is configured.
 * Money is integer minor units with its ISO 4217 currency; dates are school-local days.
 */
const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);
const Currency = Type.String({ description: 'ISO 4217 code' });

const languageOf = (options: object = {}) => Type.Union([Type.Literal('es'), Type.Literal('en')], { description: 'es | en', ...options });
const channelOf = (options: object = {}) => Type.Union([Type.Literal('email'), Type.Literal('sms'), Type.Literal('whatsapp')], { description: 'email | sms | whatsapp', ...options });
const toneOf = (options: object = {}) => Type.Union([Type.Literal('friendly'), Type.Literal('firm'), Type.Literal('final_notice')], { description: 'friendly | firm | final_notice', ...options });
export const Language = languageOf();
export type Language = Static<typeof Language>;
export const Channel = channelOf();
export const Tone = toneOf();
export const GeneratedBy = Type.Union([Type.Literal('rules'), Type.Literal('llm')], { description: 'which provider wrote the text' });
export const FallbackReason = Type.Union(
  [Type.Literal('timeout'), Type.Literal('llm_error'), Type.Literal('malformed_output'), Type.Literal('guard_blocked')],
  { description: 'why the rule engine answered although an LLM is configured' },
);
export type FallbackReason = Static<typeof FallbackReason>;

const provenance = {
  generatedBy: GeneratedBy,
  fallbackReason: Type.Optional(FallbackReason),
};

export const StudentParams = Type.Object({ studentId: Uuid });
export type StudentParams = Static<typeof StudentParams>;

// --- Risk --------------------------------------------------------------------------
export const RiskBody = Type.Object({ language: Type.Optional(Language) }, { additionalProperties: false });
export type RiskBody = Static<typeof RiskBody>;

export const RiskFactor = Type.Object({
  code: Type.Union([
    Type.Literal('LATE_SHARE'),
    Type.Literal('LATE_DEPTH'),
    Type.Literal('OVERDUE_AMOUNT'),
    Type.Literal('PARTIAL_PAYMENTS'),
    Type.Literal('OUTSTANDING'),
    Type.Literal('TREND'),
    Type.Literal('TENURE'),
  ]),
  label: Type.String(),
  weight: Type.Integer({ description: 'the most points the factor adds (TREND and TENURE can also remove up to this many)' }),
  points: Type.Integer({ description: 'points this factor adds to the score (negative: credit)' }),
  value: Type.Number({ description: 'the measured quantity; see detail' }),
  detail: Type.String({ description: 'how the points follow from the numbers' }),
});

export const RiskMetrics = Type.Object({
  billCount: Type.Integer(),
  maturedCount: Type.Integer({ description: 'bills fully paid or past their due date' }),
  lateCount: Type.Integer(),
  onTimeCount: Type.Integer(),
  lateShare: Type.Number(),
  averageDaysLate: Type.Number(),
  maxDaysLate: Type.Integer(),
  partialCount: Type.Integer(),
  outstandingAmount: Money,
  overdueAmount: Money,
  overdueCount: Type.Integer(),
  oldestOverdueDueDate: Nullable(DateOnly),
  averageBillAmount: Money,
  tenureDays: Type.Integer(),
});

export const RiskAnalysis = Type.Object({
  studentId: Uuid,
  studentName: Type.String({ description: 'initials only for roles that see PII masked' }),
  schoolId: Uuid,
  schoolName: Type.String(),
  currency: Currency,
  riskLevel: Type.Union([Type.Literal('LOW'), Type.Literal('MEDIUM'), Type.Literal('HIGH')]),
  riskScore: Type.Integer({ minimum: 0, maximum: 100 }),
  riskFactors: Type.Array(RiskFactor),
  recommendations: Type.Array(Type.String()),
  predictedPaymentProbability: Type.Number({ minimum: 0, maximum: 1, description: 'chance of paying the next bill on time' }),
  suggestedAction: Type.String(),
  suggestedTone: Nullable(Tone),
  summary: Type.String(),
  metrics: RiskMetrics,
  language: Language,
  ...provenance,
  generatedAt: Type.String({ format: 'date-time' }),
});
export type RiskAnalysis = Static<typeof RiskAnalysis>;

// --- Collection messages -------------------------------------------------------------
const messageOptions = {
  channel: Type.Optional(channelOf({ default: 'email' })),
  language: Type.Optional(languageOf({ default: 'es' })),
  tone: Type.Optional(toneOf({ default: 'friendly' })),
};

export const StudentMessageBody = Type.Object(messageOptions, { additionalProperties: false });
export type StudentMessageBody = Static<typeof StudentMessageBody>;

export const MessageBody = Type.Object(
  {
    ...messageOptions,
    studentId: Type.Optional(Uuid),
    studentName: Type.Optional(Type.String({ minLength: 1, maxLength: 120, description: 'with explicit fields (no studentId)' })),
    schoolName: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    amount: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000_000_000, description: 'integer minor units owed' })),
    currency: Type.Optional(Type.String({ pattern: '^[A-Z]{3}$' })),
    dueDate: Type.Optional(DateInput('the day the amount fell or falls due')),
    timezone: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'IANA zone deciding whether dueDate is past (default UTC)' })),
  },
  { additionalProperties: false, description: 'either studentId, or studentName + amount + currency + dueDate' },
);
export type MessageBody = Static<typeof MessageBody>;

export const CollectionMessage = Type.Object({
  studentId: Nullable(Uuid),
  channel: Channel,
  language: Language,
  tone: Tone,
  subject: Nullable(Type.String({ description: 'e-mail only' })),
  body: Type.String(),
  characters: Type.Integer({ description: 'Unicode characters in body' }),
  segments: Nullable(Type.Integer({ description: 'SMS only: segments the body takes (always 1: ≤ 160 GSM-7 septets)' })),
  smsEncoding: Nullable(Type.Union([Type.Literal('GSM-7'), Type.Literal('UCS-2')])),
  smsUnits: Nullable(Type.Integer({ description: 'SMS only: septets (GSM-7)' })),
  amounts: Type.Object({
    outstanding: Money,
    overdue: Money,
    formattedOutstanding: Type.String(),
    formattedOverdue: Type.String(),
  }),
  currency: Currency,
  dueDates: Type.Object({
    oldestOverdue: Nullable(DateOnly),
    nextDue: Nullable(DateOnly),
    payBy: Nullable(DateOnly),
  }),
  nothingToCollect: Type.Boolean({
    description: 'true when the student owes nothing: there is no message to send (`body` is empty, amounts are 0) and `note` says so',
  }),
  note: Nullable(
    Type.String({ description: 'for the person asking, in the requested language, not part of the message: e.g. that the student owes nothing' }),
  ),
  ...provenance,
});
export type CollectionMessage = Static<typeof CollectionMessage>;

// --- Chat ------------------------------------------------------------------------------
export const ChatBody = Type.Object({ message: Type.String({ minLength: 1, maxLength: 1000 }) }, { additionalProperties: false });
export type ChatBody = Static<typeof ChatBody>;

export const ChatAnswer = Type.Object({
  answer: Type.String(),
  intent: Type.String({ description: 'STUDENT_BALANCE | OVERDUE_IN_SCHOOL | OVERDUE_ALL | TOP_DEBTORS | COLLECTION_RATE | COMPARE_SCHOOLS | HELP | (LLM) the tools used' }),
  language: Language,
  data: Type.Unknown({ description: 'the numbers the answer was written from, masked per role' }),
  sources: Type.Array(Type.String(), { description: 'the tools (data queries) used' }),
  ...provenance,
});
export type ChatAnswer = Static<typeof ChatAnswer>;

// --- Executive summary -------------------------------------------------------------------
export const SummaryBody = Type.Object({ schoolId: Type.Optional(Uuid), language: Type.Optional(Language) }, { additionalProperties: false });
export type SummaryBody = Static<typeof SummaryBody>;

const MonthFigures = Type.Object({
  month: Type.String({ description: 'YYYY-MM' }),
  amountDue: Money,
  amountCollected: Type.Integer({ description: 'money received in the month (payments − refunds + family credit), minor units' }),
  amountOutstanding: Money,
  collectionRate: Nullable(Type.Number({ description: 'share of the month’s billing already paid: (due − outstanding) / due' })),
});

export const ExecutiveSummary = Type.Object({
  scope: Type.Object({ schoolId: Nullable(Uuid), schoolCount: Type.Integer() }),
  kpis: Type.Object({ totals: DashboardTotals, totalsByCurrency: Type.Array(CurrencyTotals) }, { description: 'equal to GET /reports/dashboard for the same scope' }),
  trends: Type.Array(
    Type.Object({
      currency: Currency,
      thisMonth: MonthFigures,
      lastMonth: MonthFigures,
      collectedChange: Nullable(Type.Number({ description: 'relative change of amountCollected, this month vs last' })),
    }),
  ),
  risks: Type.Object({
    schools: Type.Array(
      Type.Object({ schoolId: Uuid, schoolName: Type.String(), currency: Currency, amountDue: Money, amountOverdue: Money, overdueShare: Type.Number() }),
    ),
    students: Type.Array(
      Type.Object({
        studentId: Uuid,
        studentName: Type.String(),
        schoolName: Type.String(),
        currency: Currency,
        overdue: Money,
        balance: Money,
        riskScore: Type.Integer(),
        riskLevel: Type.String(),
      }),
    ),
  }),
  recommendedActions: Type.Array(Type.String()),
  narrative: Type.String(),
  language: Language,
  ...provenance,
  generatedAt: Type.String({ format: 'date-time' }),
});
export type ExecutiveSummary = Static<typeof ExecutiveSummary>;

// --- Status and student picker ----------------------------------------------------------
export const AssistantStatus = Type.Object({
  provider: Type.Union([Type.Literal('rules'), Type.Literal('llm')]),
  model: Nullable(Type.String()),
  baseUrlHost: Nullable(Type.String({ description: 'host of LLM_BASE_URL; never the key' })),
  healthy: Type.Boolean({ description: 'false when the last LLM call failed (answers then come from the rules)' }),
  lastError: Nullable(Type.String()),
  lastErrorAt: Nullable(Type.String({ format: 'date-time' })),
  lastSuccessAt: Nullable(Type.String({ format: 'date-time' })),
  rateLimitPerMinute: Type.Integer(),
  tools: Type.Array(Type.String()),
});
export type AssistantStatus = Static<typeof AssistantStatus>;

export const StudentSearchQuery = Type.Object(
  {
    q: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'name words (roles that see names) or school name (masked roles)' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 50, default: 10 })),
  },
  { additionalProperties: false },
);
export type StudentSearchQuery = Static<typeof StudentSearchQuery>;

export const StudentOption = Type.Object({
  studentId: Uuid,
  studentName: Type.String(),
  schoolId: Uuid,
  schoolName: Type.String(),
  grade: Type.String(),
  currency: Currency,
  balance: Money,
});
export const StudentSearchResult = Type.Object({
  data: Type.Array(StudentOption),
  matchedBy: Type.Union([Type.Literal('name'), Type.Literal('balance')], { description: 'masked roles cannot search by name: they get the largest balances' }),
});
export type StudentSearchResult = Static<typeof StudentSearchResult>;
