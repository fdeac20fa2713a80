import { Type, type Static } from 'typebox';
import { DateInput, DateOnly, ListQuery, PositiveMoney, Timestamp, Uuid } from '../billing/billing.schemas.js';
import { MAX_MONTHLY_COUNT } from './schedule.js';

/** TypeBox schemas of fee plans and enrolments (SPEC §7): validation, serialisation and OpenAPI from one source. */
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) => Type.Union([schema, Type.Null()]);
const Text = (max: number, examples?: string[]) => Type.String({ minLength: 1, maxLength: max, ...(examples ? { examples } : {}) });

/** Most items a plan has, most due dates a termly/custom schedule lists. */
export const MAX_ITEMS = 100;
export const MAX_DUE_DATES = 60;
/** Most students one bulk enrolment lists. */
export const MAX_BULK_STUDENTS = 10_000;

export const ItemCode = Type.String({ pattern: '^[A-Za-z0-9_-]{1,40}$', description: 'letters, digits, _ and -; unique in the plan', examples: ['TUITION'] });

const DueDateInput = DateInput('a due date inside the plan’s academic year', ['2026-09-05']);
export const FeeSchedule = Type.Union(
  [
    Type.Object({ kind: Type.Literal('once'), dueDate: DueDateInput }, { additionalProperties: false }),
    Type.Object(
      {
        kind: Type.Literal('monthly'),
        firstDue: DueDateInput,
        count: Type.Integer({ minimum: 1, maximum: MAX_MONTHLY_COUNT, description: 'instalments: firstDue, then the same day of each following month (clamped to its last day)' }),
      },
      { additionalProperties: false },
    ),
    Type.Object(
      {
        kind: Type.Union([Type.Literal('termly'), Type.Literal('custom')]),
        dueDates: Type.Array(DueDateInput, { maxItems: MAX_DUE_DATES, description: 'at least one' }),
      },
      { additionalProperties: false },
    ),
  ],
  { description: '{kind: once, dueDate} | {kind: monthly, firstDue, count} | {kind: termly|custom, dueDates[]}' },
);

export const EarlyPaymentTerms = Type.Object(
  {
    basis: Type.Union([Type.Literal('percent'), Type.Literal('fixed')]),
    value: Type.Number({ exclusiveMinimum: 0, maximum: 1_000_000_000_000, description: 'percent: a number of percent, 0 < value ≤ 100, up to 2 decimals; fixed: integer minor units per instalment' }),
    byDay: Type.Integer({ minimum: -90, maximum: 90, description: 'the last day to pay in full and earn it, relative to the due date (0: the due date; −5: five days before)' }),
  },
  {
    additionalProperties: false,
    description: 'pronto pago: paid in full by due date + byDay, in one payment, the instalment costs this much less (a discount line added in the paying transaction)',
    examples: [{ basis: 'percent', value: 5, byDay: -5 }],
  },
);

export const FeePlanItemInput = Type.Object(
  {
    code: ItemCode,
    description: Text(200, ['Tuition']),
    amount: PositiveMoney,
    optional: Type.Optional(Type.Boolean({ description: 'billed only to enrolments that choose it (default false)' })),
    accountCode: Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: 40 }))),
    schedule: FeeSchedule,
    earlyPayment: Type.Optional(Nullable(EarlyPaymentTerms)),
  },
  { additionalProperties: false },
);
export type FeePlanItemInput = Static<typeof FeePlanItemInput>;

const ItemsInput = Type.Array(FeePlanItemInput, { minItems: 1, maxItems: MAX_ITEMS });

export const CreateFeePlanBody = Type.Object(
  {
    schoolId: Uuid,
    name: Text(200, ['Primaria 2026-2027']),
    academicYear: Text(20, ['2026-2027']),
    yearStart: DateInput('the first day of the academic year', ['2026-08-01']),
    yearEnd: DateInput('the last day of the academic year', ['2027-07-31']),
    earlyPayment: Type.Optional(Nullable(EarlyPaymentTerms)),
    items: ItemsInput,
  },
  { additionalProperties: false },
);
export type CreateFeePlanBody = Static<typeof CreateFeePlanBody>;

export const PatchFeePlanBody = Type.Object(
  {
    name: Type.Optional(Text(200)),
    earlyPayment: Type.Optional(Nullable(EarlyPaymentTerms)),
    items: Type.Optional(
      Type.Array(FeePlanItemInput, {
        minItems: 1,
        maxItems: MAX_ITEMS,
        description:
          'the plan’s items after the change: a new code is added, a known code changed, a missing code removed. ' +
          'An item with billed instalments keeps its amount and its billed due dates (409 INSTALMENT_BILLED otherwise); ' +
          'to change its price for the rest of the year, keep it with the billed dates and add a new item code for the others.',
      }),
    ),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type PatchFeePlanBody = Static<typeof PatchFeePlanBody>;

export const FeePlanItem = Type.Object({
  code: Type.String(),
  description: Type.String(),
  amount: PositiveMoney,
  optional: Type.Boolean(),
  accountCode: Nullable(Type.String()),
  schedule: FeeSchedule,
  earlyPayment: Nullable(EarlyPaymentTerms),
  dueDates: Type.Array(DateOnly, { description: 'the schedule’s due dates, oldest first' }),
  billedDueDates: Type.Optional(Type.Array(DateOnly, { description: 'due dates already billed (on invoices not cancelled): they cannot change' })),
});

export const FeePlan = Type.Object(
  {
    id: Uuid,
    schoolId: Uuid,
    name: Type.String(),
    academicYear: Type.String(),
    yearStart: DateOnly,
    yearEnd: DateOnly,
    earlyPayment: Nullable(EarlyPaymentTerms),
    items: Type.Array(FeePlanItem),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  },
  { $id: 'FeePlan' },
);

export const FeePlanListQuery = Type.Object({ ...ListQuery, schoolId: Type.Optional(Uuid) });
export type FeePlanListQuery = Static<typeof FeePlanListQuery>;

// --- Enrolments ------------------------------------------------------------------------
export const Payer = Type.Object(
  {
    guardianId: Uuid,
    share: Type.Number({ exclusiveMinimum: 0, maximum: 1, description: 'part of every instalment (6 decimals kept); shares sum to 1', examples: [1] }),
  },
  { additionalProperties: false },
);

export const CreateEnrolmentBody = Type.Object(
  {
    feePlanId: Uuid,
    from: DateInput('the first day billed: instalments due from this day on (inside the plan’s academic year)', ['2026-08-01']),
    to: Type.Optional(Nullable(DateInput('the last day billed (inside the academic year); null = to the end of the year', ['2027-07-31']))),
    optionalItems: Type.Optional(Type.Array(ItemCode, { maxItems: MAX_ITEMS, description: 'codes of the plan’s optional items this enrolment takes' })),
    payers: Type.Optional(
      Type.Array(Payer, { maxItems: 10, description: 'guardians of the student’s family splitting every instalment; none = the family pays as one' }),
    ),
  },
  { additionalProperties: false },
);
export type CreateEnrolmentBody = Static<typeof CreateEnrolmentBody>;

export const PatchEnrolmentBody = Type.Object(
  {
    to: DateInput('withdrawal: the last day billed; instalments due after it stop, and their unpaid invoices are cancelled', ['2027-03-31']),
  },
  { additionalProperties: false },
);
export type PatchEnrolmentBody = Static<typeof PatchEnrolmentBody>;

export const Enrolment = Type.Object(
  {
    id: Uuid,
    schoolId: Uuid,
    studentId: Uuid,
    feePlanId: Uuid,
    feePlanName: Type.String(),
    from: DateOnly,
    to: Nullable(DateOnly),
    optionalItems: Type.Array(Type.String()),
    payers: Type.Array(Type.Object({ guardianId: Uuid, share: Type.Number() })),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  },
  { $id: 'Enrolment' },
);

export const Withdrawal = Type.Object(
  {
    ...Enrolment.properties,
    cancelled: Type.Integer({ description: 'unpaid invoices due after `to` that this enrolment billed, now cancelled' }),
    kept: Type.Integer({ description: 'invoices due after `to` kept: something is settled on them (or they also bill another enrolment)' }),
    cancelledInvoiceIds: Type.Array(Uuid),
    keptInvoiceIds: Type.Array(Uuid),
  },
  { $id: 'Withdrawal' },
);

export const BulkEnrolmentBody = Type.Object(
  {
    studentIds: Type.Optional(Type.Array(Uuid, { minItems: 1, maxItems: MAX_BULK_STUDENTS, description: 'students to enrol (or give grade)' })),
    grade: Type.Optional(Type.String({ minLength: 1, maxLength: 20, description: 'every active student of this grade in the plan’s school (or give studentIds)' })),
    from: DateInput('the first day billed (inside the plan’s academic year)', ['2026-08-01']),
    to: Type.Optional(Nullable(DateInput('the last day billed; null = to the end of the year', ['2027-07-31']))),
    optionalItems: Type.Optional(Type.Array(ItemCode, { maxItems: MAX_ITEMS })),
  },
  { additionalProperties: false },
);
export type BulkEnrolmentBody = Static<typeof BulkEnrolmentBody>;

export const BulkEnrolmentResult = Type.Object({
  enrolled: Type.Integer({ description: 'enrolments created' }),
  skipped: Type.Integer({ description: 'students already enrolled in this plan for an overlapping period, or (listed ones) not active' }),
});

export const FEEPLAN_SCHEMAS = [FeePlan, Enrolment, Withdrawal];
