import { Type, type Static } from 'typebox';

export const Username = Type.String({
  pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{2,63}$',
  description: '3–64 letters, digits, dot, underscore or dash; case-insensitive',
  examples: ['school.admin'],
});
export const Password = Type.String({ minLength: 12, maxLength: 256, description: 'at least 12 characters' });
export const RoleSchema = Type.Union(
  [Type.Literal('super_admin'), Type.Literal('school_admin'), Type.Literal('finance_analyst'), Type.Literal('developer'), Type.Literal('guardian')],
  { description: 'super_admin | school_admin | finance_analyst | developer | guardian (a parent or payer: the portal of their family only)' },
);
export const Uuid = Type.String({ format: 'uuid' });

export const LoginBody = Type.Object(
  {
    username: Type.String({ minLength: 1, maxLength: 64 }),
    password: Type.String({ minLength: 1, maxLength: 256 }),
  },
  { additionalProperties: false },
);
export type LoginBody = Static<typeof LoginBody>;

export const RefreshBody = Type.Object(
  { refreshToken: Type.String({ minLength: 1, maxLength: 512 }) },
  { additionalProperties: false },
);
export type RefreshBody = Static<typeof RefreshBody>;

export const LogoutBody = Type.Object(
  {
    refreshToken: Type.Optional(Type.String({ minLength: 1, maxLength: 512, description: 'end the session of this token (default: the current session)' })),
    all: Type.Optional(Type.Boolean({ description: 'end every session of the caller' })),
  },
  { additionalProperties: false },
);
export type LogoutBody = Static<typeof LogoutBody>;

export const TokenPair = Type.Object(
  {
    accessToken: Type.String(),
    refreshToken: Type.String(),
    tokenType: Type.Literal('Bearer'),
    expiresIn: Type.Integer({ description: 'access token lifetime in seconds' }),
  },
  { $id: 'TokenPair' },
);

export const User = Type.Object(
  {
    id: Uuid,
    username: Type.String(),
    role: RoleSchema,
    isActive: Type.Boolean(),
    schoolIds: Type.Array(Uuid, { description: 'assigned schools (school_admin only)' }),
    guardianId: Type.Optional(Type.Union([Uuid, Type.Null()], { description: 'role guardian: the guardian this user is' })),
    createdAt: Type.String({ format: 'date-time' }),
    updatedAt: Type.String({ format: 'date-time' }),
    lastLoginAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  },
  { $id: 'User' },
);

export const Me = Type.Object({
  id: Uuid,
  username: Type.String(),
  role: RoleSchema,
  schoolIds: Type.Union([Type.Array(Uuid), Type.Literal('all')], { description: 'schools visible to the caller' }),
  pii: Type.Union([Type.Literal('clear'), Type.Literal('masked')], { description: 'how personal data is shown to the caller' }),
  permissions: Type.Array(Type.String()),
  guardian: Type.Optional(
    Type.Union([Type.Object({ schoolId: Uuid, guardianId: Uuid, familyId: Uuid }), Type.Null()], { description: 'a guardian user’s guardian and family' }),
  ),
});

export const CreateUserBody = Type.Object(
  {
    username: Username,
    password: Password,
    role: RoleSchema,
    schoolIds: Type.Optional(Type.Array(Uuid, { maxItems: 1000 })),
    guardianId: Type.Optional(Type.String({ format: 'uuid', description: 'role guardian: the guardian this user is (required for that role, refused for the others)' })),
  },
  { additionalProperties: false },
);
export type CreateUserBody = Static<typeof CreateUserBody>;

export const UpdateUserBody = Type.Object(
  {
    role: Type.Optional(RoleSchema),
    password: Type.Optional(Password),
    isActive: Type.Optional(Type.Boolean()),
    schoolIds: Type.Optional(Type.Array(Uuid, { maxItems: 1000 })),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type UpdateUserBody = Static<typeof UpdateUserBody>;

export const IdParams = Type.Object({ id: Uuid });
