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
import { COLLECTIONS_SCHEMAS, CollectionDayListQuery, CollectionRunBody, PutLateFeePolicyBody, PutReminderPolicyBody, SchoolParams } from './collections.schemas.js';
import { reminderSettings } from './reminders.js';
import type { Config } from '../../config.js';
import { createCollectionsService } from './collections.service.js';

/**
 * Collections (SPEC §8): the late-fee policy of a school and the daily run on demand.
 * Reads need billing:read, writes billing:write (super_admin; school_admin for their
 * schools); a school outside the caller's scope is a 404.
 */
export default function collectionsRoutes(app: FastifyInstance, options: { db: Db; config: Pick<Config, 'messaging' | 'publicUrl'>; clock?: Clock }) {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  const service = createCollectionsService({
    db: options.db,
    repo: createCollectionsRepository(),
    reminders: reminderSettings(options.config),
    ...(options.clock ? { clock: options.clock } : {}),
  });
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

  api.get('/schools/:id/reminder-policy', {
    config: { policy: 'billing:read' },
    schema: { tags: [...tags, 'schools'], summary: 'The school’s reminder steps (404 when it has none)', params: SchoolParams, response: { 200: Type.Ref('ReminderPolicy'), ...problemResponses(400, 401, 403, 404) } },
  }, (request) => service.getReminderPolicy(principalOf(request), request.params.id));

  api.put('/schools/:id/reminder-policy', {
    config: { policy: 'billing:write' },
    schema: {
      tags: [...tags, 'schools'],
      summary: 'Set the school’s reminder steps (audited)',
      description:
        'Each step is sent on its day — the daily run for due date + offsetDays — once per invoice and guardian, to the invoice’s payer (or every ' +
        'guardian of the family), in the guardian’s language, unless they opted out (PATCH /guardians/:id {remindersOptOut}). A channel with no ' +
        'adapter configured (SMTP_URL, SMS_PROVIDER_URL, WHATSAPP_PROVIDER_URL) puts its messages in the outbox (GET /outbox).',
      params: SchoolParams,
      body: PutReminderPolicyBody,
      response: { 200: Type.Ref('ReminderPolicy'), ...problemResponses(400, 401, 403, 404) },
    },
  }, (request) => service.putReminderPolicy(actorOf(request), request.params.id, request.body));

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
      summary: 'Run a school’s day of collections now (late fees and reminders; the same idempotent job as the daily run)',
      description: 'A repeated or concurrent run of a day posts and sends nothing twice (it answers 0 posted, 0 sent). `date` defaults to today in the school’s time zone and may not be in the future.',
      body: CollectionRunBody,
      response: { 200: Type.Ref('CollectionRunResult'), ...problemResponses(400, 401, 403, 404) },
    },
  }, (request) => service.run(actorOf(request), request.body));
}
