import { Type, type Static } from 'typebox';
import { MAX_PAGE_SIZE, DEFAULT_PAGE_SIZE } from '../../shared/pagination.js';
import { Timestamp, Uuid } from '../billing/billing.schemas.js';
import { REFERENCE_PATTERN } from './reference.js';

/** TypeBox schemas of the families API (SPEC §7): validation, serialisation and OpenAPI from one source. */

/** The most guardians one family may have (the family page lists them all). */
export const MAX_GUARDIANS_PER_FAMILY = 20;
/** The most guardians POST /families takes in one call. */
export const MAX_GUARDIANS_PER_CALL = 10;

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) => Type.Union([schema, Type.Null()]);
/** Text a person types: 1..max characters with at least one that is not a space. */
const Words = (max: number, examples: string[]) => Type.String({ minLength: 1, maxLength: max, pattern: '\\S', examples });

export const Language = Type.Union([Type.Literal('es'), Type.Literal('en')], { description: 'es | en' });

/** Trimmed and lower-cased before it is checked (the `x-normalise` keyword), like students' e-mails (migration 0011). */
const EmailInput = Type.String({ format: 'email', maxLength: 254, 'x-normalise': 'email', description: 'stored trimmed and in lower case', examples: ['ana.perez@example.com'] });
/** Digits with the usual separators, starting and ending with a digit (a leading + allowed). */
const PhoneInput = Type.String({
  minLength: 4,
  maxLength: 40,
  pattern: '^\\+?[0-9][0-9 ().-]*[0-9]$',
  description: 'digits, spaces, dots, hyphens and parentheses; may start with +',
  examples: ['+52 55 1234 5678'],
});
const Relationship = Type.String({ minLength: 1, maxLength: 40, pattern: '\\S', description: 'mother, father, grandparent, guardian…', examples: ['mother'] });

// --- Guardians -------------------------------------------------------------------------
export const Guardian = Type.Object(
  {
    id: Uuid,
    schoolId: Uuid,
    familyId: Uuid,
    firstName: Type.String({ description: 'an initial for roles that see PII masked' }),
    lastName: Type.String(),
    email: Nullable(Type.String({ description: 'j***@d***.com for roles that see PII masked' })),
    phone: Nullable(Type.String({ description: 'the last 2 digits only for roles that see PII masked' })),
    relationship: Type.String(),
    preferredLanguage: Language,
    isPrimary: Type.Boolean({ description: 'the family’s main contact; at most one per family' }),
    remindersOptOut: Type.Boolean({ description: 'no payment reminders to this guardian' }),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  },
  { $id: 'Guardian' },
);

const guardianFields = {
  firstName: Words(100, ['Ana']),
  lastName: Words(100, ['Pérez']),
  email: Type.Optional(Nullable(EmailInput)),
  phone: Type.Optional(Nullable(PhoneInput)),
  relationship: Type.Optional(Relationship),
  preferredLanguage: Type.Optional(Type.Union([Type.Literal('es'), Type.Literal('en')], { description: 'es | en (default: the family’s)' })),
  isPrimary: Type.Optional(
    Type.Boolean({ description: 'true makes this guardian the primary one and the previous primary not (default: true only when the family has no primary guardian yet)' }),
  ),
  remindersOptOut: Type.Optional(Type.Boolean({ description: 'default false' })),
};
export const CreateGuardianBody = Type.Object(guardianFields, { additionalProperties: false });
export type CreateGuardianBody = Static<typeof CreateGuardianBody>;
export const PatchGuardianBody = Type.Object(
  {
    ...guardianFields,
    firstName: Type.Optional(guardianFields.firstName),
    lastName: Type.Optional(guardianFields.lastName),
    isPrimary: Type.Optional(Type.Boolean({ description: 'true makes this guardian the primary one (and the previous primary not); false leaves the family without one' })),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type PatchGuardianBody = Static<typeof PatchGuardianBody>;

// --- Families ----------------------------------------------------------------------------
const familyCore = {
  id: Uuid,
  schoolId: Uuid,
  name: Type.String({ description: 'the family’s surname(s); an initial for roles that see PII masked' }),
  reference: Type.String({
    description: 'payment reference for bank transfers: PREFIX-NNNNNN-C, C a check digit over the six digits; unique per school',
    examples: ['COL-000123-4'],
  }),
  preferredLanguage: Language,
  currency: Type.String({ description: 'the school’s ISO 4217 currency: every amount of this family is in its minor units' }),
  createdAt: Timestamp,
  updatedAt: Timestamp,
};

export const FamilyListItem = Type.Object(familyCore, { $id: 'FamilyListItem' });

const FamilyStudent = Type.Object({
  id: Uuid,
  firstName: Type.String({ description: 'an initial for roles that see PII masked' }),
  lastName: Type.String(),
  grade: Type.String(),
  isActive: Type.Boolean(),
});

export const Family = Type.Object(
  {
    ...familyCore,
    guardians: Type.Array(Type.Ref('Guardian'), { description: `primary first, then by creation (at most ${MAX_GUARDIANS_PER_FAMILY})` }),
    students: Type.Array(FamilyStudent, { description: 'the family’s students (not deleted), by last and first name' }),
    balance: Type.Object(
      {
        owed: Type.Integer({ minimum: 0, description: 'Σ (amount − paid) of the family’s non-cancelled invoices: those billed to the family and those of its students billed to no family' }),
        credit: Type.Integer({ minimum: 0, description: 'family credit: money paid beyond the open invoices, applied to the next ones' }),
      },
      { description: 'minor units of `currency`' },
    ),
  },
  { $id: 'Family' },
);

export const CreateFamilyBody = Type.Object(
  {
    schoolId: Uuid,
    name: Words(200, ['Pérez García']),
    preferredLanguage: Type.Optional(Type.Union([Type.Literal('es'), Type.Literal('en')], { description: 'es | en (default es)' })),
    guardians: Type.Optional(Type.Array(CreateGuardianBody, { maxItems: MAX_GUARDIANS_PER_CALL, description: 'created with the family, in the same transaction; at most one isPrimary' })),
  },
  { additionalProperties: false },
);
export type CreateFamilyBody = Static<typeof CreateFamilyBody>;

export const PatchFamilyBody = Type.Object(
  { name: Type.Optional(Words(200, ['Pérez García'])), preferredLanguage: Type.Optional(Language) },
  { additionalProperties: false, minProperties: 1 },
);
export type PatchFamilyBody = Static<typeof PatchFamilyBody>;

export const FamilyListQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PAGE_SIZE, default: DEFAULT_PAGE_SIZE })),
  cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 512, description: 'nextCursor of the previous page' })),
  schoolId: Type.Optional(Uuid),
  q: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 100,
      pattern: '\\S',
      description: 'name contains, or reference starts with (case-insensitive); for roles that see PII masked, the reference only',
    }),
  ),
  reference: Type.Optional(
    Type.String({
      pattern: REFERENCE_PATTERN,
      description: 'exactly this reference (any case); a wrong check digit (a mistyped reference) is a 422 naming `reference`',
      examples: ['COL-000123-4'],
    }),
  ),
});
export type FamilyListQuery = Static<typeof FamilyListQuery>;

export const FAMILY_SCHEMAS = [Guardian, FamilyListItem, Family];
