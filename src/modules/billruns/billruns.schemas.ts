import { Type, type Static } from 'typebox';
import { MAX_PAGE_SIZE, DEFAULT_PAGE_SIZE } from '../../shared/pagination.js';
import { DateInput, DateOnly, Timestamp, Uuid } from '../billing/billing.schemas.js';

/** TypeBox schemas of the bill-run API (SPEC §7): validation, serialisation and OpenAPI from one source. */
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) => Type.Union([schema, Type.Null()]);
const Count = Type.Integer({ minimum: 0 });
const SignedMoney = Type.Integer({ description: 'integer minor units (cents); discounts negative' });

export const CreateBillRunBody = Type.Object(
  {
    schoolId: Uuid,
    through: DateInput('bill every instalment due on or before this date', ['2026-09-30']),
    dryRun: Type.Optional(Type.Boolean({ description: 'preview what the run would bill; writes nothing' })),
  },
  { additionalProperties: false },
);
export type CreateBillRunBody = Static<typeof CreateBillRunBody>;

export const BillRunListQuery = Type.Object({
  schoolId: Type.Optional(Uuid),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PAGE_SIZE, default: DEFAULT_PAGE_SIZE })),
  cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 512, description: 'nextCursor of the previous page' })),
});
export type BillRunListQuery = Static<typeof BillRunListQuery>;

export const BillRunParams = Type.Object({ id: Uuid });

export const ItemTotal = Type.Object(
  {
    itemCode: Type.String(),
    currency: Type.String({ description: 'ISO 4217' }),
    lines: Count,
    charges: Type.Integer({ minimum: 0, description: 'integer minor units (cents)' }),
    discounts: Type.Integer({ maximum: 0, description: 'integer minor units (cents), ≤ 0' }),
    amount: SignedMoney,
  },
  { $id: 'BillRunItemTotal', description: "one item's lines in the run: charges + discounts = amount" },
);

export const PreviewLine = Type.Object({
  kind: Type.Union([Type.Literal('charge'), Type.Literal('discount'), Type.Literal('late_fee')]),
  code: Type.String(),
  description: Type.String(),
  amount: SignedMoney,
  itemCode: Nullable(Type.String()),
  ruleId: Nullable(Uuid),
});

export const PreviewInvoice = Type.Object({
  studentId: Uuid,
  studentName: Type.String({ description: 'masked for roles that see PII masked' }),
  familyId: Nullable(Uuid),
  payerGuardianId: Nullable(Uuid),
  dueDate: DateOnly,
  description: Nullable(Type.String()),
  amount: Type.Integer({ minimum: 0 }),
  lines: Type.Array(PreviewLine),
});

export const BillRunPreview = Type.Object({
  invoices: Count,
  lines: Count,
  totals: Type.Array(Type.Ref('BillRunItemTotal')),
  firstRows: Type.Array(PreviewInvoice, { description: 'the first 20 invoices the run would create, with their lines' }),
});

export const BillRun = Type.Object(
  {
    id: Nullable(Uuid),
    schoolId: Uuid,
    through: DateOnly,
    dryRun: Type.Boolean(),
    status: Type.Union([Type.Literal('queued'), Type.Literal('running'), Type.Literal('finished'), Type.Literal('failed')]),
    invoicesCreated: Count,
    linesCreated: Count,
    skipped: Type.Integer({ minimum: 0, description: 'instalments due on or before `through` that were billed already (by an earlier or a concurrent run)' }),
    totals: Type.Array(Type.Ref('BillRunItemTotal')),
    progress: Type.Object(
      { done: Count, total: Count },
      { description: 'billing units (families, and students without one) walked, of those in the school when the run started' },
    ),
    error: Nullable(Type.String()),
    createdAt: Nullable(Timestamp),
    startedAt: Nullable(Timestamp),
    finishedAt: Nullable(Timestamp),
    preview: Type.Optional(BillRunPreview),
  },
  { $id: 'BillRun' },
);
export type BillRun = Static<typeof BillRun>;
export type BillRunPreview = Static<typeof BillRunPreview>;

export const BillRunPage = Type.Object({ data: Type.Array(Type.Ref('BillRun')), nextCursor: Nullable(Type.String()) });

export const BILL_RUN_SCHEMAS = [ItemTotal, BillRun];
