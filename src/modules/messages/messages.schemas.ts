import { Type, type Static } from 'typebox';
import { ListQuery, Timestamp, Uuid } from '../billing/billing.schemas.js';

/** TypeBox schemas of the delivery log and the outbox (SPEC §8). */
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) => Type.Union([schema, Type.Null()]);

export const MessageStatus = Type.Union(
  [Type.Literal('queued'), Type.Literal('sent'), Type.Literal('failed'), Type.Literal('bounced'), Type.Literal('outbox')],
  {
    description:
      'queued: waiting to be sent (or to be retried: see attempts, lastError) | sent: accepted by the mail server or provider | failed: every attempt failed | ' +
      'bounced: the recipient was refused for good | outbox: its channel is not configured; it waits in the outbox for a person',
  },
);

export const Message = Type.Object(
  {
    id: Uuid,
    schoolId: Uuid,
    familyId: Nullable(Uuid),
    invoiceId: Nullable(Uuid),
    invoiceNumber: Nullable(Type.String()),
    guardianId: Nullable(Uuid),
    guardianName: Nullable(Type.String({ description: 'initials for roles that see PII masked' })),
    kind: Type.Union([Type.Literal('reminder'), Type.Literal('invitation'), Type.Literal('webhook_disabled')], { description: 'webhook_disabled: a webhook endpoint was disabled after 3 days of failures (to its owner)' }),
    template: Nullable(Type.String()),
    channel: Type.Union([Type.Literal('email'), Type.Literal('sms'), Type.Literal('whatsapp')]),
    language: Type.Union([Type.Literal('es'), Type.Literal('en')]),
    recipient: Type.String({ description: 'the e-mail address or phone number (masked for roles that see PII masked)' }),
    status: MessageStatus,
    subject: Type.Optional(Nullable(Type.String())),
    body: Type.String({ description: 'the text sent; hidden (empty) for roles that see PII masked: it names the student and carries a pay link' }),
    attempts: Type.Integer({ minimum: 0 }),
    lastError: Nullable(Type.String()),
    createdAt: Timestamp,
    sentAt: Nullable(Timestamp),
  },
  { $id: 'Message' },
);
export type Message = Static<typeof Message>;

export const MessageListQuery = Type.Object({ ...ListQuery }, { additionalProperties: false });
export type MessageListQuery = Static<typeof MessageListQuery>;

export const OutboxQuery = Type.Object(
  { schoolId: Type.Optional(Uuid), ...ListQuery },
  { additionalProperties: false },
);
export type OutboxQuery = Static<typeof OutboxQuery>;

export const IdParams = Type.Object({ id: Uuid });

export const MESSAGES_SCHEMAS = [Message];
