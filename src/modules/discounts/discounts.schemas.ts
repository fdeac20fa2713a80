import { Type, type Static } from 'typebox';
import { DateInput, DateOnly, ListQuery, PositiveMoney, Timestamp, Uuid } from '../billing/billing.schemas.js';
import { ItemCode, MAX_ITEMS } from '../feeplans/feeplans.schemas.js';

/** TypeBox schemas of discount rules and awards (SPEC §7 "Discounts and aid"). */
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) => Type.Union([schema, Type.Null()]);

export const DiscountKind = Type.Union([Type.Literal('sibling'), Type.Literal('staff'), Type.Literal('scholarship'), Type.Literal('custom')], {
  description: 'sibling (applies by itself through the family) | staff | scholarship | custom (given by awards)',
});
export const DiscountBasis = Type.Union([Type.Literal('percent'), Type.Literal('fixed')], { description: 'percent of the instalment | fixed minor units per instalment' });
export const Stacking = Type.Union([Type.Literal('stack'), Type.Literal('best_only')], {
  description: 'stack: adds to the other stacking rules; best_only: only the largest best_only rule applies, and only when larger than all stacking rules together',
});

const Value = Type.Number({
  exclusiveMinimum: 0,
  maximum: 1_000_000_000_000,
  description: 'percent: a number of percent, 0 < value ≤ 100, up to 2 decimals (12.5 = 12.5 %); fixed: integer minor units per instalment',
  examples: [10],
});
const ItemCodes = Nullable(Type.Array(ItemCode, { minItems: 1, maxItems: MAX_ITEMS, description: 'item codes the rule applies to; null = every item' }));
const FromSiblingNumber = Type.Integer({ minimum: 2, maximum: 20, description: 'sibling rules: from which child on (2 = the second; default 2)' });
const Cap = Nullable(Type.Integer({ minimum: 1, maximum: 1_000_000_000_000, description: 'the most the rule takes off one instalment, minor units' }));

export const CreateDiscountRuleBody = Type.Object(
  {
    schoolId: Uuid,
    name: Type.String({ minLength: 1, maxLength: 200, examples: ['Hermanos 10 %'] }),
    kind: DiscountKind,
    basis: DiscountBasis,
    value: Value,
    itemCodes: Type.Optional(ItemCodes),
    fromSiblingNumber: Type.Optional(Nullable(FromSiblingNumber)),
    cap: Type.Optional(Cap),
    stacking: Type.Optional(Stacking),
    validFrom: Type.Optional(Nullable(DateInput('first due date the rule applies to'))),
    validTo: Type.Optional(Nullable(DateInput('last due date the rule applies to'))),
  },
  { additionalProperties: false },
);
export type CreateDiscountRuleBody = Static<typeof CreateDiscountRuleBody>;

export const PatchDiscountRuleBody = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    basis: Type.Optional(DiscountBasis),
    value: Type.Optional(Value),
    itemCodes: Type.Optional(ItemCodes),
    fromSiblingNumber: Type.Optional(Nullable(FromSiblingNumber)),
    cap: Type.Optional(Cap),
    stacking: Type.Optional(Stacking),
    validFrom: Type.Optional(Nullable(DateInput('first due date the rule applies to'))),
    validTo: Type.Optional(Nullable(DateInput('last due date the rule applies to'))),
    isActive: Type.Optional(Type.Boolean({ description: 'an inactive rule is not applied by bill runs and cannot be awarded' })),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type PatchDiscountRuleBody = Static<typeof PatchDiscountRuleBody>;

export const DiscountRule = Type.Object(
  {
    id: Uuid,
    schoolId: Uuid,
    name: Type.String(),
    kind: DiscountKind,
    basis: DiscountBasis,
    value: Type.Number({ description: 'percent: a number of percent; fixed: minor units' }),
    itemCodes: Nullable(Type.Array(Type.String())),
    fromSiblingNumber: Nullable(Type.Integer()),
    cap: Nullable(PositiveMoney),
    stacking: Stacking,
    validFrom: Nullable(DateOnly),
    validTo: Nullable(DateOnly),
    isActive: Type.Boolean(),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  },
  { $id: 'DiscountRule' },
);

export const DiscountRuleListQuery = Type.Object({
  ...ListQuery,
  schoolId: Type.Optional(Uuid),
  kind: Type.Optional(DiscountKind),
});
export type DiscountRuleListQuery = Static<typeof DiscountRuleListQuery>;

// --- Awards ---------------------------------------------------------------------------
export const CreateAwardBody = Type.Object(
  {
    ruleId: Uuid,
    reason: Type.String({ minLength: 1, maxLength: 500, description: 'why the student gets it (required, audited)', examples: ['Beca académica 2026'] }),
  },
  { additionalProperties: false },
);
export type CreateAwardBody = Static<typeof CreateAwardBody>;

export const Award = Type.Object(
  {
    id: Uuid,
    schoolId: Uuid,
    studentId: Uuid,
    ruleId: Uuid,
    ruleName: Type.String(),
    kind: DiscountKind,
    reason: Type.String(),
    createdBy: Nullable(Uuid),
    createdAt: Timestamp,
    revokedAt: Nullable(Timestamp),
    revokedBy: Nullable(Uuid),
  },
  { $id: 'Award' },
);

export const AwardListQuery = Type.Object({
  ...ListQuery,
  active: Type.Optional(Type.Boolean({ description: 'true: only awards not revoked; false: only revoked ones' })),
});
export type AwardListQuery = Static<typeof AwardListQuery>;

export const DISCOUNT_SCHEMAS = [DiscountRule, Award];
