import { Type, type Static } from 'typebox';
import { ListQuery, Money, PaymentMethod, PositiveMoney, Timestamp, TimestampInput, Uuid } from '../billing/billing.schemas.js';

/** TypeBox schemas of family payments and family credit (SPEC §7): validation, serialisation and OpenAPI from one source. */

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) => Type.Union([schema, Type.Null()]);

export const FamilyBalance = Type.Object(
  {
    owed: Money,
    credit: Money,
  },
  { description: 'owed: Σ (amount − paidAmount) of the family’s invoices that are not cancelled; credit: the family’s unapplied credit' },
);
export type FamilyBalance = Static<typeof FamilyBalance>;

export const FamilyPaymentAllocation = Type.Object({
  paymentId: Uuid,
  invoiceId: Uuid,
  invoiceNumber: Type.String(),
  amount: Money,
});

export const FamilyPayment = Type.Object(
  {
    id: Uuid,
    familyId: Uuid,
    schoolId: Uuid,
    payerGuardianId: Nullable(Uuid),
    amount: Money,
    allocated: Money,
    credited: Money,
    currency: Type.String(),
    receiptNumber: Nullable(Type.String({ description: 'per school, gapless: PREFIX-YYYY-NNNNNN' })),
    method: PaymentMethod,
    reference: Nullable(Type.String({ description: 'last 4 characters only for roles that see PII masked' })),
    paidAt: Timestamp,
    createdAt: Timestamp,
    allocations: Type.Array(FamilyPaymentAllocation, { description: 'oldest due date first' }),
  },
  { $id: 'FamilyPayment' },
);
export type FamilyPayment = Static<typeof FamilyPayment>;

/** POST /families/:id/payments answers the family payment and the family’s balance after it. */
export const FamilyPaymentReceipt = Type.Object(
  { ...FamilyPayment.properties, balance: Type.Object(FamilyBalance.properties, { description: 'the family’s balance after this payment' }) },
  { $id: 'FamilyPaymentReceipt' },
);
export type FamilyPaymentReceipt = Static<typeof FamilyPaymentReceipt>;

export const CreateFamilyPaymentBody = Type.Object(
  {
    amount: PositiveMoney,
    method: PaymentMethod,
    reference: Type.Optional(Type.String({ minLength: 1, maxLength: 120 })),
    paidAt: Type.Optional(
      TimestampInput(
        'when the money was received (default now): not in the future (5 minutes of clock skew allowed), and not more than ' +
          'a year before the school was registered in Bursar',
      ),
    ),
    payerGuardianId: Type.Optional(
      Type.String({ format: 'uuid', description: 'one payer of a split family: only that guardian’s invoices take this money (the rest becomes family credit)' }),
    ),
  },
  { additionalProperties: false },
);
export type CreateFamilyPaymentBody = Static<typeof CreateFamilyPaymentBody>;

export const FamilyPaymentListQuery = Type.Object({ ...ListQuery });
export type FamilyPaymentListQuery = Static<typeof FamilyPaymentListQuery>;

export const ApplyCreditBody = Type.Object(
  {
    invoiceIds: Type.Optional(
      Type.Array(Uuid, {
        minItems: 1,
        maxItems: 500,
        uniqueItems: true,
        description: 'only these invoices of the family (default: every open one); applied oldest due date first whatever the order given',
      }),
    ),
  },
  { additionalProperties: false },
);
export type ApplyCreditBody = Static<typeof ApplyCreditBody>;

export const CreditApplication = Type.Object({
  id: Uuid,
  invoiceId: Uuid,
  invoiceNumber: Type.String(),
  amount: Money,
});

export const CreditApplied = Type.Object(
  {
    familyId: Uuid,
    applied: Money,
    applications: Type.Array(CreditApplication, { description: 'oldest due date first' }),
    balance: Type.Object(FamilyBalance.properties, { description: 'the family’s balance after applying its credit' }),
  },
  { $id: 'CreditApplied' },
);
export type CreditApplied = Static<typeof CreditApplied>;

export const FAMILY_PAYMENT_SCHEMAS = [FamilyPayment, FamilyPaymentReceipt, CreditApplied];
