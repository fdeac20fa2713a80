import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Db } from '../../db/database.js';
import { principalOf } from '../../plugins/auth.js';
import { problemResponses } from '../../plugins/errors.js';
import type { Clock } from '../../shared/clock.js';
import { actorOf } from '../auth/auth.routes.js';
import { createCollectionsRepository } from './collections.repository.js';
import { DEFAULT_PAGE_SIZE } from '../../shared/pagination.js';
import { pageOf } from '../billing/billing.schemas.js';
import { COLLECTIONS_SCHEMAS, CollectionDayListQuery, CollectionRunBody, PutLateFeePolicyBody, SchoolParams } from './collections.schemas.js';
import { createCollectionsService } from './collections.service.js';

/**
 * Collections (SPEC §8): the late-fee policy of a school and the daily run on demand.
 * Reads need billing:read, writes billing:write (super_admin; school_admin for their
 * schools); a school outside the caller's scope is a 404.
 */
export default function collectionsRoutes(app: FastifyInstance, options: { db: Db; clock?: Clock }) {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  const service = createCollectionsService({ db: options.db, repo: createCollectionsRepository(), ...(options.clock ? { clock: options.clock } : {}) });
  for (const schema of COLLECTIONS_SCHEMAS) {
    api.addSchema(schema);
  }
  const tags = ['collections'];

  api.get('/schools/:id/late-fee-policy', {
    config: { policy: 'billing:read' },
    schema: { tags: [...tags, 'schools'], summary: 'The school’s late-fee policy (404 when it has none)', params: SchoolParams, response: { 200: Type.Ref('LateFeePolicy'), ...problemResponses(400, 401, 403, 404) } },
  }, (request) => service.getLateFeePolicy(principalOf(request), request.params.id));

  api.put('/schools/:id/late-fee-policy', {
    config: { policy: 'billing:write' },
    schema: {
      tags: [...tags, 'schools'],
      summary: 'Set the school’s late-fee policy (audited)',
      description:
        'fixed: `value` minor units once per overdue invoice; percent: `value` % of the open amount, once; daily_interest: `value` % of the open amount ' +
        'for every school day. The first late fee comes the day after due date + graceDays; `cap` bounds the late fees of one overdue invoice. ' +
        'Changes apply from the next daily run; what is posted stays (waive it with POST /invoices/:id/waivers).',
      params: SchoolParams,
      body: PutLateFeePolicyBody,
      response: { 200: Type.Ref('LateFeePolicy'), ...problemResponses(400, 401, 403, 404) },
    },
  }, (request) => service.putLateFeePolicy(actorOf(request), request.params.id, request.body));

  api.get('/collections/runs', {
    config: { policy: 'billing:read' },
    schema: {
      tags,
      summary: 'What each day of a school’s collections did (late fees posted, reminders), newest first',
      querystring: CollectionDayListQuery,
      response: { 200: pageOf('CollectionDay'), ...problemResponses(400, 401, 403, 404) },
    },
  }, (request) => service.listDays(principalOf(request), { ...request.query, limit: request.query.limit ?? DEFAULT_PAGE_SIZE }));

  api.post('/collections/run', {
    config: { policy: 'billing:write' },
    schema: {
      tags,
      summary: 'Run a school’s day of collections now (late fees; the same idempotent job as the daily run)',
      description: 'A repeated or concurrent run of a day posts nothing twice and answers 0 posted. `date` defaults to today in the school’s time zone and may not be in the future.',
      body: CollectionRunBody,
      response: { 200: Type.Ref('CollectionRunResult'), ...problemResponses(400, 401, 403, 404) },
    },
  }, (request) => service.run(actorOf(request), request.body));
}
