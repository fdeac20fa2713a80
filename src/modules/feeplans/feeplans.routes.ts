import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Db } from '../../db/database.js';
import { principalOf } from '../../plugins/auth.js';
import { problemResponses } from '../../plugins/errors.js';
import { DEFAULT_PAGE_SIZE } from '../../shared/pagination.js';
import { actorOf } from '../auth/auth.routes.js';
import { IdParams, ListQuery, pageOf } from '../billing/billing.schemas.js';
import { createEnrolmentsRepository } from './enrolments.repository.js';
import { createFeePlansRepository } from './feeplans.repository.js';
import {
  BulkEnrolmentBody,
  BulkEnrolmentResult,
  CreateEnrolmentBody,
  CreateFeePlanBody,
  FEEPLAN_SCHEMAS,
  FeePlanListQuery,
  PatchEnrolmentBody,
  PatchFeePlanBody,
} from './feeplans.schemas.js';
import { voidInvoice } from '../ledger/ledger.js';
import { createFeePlansService } from './feeplans.service.js';

/**
 * Fee plans and enrolments (SPEC §7): thin routes over the fee plans service. Reads need
 * billing:read (super_admin, school_admin in their schools, finance_analyst); writes
 * billing:write. A withdrawal cancels invoices through the ledger's voidInvoice.
 */
export default function feePlansRoutes(app: FastifyInstance, options: { db: Db }) {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  const service = createFeePlansService({
    db: options.db,
    plans: createFeePlansRepository(),
    enrolments: createEnrolmentsRepository(),
    voidInvoice,
  });
  for (const schema of FEEPLAN_SCHEMAS) {
    api.addSchema(schema);
  }
  const read = { policy: 'billing:read' as const };
  const write = { policy: 'billing:write' as const };
  const Page = Type.Object(ListQuery);
  const limitOf = (query: { limit?: number }) => query.limit ?? DEFAULT_PAGE_SIZE;
  const tags = ['fee plans'];

  api.get('/fee-plans', {
    config: read,
    schema: { tags, summary: 'Fee plans the caller may see', querystring: FeePlanListQuery, response: { 200: pageOf('FeePlan'), ...problemResponses(400, 401, 403, 404) } },
  }, (request) => service.listPlans(principalOf(request), { ...request.query, limit: limitOf(request.query) }));

  api.post('/fee-plans', {
    config: write,
    schema: {
      tags,
      summary: 'Create a fee plan with its items and schedules',
      description: 'Every due date inside [yearStart, yearEnd]; item codes unique; 422 naming the field (e.g. items.1.schedule.dueDates.2).',
      body: CreateFeePlanBody,
      response: { 201: Type.Ref('FeePlan'), ...problemResponses(400, 401, 403, 404, 422) },
    },
  }, async (request, reply) => reply.status(201).send(await service.createPlan(actorOf(request), request.body)));

  api.get('/fee-plans/:id', {
    config: read,
    schema: { tags, summary: 'One fee plan, with the due dates already billed per item', params: IdParams, response: { 200: Type.Ref('FeePlan'), ...problemResponses(400, 401, 403, 404) } },
  }, (request) => service.getPlan(principalOf(request), request.params.id));

  api.patch('/fee-plans/:id', {
    config: write,
    schema: {
      tags,
      summary: 'Rename a plan; add, change or remove items (only what is not billed yet)',
      description:
        '`items` is the plan’s item list after the change. An item with billed instalments keeps its amount and billed due dates ' +
        'and cannot be removed (409 INSTALMENT_BILLED naming the field); to change its price from now on, keep it with its billed ' +
        'dates and add a new item code with the new amount for the rest.',
      params: IdParams,
      body: PatchFeePlanBody,
      response: { 200: Type.Ref('FeePlan'), ...problemResponses(400, 401, 403, 404, 409, 422) },
    },
  }, (request) => service.updatePlan(actorOf(request), request.params.id, request.body));

  api.post('/fee-plans/:id/enrolments', {
    config: write,
    schema: {
      tags: [...tags, 'enrolments'],
      summary: 'Enrol many students at once: the listed ones, or every active student of a grade',
      description: 'Students already enrolled in this plan for an overlapping period are skipped. One transaction.',
      params: IdParams,
      body: BulkEnrolmentBody,
      response: { 200: BulkEnrolmentResult, ...problemResponses(400, 401, 403, 404, 422) },
    },
  }, (request) => service.enrolMany(actorOf(request), request.params.id, request.body));

  api.post('/students/:id/enrolments', {
    config: write,
    schema: {
      tags: ['enrolments', 'students'],
      summary: 'Enrol a student in a fee plan of its school',
      description: 'payers: guardians of the student’s family, shares summing to 1 (the rounding remainder of each instalment goes to the first).',
      params: IdParams,
      body: CreateEnrolmentBody,
      response: { 201: Type.Ref('Enrolment'), ...problemResponses(400, 401, 403, 404, 409, 422) },
    },
  }, async (request, reply) => reply.status(201).send(await service.enrol(actorOf(request), request.params.id, request.body)));

  api.get('/students/:id/enrolments', {
    config: read,
    schema: { tags: ['enrolments', 'students'], summary: 'Enrolments of a student', params: IdParams, querystring: Page, response: { 200: pageOf('Enrolment'), ...problemResponses(400, 401, 403, 404) } },
  }, (request) => service.listEnrolments(principalOf(request), request.params.id, { cursor: request.query.cursor, limit: limitOf(request.query) }));

  api.patch('/enrolments/:id', {
    config: write,
    schema: {
      tags: ['enrolments'],
      summary: 'Withdraw: set the last day billed',
      description:
        'Instalments due after `to` are no longer billed; the unpaid invoices this enrolment billed that fall due after `to` are ' +
        'cancelled (`cancelled`); invoices with something settled on them are kept (`kept`).',
      params: IdParams,
      body: PatchEnrolmentBody,
      response: { 200: Type.Ref('Withdrawal'), ...problemResponses(400, 401, 403, 404, 409, 422) },
    },
  }, (request) => service.withdraw(actorOf(request), request.params.id, request.body));
}
