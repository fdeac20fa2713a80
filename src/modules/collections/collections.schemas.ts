import { Type, type Static } from 'typebox';
import { DateInput, DateOnly, ListQuery, PositiveMoney, Timestamp, Uuid } from '../billing/billing.schemas.js';

/** TypeBox schemas of collections (SPEC §8): the late-fee policy and the daily run. */
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) => Type.Union([schema, Type.Null()]);

export const LateFeeKind = Type.Union([Type.Literal('fixed'), Type.Literal('percent'), Type.Literal('daily_interest')], {
  description: 'fixed: value minor units, once per overdue invoice | percent: value % of the open amount, once | daily_interest: value % of the open amount per school day',
});

export const LateFeePolicy = Type.Object(
  {
    schoolId: Uuid,
    kind: LateFeeKind,
    value: Type.Number({ description: 'fixed: integer minor units; percent and daily_interest: a number of percent (0 < value ≤ 100, up to 4 decimals)' }),
    graceDays: Type.Integer({ minimum: 0, maximum: 365, description: 'days after the due date before the first late fee' }),
    cap: Nullable(Type.Integer({ minimum: 1, description: 'the most late fees charged for one overdue invoice, minor units (waived or cancelled fees do not make room again); null: no cap' })),
    enabled: Type.Boolean({ description: 'false: the daily run posts no late fees for this school' }),
    updatedAt: Timestamp,
  },
  { $id: 'LateFeePolicy' },
);
export type LateFeePolicy = Static<typeof LateFeePolicy>;

export const PutLateFeePolicyBody = Type.Object(
  {
    kind: LateFeeKind,
    value: Type.Number({ exclusiveMinimum: 0, maximum: 1_000_000_000_000, description: 'fixed: integer minor units; percent and daily_interest: percent, 0 < value ≤ 100', examples: [50000] }),
    graceDays: Type.Optional(Type.Integer({ minimum: 0, maximum: 365, description: 'default 0' })),
    cap: Type.Optional(Nullable(PositiveMoney)),
    enabled: Type.Optional(Type.Boolean({ description: 'default true' })),
  },
  { additionalProperties: false },
);
export type PutLateFeePolicyBody = Static<typeof PutLateFeePolicyBody>;

export const SchoolParams = Type.Object({ id: Uuid });

export const CollectionRunBody = Type.Object(
  {
    schoolId: Uuid,
    date: Type.Optional(DateInput('the school day to run (default: today in the school’s time zone); never in the future')),
  },
  { additionalProperties: false },
);
export type CollectionRunBody = Static<typeof CollectionRunBody>;

export const CollectionRunResult = Type.Object(
  {
    schoolId: Uuid,
    date: DateOnly,
    lateFeesPosted: Type.Integer({ minimum: 0, description: 'late fees this run posted (a re-run of a day posts none)' }),
    lateFeeAmount: Type.Integer({ minimum: 0, description: 'their sum, minor units' }),
    remindersSent: Type.Integer({ minimum: 0 }),
    remindersSkipped: Type.Integer({ minimum: 0 }),
    runs: Type.Integer({ minimum: 1, description: 'how many times this school day has run (1 = the first)' }),
  },
  { $id: 'CollectionRunResult' },
);
export type CollectionRunResult = Static<typeof CollectionRunResult>;

export const CollectionDay = Type.Object(
  {
    schoolId: Uuid,
    date: DateOnly,
    lateFeesPosted: Type.Integer({ minimum: 0, description: 'late fees the day posted, over all its runs' }),
    lateFeeAmount: Type.Integer({ minimum: 0 }),
    remindersSent: Type.Integer({ minimum: 0 }),
    remindersSkipped: Type.Integer({ minimum: 0 }),
    runs: Type.Integer({ minimum: 1, description: 'how many times the day ran (the daily job, re-runs, POST /collections/run)' }),
    firstRunAt: Timestamp,
    lastRunAt: Timestamp,
  },
  { $id: 'CollectionDay' },
);
export type CollectionDay = Static<typeof CollectionDay>;

export const CollectionDayListQuery = Type.Object(
  { schoolId: Uuid, ...ListQuery },
  { additionalProperties: false },
);
export type CollectionDayListQuery = Static<typeof CollectionDayListQuery>;

// --- Reminders (dunning) -----------------------------------------------------------
export const ReminderChannel = Type.Union([Type.Literal('email'), Type.Literal('sms'), Type.Literal('whatsapp')]);
export const ReminderTemplate = Type.Union([Type.Literal('upcoming'), Type.Literal('due'), Type.Literal('overdue'), Type.Literal('final_notice')], {
  description: 'upcoming and due: a friendly reminder; overdue: a firm one with a pay-by date; final_notice: the last one before the school acts',
});
export const ReminderStep = Type.Object(
  {
    offsetDays: Type.Integer({ minimum: -90, maximum: 365, description: 'days after the due date (negative: before; 0: on the day)' }),
    channel: ReminderChannel,
    template: ReminderTemplate,
  },
  { additionalProperties: false },
);
export const MAX_REMINDER_STEPS = 20;

export const ReminderPolicy = Type.Object(
  {
    schoolId: Uuid,
    steps: Type.Array(ReminderStep),
    enabled: Type.Boolean({ description: 'false: the daily run sends no reminders for this school' }),
    updatedAt: Timestamp,
  },
  { $id: 'ReminderPolicy' },
);
export type ReminderPolicy = Static<typeof ReminderPolicy>;

export const PutReminderPolicyBody = Type.Object(
  {
    steps: Type.Array(ReminderStep, {
      maxItems: MAX_REMINDER_STEPS,
      description: 'at most one step per (offsetDays, channel)',
      examples: [[{ offsetDays: -3, channel: 'email', template: 'upcoming' }, { offsetDays: 5, channel: 'whatsapp', template: 'overdue' }]],
    }),
    enabled: Type.Optional(Type.Boolean({ description: 'default true' })),
  },
  { additionalProperties: false },
);
export type PutReminderPolicyBody = Static<typeof PutReminderPolicyBody>;

export const COLLECTIONS_SCHEMAS = [LateFeePolicy, CollectionRunResult, CollectionDay, ReminderPolicy];
