import { Type, type Static } from 'typebox';
import { ListQuery, Timestamp, TimestampInput, Uuid } from '../billing/billing.schemas.js';

/** TypeBox schemas of the audit log (SPEC §9): `GET /audit`. */
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) => Type.Union([schema, Type.Null()]);

export const AuditEntry = Type.Object(
  {
    id: Uuid,
    action: Type.String({ description: 'what was done: payment.create, invoice.update, collections.run, …', examples: ['payment.create'] }),
    entityType: Type.String({ description: 'the kind of thing it was done to', examples: ['invoice'] }),
    entityId: Nullable(Type.String()),
    schoolId: Nullable(Uuid),
    actor: Type.Object(
      {
        userId: Nullable(Uuid),
        username: Nullable(Type.String({ description: 'null for the system (a daily job, a gateway webhook without a user)' })),
      },
      { description: 'who did it' },
    ),
    requestId: Nullable(Type.String({ description: 'the request it came from (X-Request-Id), to find it in the logs' })),
    changes: Nullable(Type.Record(Type.String(), Type.Unknown(), { description: 'what changed, as the action recorded it (PII masked for roles that see it masked)' })),
    createdAt: Timestamp,
  },
  { $id: 'AuditEntry' },
);
export type AuditEntry = Static<typeof AuditEntry>;

export const AuditQuery = Type.Object(
  {
    entityType: Type.Optional(Type.String({ pattern: '^[a-z][a-z_]{0,39}$', description: 'invoice, payment, student, family, school, …', examples: ['invoice'] })),
    entityId: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'with entityType: one thing’s history' })),
    schoolId: Type.Optional(Uuid),
    from: Type.Optional(TimestampInput('entries written at or after this instant')),
    to: Type.Optional(TimestampInput('entries written before this instant')),
    ...ListQuery,
  },
  { additionalProperties: false },
);
export type AuditQuery = Static<typeof AuditQuery>;

export const AUDIT_SCHEMAS = [AuditEntry];
