import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Db } from '../../db/database.js';
import { principalOf } from '../../plugins/auth.js';
import { problemResponses } from '../../plugins/errors.js';
import { DEFAULT_PAGE_SIZE } from '../../shared/pagination.js';
import { actorOf } from '../auth/auth.routes.js';
import { IdParams, pageOf } from '../billing/billing.schemas.js';
import { createDiscountsRepository } from './discounts.repository.js';
import { AwardListQuery, CreateAwardBody, CreateDiscountRuleBody, DISCOUNT_SCHEMAS, DiscountRuleListQuery, PatchDiscountRuleBody } from './discounts.schemas.js';
import { createDiscountsService } from './discounts.service.js';

/**
 * Discount rules and awards (SPEC §7 "Discounts and aid"): thin routes over the
 * discounts service. Reads need billing:read, writes billing:write.
 */
export default function discountsRoutes(app: FastifyInstance, options: { db: Db }) {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  const service = createDiscountsService({ db: options.db, discounts: createDiscountsRepository() });
  for (const schema of DISCOUNT_SCHEMAS) {
    api.addSchema(schema);
  }
  const read = { policy: 'billing:read' as const };
  const write = { policy: 'billing:write' as const };
  const limitOf = (query: { limit?: number }) => query.limit ?? DEFAULT_PAGE_SIZE;
  const tags = ['discounts'];

  api.get('/discount-rules', {
    config: read,
    schema: { tags, summary: 'Discount rules the caller may see', querystring: DiscountRuleListQuery, response: { 200: pageOf('DiscountRule'), ...problemResponses(400, 401, 403, 404) } },
  }, (request) => service.listRules(principalOf(request), { ...request.query, limit: limitOf(request.query) }));

  api.post('/discount-rules', {
    config: write,
    schema: {
      tags,
      summary: 'Create a discount rule',
      description: 'percent: value is a number of percent (0 < value ≤ 100, two decimals); fixed: minor units. A discount above 100 % is a 422 naming value.',
      body: CreateDiscountRuleBody,
      response: { 201: Type.Ref('DiscountRule'), ...problemResponses(400, 401, 403, 404, 422) },
    },
  }, async (request, reply) => reply.status(201).send(await service.createRule(actorOf(request), request.body)));

  api.get('/discount-rules/:id', {
    config: read,
    schema: { tags, summary: 'One discount rule', params: IdParams, response: { 200: Type.Ref('DiscountRule'), ...problemResponses(400, 401, 403, 404) } },
  }, (request) => service.getRule(principalOf(request), request.params.id));

  api.patch('/discount-rules/:id', {
    config: write,
    schema: {
      tags,
      summary: 'Change a discount rule (applies to instalments billed from now on)',
      params: IdParams,
      body: PatchDiscountRuleBody,
      response: { 200: Type.Ref('DiscountRule'), ...problemResponses(400, 401, 403, 404, 422) },
    },
  }, (request) => service.updateRule(actorOf(request), request.params.id, request.body));

  api.post('/students/:id/awards', {
    config: write,
    schema: {
      tags: [...tags, 'students'],
      summary: 'Award a discount rule to a student (reason required, audited)',
      description: 'Sibling rules apply by themselves through the family and cannot be awarded (422 naming ruleId).',
      params: IdParams,
      body: CreateAwardBody,
      response: { 201: Type.Ref('Award'), ...problemResponses(400, 401, 403, 404, 409, 422) },
    },
  }, async (request, reply) => reply.status(201).send(await service.award(actorOf(request), request.params.id, request.body)));

  api.get('/students/:id/awards', {
    config: read,
    schema: { tags: [...tags, 'students'], summary: 'Awards of a student', params: IdParams, querystring: AwardListQuery, response: { 200: pageOf('Award'), ...problemResponses(400, 401, 403, 404) } },
  }, (request) => service.listAwards(principalOf(request), request.params.id, { ...request.query, limit: limitOf(request.query) }));

  api.delete('/awards/:id', {
    config: write,
    schema: {
      tags,
      summary: 'Revoke an award (kept, with revokedAt and revokedBy; audited)',
      params: IdParams,
      response: { 200: Type.Ref('Award'), ...problemResponses(400, 401, 403, 404) },
    },
  }, (request) => service.revokeAward(actorOf(request), request.params.id));
}
