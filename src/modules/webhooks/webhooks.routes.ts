import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Config } from '../../config.js';
import type { Db } from '../../db/database.js';
import { principalOf } from '../../plugins/auth.js';
import { problemResponses } from '../../plugins/errors.js';
import type { Clock } from '../../shared/clock.js';
import { DEFAULT_PAGE_SIZE } from '../../shared/pagination.js';
import { actorOf } from '../auth/auth.routes.js';
import { IdParams, ListQuery, pageOf } from '../billing/billing.schemas.js';
import { EVENT_TYPES } from './webhooks.events.js';
import { createWebhooksRepository } from './webhooks.repository.js';
import { CreateEndpointBody, DeliveryListQuery, PatchEndpointBody, RotateSecretBody, WEBHOOKS_SCHEMAS } from './webhooks.schemas.js';
import { createWebhooksService } from './webhooks.service.js';

/**
 * Outbound webhooks (SPEC §9): endpoints, their delivery log, replay and test events, for
 * super_admin and school_admin (webhooks:manage). Bodies of every event are documented
 * as the `WebhookEvent.<type>.v1` schemas; docs/webhooks.md explains signatures and retries.
 */
export default function webhooksRoutes(app: FastifyInstance, options: { db: Db; config: Config; clock: Clock }) {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  const service = createWebhooksService({ db: options.db, repo: createWebhooksRepository(), allowLocal: options.config.webhooks.allowLocal, clock: options.clock });
  for (const schema of WEBHOOKS_SCHEMAS) {
    api.addSchema(schema);
  }
  const tags = ['webhooks'];
  const policy = 'webhooks:manage' as const;

  api.get('/webhook-endpoints', {
    config: { policy },
    schema: {
      tags,
      summary: 'The webhook endpoints the caller may see (their own, and those of their schools), newest first',
      querystring: Type.Object(ListQuery),
      response: { 200: pageOf('WebhookEndpoint'), ...problemResponses(400, 401, 403) },
    },
  }, (request) => service.list(principalOf(request), { ...request.query, limit: request.query.limit ?? DEFAULT_PAGE_SIZE }));

  api.post('/webhook-endpoints', {
    config: { policy },
    schema: {
      tags,
      summary: 'Subscribe a URL to events; answers the signing secret, shown only this once',
      description:
        `Events: ${EVENT_TYPES.join(', ')}. The endpoint receives the events of the schools its owner (the caller) may see, limited to ` +
        '`schoolIds` when given, with `data` as the owner’s role sees it. Each POST is signed per Standard Webhooks (webhook-id, webhook-timestamp, ' +
        'webhook-signature); bodies are documented as the WebhookEvent.<type>.v1 schemas.',
      body: CreateEndpointBody,
      response: { 201: Type.Ref('CreatedWebhookEndpoint'), ...problemResponses(400, 401, 403, 404) },
    },
  }, async (request, reply) => {
    const created = await service.create(actorOf(request), request.body);
    return reply.code(201).send(created);
  });

  api.get('/webhook-endpoints/:id', {
    config: { policy },
    schema: { tags, summary: 'One webhook endpoint (never its secret)', params: IdParams, response: { 200: Type.Ref('WebhookEndpoint'), ...problemResponses(400, 401, 403, 404) } },
  }, (request) => service.get(principalOf(request), request.params.id));

  api.patch('/webhook-endpoints/:id', {
    config: { policy },
    schema: {
      tags,
      summary: 'Change an endpoint’s URL, events, schools or description, or enable / disable it',
      params: IdParams,
      body: PatchEndpointBody,
      response: { 200: Type.Ref('WebhookEndpoint'), ...problemResponses(400, 401, 403, 404) },
    },
  }, (request) => service.update(actorOf(request), request.params.id, request.body));

  api.delete('/webhook-endpoints/:id', {
    config: { policy },
    schema: { tags, summary: 'Delete an endpoint: nothing more is sent to it', params: IdParams, response: { 204: Type.Null(), ...problemResponses(400, 401, 403, 404) } },
  }, async (request, reply) => {
    await service.remove(actorOf(request), request.params.id);
    return reply.status(204).send(null);
  });

  api.post('/webhook-endpoints/:id/rotate-secret', {
    config: { policy },
    schema: {
      tags,
      summary: 'A new signing secret (shown only in this answer); the old one stops signing at once, or after previousValidHours',
      description:
        'With `previousValidHours` (1–72) every delivery until then carries two signatures in `webhook-signature`, ' +
        'the new secret’s and the old one’s, so a receiver verifying with either accepts it while it switches. ' +
        'Without it (or 0) the old secret stops at once — what to do when it leaked.',
      params: IdParams,
      body: RotateSecretBody,
      response: { 200: Type.Ref('RotatedWebhookSecret'), ...problemResponses(400, 401, 403, 404) },
    },
    // A rotation with no options needs no body: a bodiless POST is an empty one.
    preValidation: (request, _reply, done) => {
      request.body ??= {};
      done();
    },
  }, (request) => service.rotateSecret(actorOf(request), request.params.id, request.body));

  api.get('/webhook-endpoints/:id/deliveries', {
    config: { policy },
    schema: {
      tags,
      summary: 'The endpoint’s delivery log, newest first: status, attempts and the last attempt (request body, response code, latency)',
      params: IdParams,
      querystring: DeliveryListQuery,
      response: { 200: pageOf('WebhookDelivery'), ...problemResponses(400, 401, 403, 404) },
    },
  }, (request) => service.deliveries(principalOf(request), request.params.id, { ...request.query, limit: request.query.limit ?? DEFAULT_PAGE_SIZE }));

  api.post('/webhook-deliveries/:id/replay', {
    config: { policy },
    schema: {
      tags,
      summary: 'Send a delivery again (same webhook-id), now, whatever its status',
      params: IdParams,
      response: { 202: Type.Ref('WebhookDelivery'), ...problemResponses(400, 401, 403, 404) },
    },
  }, async (request, reply) => reply.code(202).send(await service.replay(actorOf(request), request.params.id)));

  api.post('/webhook-endpoints/:id/test', {
    config: { policy },
    schema: {
      tags,
      summary: 'Send a test event (type endpoint.test) to this endpoint only',
      params: IdParams,
      response: { 202: Type.Ref('WebhookTestEvent'), ...problemResponses(400, 401, 403, 404, 409) },
    },
  }, async (request, reply) => reply.code(202).send(await service.sendTest(actorOf(request), request.params.id)));
}
