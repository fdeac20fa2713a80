import { Type, type Static, type TSchema } from 'typebox';
import { ListQuery, Timestamp, Uuid } from '../billing/billing.schemas.js';
import { EVENT_TYPES, WEBHOOK_EVENT_SCHEMAS, type EventType } from './webhooks.events.js';

/** TypeBox schemas of the outbound webhooks API (SPEC §9). */
const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

export const EventTypeSchema = Type.Unsafe<EventType>(
  Type.Union(
    EVENT_TYPES.map((type) => Type.Literal(type)),
    { description: EVENT_TYPES.join(' | ') },
  ),
);

const Url = Type.String({
  minLength: 8,
  maxLength: 2048,
  description: 'https (http only on a loopback host when WEBHOOKS_ALLOW_LOCAL=on); a host resolving to a private, loopback or link-local address is refused unless allowed',
  examples: ['https://example.com/bursar-webhooks'],
});
const Events = Type.Array(EventTypeSchema, { minItems: 1, maxItems: EVENT_TYPES.length, uniqueItems: true });
const SchoolIds = Type.Array(Uuid, {
  minItems: 1,
  maxItems: 500,
  uniqueItems: true,
  description: 'only events of these schools (each one the caller may see); omitted or null: every school the owner may see',
});
const Description = Type.String({ maxLength: 500 });

export const WebhookEndpoint = Type.Object(
  {
    id: Uuid,
    url: Type.String(),
    description: Nullable(Type.String()),
    events: Type.Array(EventTypeSchema),
    schoolIds: Nullable(Type.Array(Uuid)),
    enabled: Type.Boolean(),
    disabledReason: Nullable(Type.String({ description: 'why it was disabled (3 days of failed deliveries, or by a person)' })),
    disabledAt: Nullable(Timestamp),
    owner: Type.Object({ userId: Uuid, username: Type.String() }, { description: 'who made it: it receives what this user may see, masked as this user’s role sees it' }),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  },
  { $id: 'WebhookEndpoint' },
);
export type WebhookEndpoint = Static<typeof WebhookEndpoint>;

export const CreatedWebhookEndpoint = Type.Object(
  {
    ...WebhookEndpoint.properties,
    secret: Type.String({ pattern: '^whsec_', description: 'the signing secret (Standard Webhooks: whsec_ + base64): shown only in this answer' }),
  },
  { $id: 'CreatedWebhookEndpoint' },
);
export type CreatedWebhookEndpoint = Static<typeof CreatedWebhookEndpoint>;

export const CreateEndpointBody = Type.Object(
  { url: Url, events: Events, schoolIds: Type.Optional(Nullable(SchoolIds)), description: Type.Optional(Description) },
  { additionalProperties: false },
);
export type CreateEndpointBody = Static<typeof CreateEndpointBody>;

export const PatchEndpointBody = Type.Object(
  {
    url: Type.Optional(Url),
    events: Type.Optional(Events),
    schoolIds: Type.Optional(Nullable(SchoolIds)),
    description: Type.Optional(Nullable(Description)),
    enabled: Type.Optional(Type.Boolean({ description: 'true enables a disabled endpoint again (its pending deliveries resume, with a new 3-day window)' })),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type PatchEndpointBody = Static<typeof PatchEndpointBody>;

export const RotateSecretBody = Type.Object(
  {
    previousValidHours: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: 72,
        description: 'how long the old secret keeps signing deliveries next to the new one (both signatures in webhook-signature); 0, the default: it stops at once',
      }),
    ),
  },
  { additionalProperties: false },
);
export type RotateSecretBody = Static<typeof RotateSecretBody>;

export const RotatedSecret = Type.Object(
  {
    id: Uuid,
    secret: Type.String({ pattern: '^whsec_' }),
    previousSecretValidUntil: Type.Union([Timestamp, Type.Null()], { description: 'until when the old secret also signs deliveries; null: it no longer does' }),
  },
  { $id: 'RotatedWebhookSecret' },
);

export const DeliveryStatus = Type.Union([Type.Literal('pending'), Type.Literal('succeeded'), Type.Literal('failed')], {
  description: 'pending: to be (re)tried; succeeded: answered 2xx; failed: given up after 3 days (replay sends it again)',
});

export const WebhookDelivery = Type.Object(
  {
    id: Uuid,
    endpointId: Uuid,
    schoolId: Uuid,
    eventId: Uuid,
    webhookId: Type.String({ description: 'the webhook-id header: the same on every retry and replay of the event' }),
    eventType: Type.String(),
    objectId: Type.String(),
    status: DeliveryStatus,
    attempts: Type.Integer({ minimum: 0 }),
    nextAttemptAt: Nullable(Timestamp),
    deliveredAt: Nullable(Timestamp),
    createdAt: Timestamp,
    lastAttempt: Nullable(
      Type.Object({
        attempt: Type.Integer({ minimum: 1 }),
        responseCode: Nullable(Type.Integer()),
        latencyMs: Type.Integer({ minimum: 0 }),
        error: Nullable(Type.String()),
        requestBody: Type.String({ description: 'the body sent (as signed)' }),
        attemptedAt: Timestamp,
      }),
    ),
  },
  { $id: 'WebhookDelivery' },
);
export type WebhookDelivery = Static<typeof WebhookDelivery>;

export const DeliveryListQuery = Type.Object({ ...ListQuery, status: Type.Optional(DeliveryStatus) });
export type DeliveryListQuery = Static<typeof DeliveryListQuery>;

export const TestEventAnswer = Type.Object({ eventId: Uuid, deliveryId: Uuid }, { $id: 'WebhookTestEvent' });

export const WEBHOOKS_SCHEMAS = [WebhookEndpoint, CreatedWebhookEndpoint, RotatedSecret, WebhookDelivery, TestEventAnswer, ...WEBHOOK_EVENT_SCHEMAS];
