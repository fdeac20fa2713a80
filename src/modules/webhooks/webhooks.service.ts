import { randomBytes } from 'node:crypto';
import type { Db } from '../../db/database.js';
import { systemClock, type Clock } from '../../shared/clock.js';
import { requirePrincipal, type Actor } from '../../shared/context.js';
import { AppError, notFound } from '../../shared/errors.js';
import { cursorPart, decodeCursorOf, toPage, type Page } from '../../shared/pagination.js';
import { ROLE_POLICY, type Principal } from '../../shared/policy.js';
import { recordAudit } from '../audit/audit.repository.js';
import type { EndpointRow, DeliveryRow, WebhooksRepository } from './webhooks.repository.js';
import type { CreateEndpointBody, CreatedWebhookEndpoint, DeliveryListQuery, PatchEndpointBody, RotateSecretBody, WebhookDelivery, WebhookEndpoint } from './webhooks.schemas.js';
import type { EventType } from './webhooks.events.js';
import { checkEndpointUrl, UrlRefused } from './webhooks.url.js';

/**
 * Outbound webhook endpoints (SPEC §9): who may see and change them (the repository's
 * visibility rule), the URL check (SSRF), secrets shown once, the delivery log, replay
 * and test events. Every change is audited; a secret never goes into the audit log.
 */
export function newSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

export function presentEndpoint(row: EndpointRow): WebhookEndpoint {
  return {
    id: row.id,
    url: row.url,
    description: row.description,
    events: row.events as EventType[],
    schoolIds: row.schoolIds,
    enabled: row.enabled,
    disabledReason: row.disabledReason,
    disabledAt: row.disabledAt?.toISOString() ?? null,
    owner: { userId: row.ownerId, username: row.ownerUsername },
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

function presentDelivery(row: DeliveryRow): WebhookDelivery {
  return {
    id: row.id,
    endpointId: row.endpointId,
    schoolId: row.schoolId,
    eventId: row.eventId,
    webhookId: row.eventId,
    eventType: row.eventType,
    objectId: row.objectId,
    status: row.status,
    attempts: row.attempts,
    nextAttemptAt: row.status === 'pending' ? row.nextAttemptAt.toISOString() : null,
    deliveredAt: row.deliveredAt?.toISOString() ?? null,
    createdAt: row.createdAt.toISOString(),
    lastAttempt: row.lastAttempt,
  };
}

const urlError = (message: string) => new AppError('VALIDATION_FAILED', `url ${message}`, { errors: [{ field: 'url', in: 'body', message }] });

export function createWebhooksService(deps: { db: Db; repo: WebhooksRepository; allowLocal: boolean; clock?: Clock }) {
  const { db, repo, allowLocal } = deps;
  const clock = deps.clock ?? systemClock;

  async function checkUrl(url: string): Promise<string> {
    try {
      return (await checkEndpointUrl(url, allowLocal)).href;
    } catch (error) {
      if (error instanceof UrlRefused) {
        throw urlError(error.message);
      }
      throw error;
    }
  }

  /** The schools an endpoint may be limited to: each one existing and one the caller may see (404 naming schoolIds otherwise). */
  async function checkSchools(principal: Principal, schoolIds: readonly string[] | null | undefined): Promise<void> {
    if (schoolIds === null || schoolIds === undefined) {
      return;
    }
    const existing = await repo.existingSchools(db, schoolIds);
    const bad = schoolIds.findIndex((id) => !existing.has(id) || (principal.schoolIds !== 'all' && !principal.schoolIds.includes(id)));
    if (bad >= 0) {
      throw new AppError('NOT_FOUND', 'school not found', { errors: [{ field: `schoolIds.${bad}`, in: 'body', message: 'no such school (or not one of yours)' }] });
    }
  }

  async function visible(principal: Principal, id: string, options: { forUpdate?: boolean; handle?: Db | Parameters<WebhooksRepository['find']>[0] } = {}): Promise<EndpointRow> {
    const row = await repo.find(options.handle ?? db, principal, id, options.forUpdate === true ? { forUpdate: true } : {});
    if (row === undefined) {
      throw notFound('webhook endpoint');
    }
    return row;
  }

  return {
    async list(principal: Principal, query: { limit: number; cursor?: string | undefined }): Promise<Page<WebhookEndpoint>> {
      const beforeId = query.cursor === undefined ? undefined : decodeCursorOf(query.cursor, [cursorPart.uuid])[0];
      const rows = await repo.list(db, principal, { limit: query.limit, ...(beforeId === undefined ? {} : { beforeId }) });
      const page = toPage(rows, query.limit, (row) => [row.id]);
      return { data: page.data.map(presentEndpoint), nextCursor: page.nextCursor };
    },

    async get(principal: Principal, id: string): Promise<WebhookEndpoint> {
      return presentEndpoint(await visible(principal, id));
    },

    async create(actor: Actor, body: CreateEndpointBody): Promise<CreatedWebhookEndpoint> {
      const principal = requirePrincipal(actor);
      const url = await checkUrl(body.url);
      await checkSchools(principal, body.schoolIds);
      const secret = newSecret();
      return db.transaction().execute(async (trx) => {
        const id = await repo.insert(trx, { ownerId: principal.userId, url, description: body.description ?? null, events: [...body.events], schoolIds: body.schoolIds ? [...body.schoolIds] : null, secret });
        await recordAudit(trx, actor, { action: 'webhook_endpoint.create', entityType: 'webhook_endpoint', entityId: id, changes: { url, events: body.events, schoolIds: body.schoolIds ?? null } });
        const row = await visible(principal, id, { handle: trx });
        return { ...presentEndpoint(row), secret };
      });
    },

    async update(actor: Actor, id: string, body: PatchEndpointBody): Promise<WebhookEndpoint> {
      const principal = requirePrincipal(actor);
      const url = body.url === undefined ? undefined : await checkUrl(body.url);
      await checkSchools(principal, body.schoolIds);
      return db.transaction().execute(async (trx) => {
        const before = await visible(principal, id, { forUpdate: true, handle: trx });
        await repo.update(trx, id, {
          ...(url === undefined ? {} : { url }),
          ...(body.description === undefined ? {} : { description: body.description }),
          ...(body.events === undefined ? {} : { events: [...body.events] }),
          ...(body.schoolIds === undefined ? {} : { schoolIds: body.schoolIds === null ? null : [...body.schoolIds] }),
          ...(body.enabled === undefined ? {} : { enabled: body.enabled }),
        });
        if (body.enabled === true && !before.enabled) {
          await repo.restartPending(trx, id, new Date(clock.now()));
        }
        await recordAudit(trx, actor, { action: 'webhook_endpoint.update', entityType: 'webhook_endpoint', entityId: id, changes: { ...body, ...(url === undefined ? {} : { url }) } });
        return presentEndpoint(await visible(principal, id, { handle: trx }));
      });
    },

    async remove(actor: Actor, id: string): Promise<void> {
      const principal = requirePrincipal(actor);
      await db.transaction().execute(async (trx) => {
        const row = await visible(principal, id, { forUpdate: true, handle: trx });
        await repo.softDelete(trx, id);
        await recordAudit(trx, actor, { action: 'webhook_endpoint.delete', entityType: 'webhook_endpoint', entityId: id, changes: { url: row.url } });
      });
    },

    /**
     * A new signing secret. With `previousValidHours` the one it replaces keeps signing
     * every delivery next to it until then (Standard Webhooks: several signatures in
     * webhook-signature, any one may verify), so a receiver can switch without refusing
     * deliveries; without it (a leaked secret) the old one stops at once. A rotation
     * during another's overlap drops the older secret.
     */
    async rotateSecret(actor: Actor, id: string, body: RotateSecretBody): Promise<{ id: string; secret: string; previousSecretValidUntil: string | null }> {
      const principal = requirePrincipal(actor);
      const secret = newSecret();
      const hours = body.previousValidHours ?? 0;
      const previousUntil = hours === 0 ? null : new Date(clock.now() + hours * 3_600_000);
      await db.transaction().execute(async (trx) => {
        await visible(principal, id, { forUpdate: true, handle: trx });
        await repo.update(trx, id, { secret: { secret, previousUntil } });
        await recordAudit(trx, actor, {
          action: 'webhook_endpoint.rotate_secret',
          entityType: 'webhook_endpoint',
          entityId: id,
          changes: { previousSecretValidUntil: previousUntil?.toISOString() ?? null },
        });
      });
      return { id, secret, previousSecretValidUntil: previousUntil?.toISOString() ?? null };
    },

    async deliveries(principal: Principal, id: string, query: DeliveryListQuery & { limit: number }): Promise<Page<WebhookDelivery>> {
      const endpoint = await visible(principal, id);
      const beforeId = query.cursor === undefined ? undefined : decodeCursorOf(query.cursor, [cursorPart.uuid])[0];
      const rows = await repo.deliveries(db, endpoint.id, { limit: query.limit, ...(beforeId === undefined ? {} : { beforeId }), ...(query.status === undefined ? {} : { status: query.status }) });
      const page = toPage(rows, query.limit, (row) => [row.id]);
      return { data: page.data.map(presentDelivery), nextCursor: page.nextCursor };
    },

    /** Sends a delivery again (whatever its status), with the same webhook-id. */
    async replay(actor: Actor, deliveryId: string): Promise<WebhookDelivery> {
      const principal = requirePrincipal(actor);
      return db.transaction().execute(async (trx) => {
        const delivery = await repo.findDelivery(trx, deliveryId);
        if (delivery === undefined || (await repo.find(trx, principal, delivery.endpointId)) === undefined) {
          throw notFound('webhook delivery');
        }
        await repo.replay(trx, delivery, new Date(clock.now()));
        await recordAudit(trx, actor, { action: 'webhook_delivery.replay', entityType: 'webhook_delivery', entityId: deliveryId, schoolId: delivery.schoolId, changes: { endpointId: delivery.endpointId } });
        const [row] = await repo.deliveries(trx, delivery.endpointId, { limit: 1, id: deliveryId });
        if (row === undefined) {
          throw notFound('webhook delivery');
        }
        return presentDelivery(row);
      });
    },

    /** A test event (type endpoint.test) to this endpoint only. */
    async sendTest(actor: Actor, id: string): Promise<{ eventId: string; deliveryId: string }> {
      const principal = requirePrincipal(actor);
      return db.transaction().execute(async (trx) => {
        const endpoint = await visible(principal, id, { forUpdate: true, handle: trx });
        if (!endpoint.enabled) {
          throw new AppError('CONFLICT', 'the endpoint is disabled: enable it first (PATCH {"enabled": true})');
        }
        const schoolId = await repo.schoolForTest(trx, endpoint, ROLE_POLICY[endpoint.ownerRole].schools === 'all');
        if (schoolId === undefined) {
          throw new AppError('CONFLICT', 'the endpoint’s owner sees no school, so there is nothing to send a test event for');
        }
        const made = await repo.insertTestEvent(trx, endpoint.id, schoolId, { endpointId: endpoint.id, message: 'A test event from Bursar: your endpoint receives and verifies webhooks.' });
        await recordAudit(trx, actor, { action: 'webhook_endpoint.test', entityType: 'webhook_endpoint', entityId: id, schoolId, changes: { eventId: made.eventId } });
        return made;
      });
    },
  };
}

export type WebhooksService = ReturnType<typeof createWebhooksService>;
