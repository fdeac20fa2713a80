import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Db } from '../../db/database.js';
import { principalOf } from '../../plugins/auth.js';
import { problemResponses } from '../../plugins/errors.js';
import { DEFAULT_PAGE_SIZE } from '../../shared/pagination.js';
import { actorOf } from '../auth/auth.routes.js';
import { IdempotencyHeaders, IdParams } from '../billing/billing.schemas.js';
import * as ledger from '../ledger/ledger.js';
import { createFamilyPaymentsRepository } from './familypayments.repository.js';
import { ApplyCreditBody, CreateFamilyPaymentBody, FAMILY_PAYMENT_SCHEMAS, FamilyPaymentListQuery } from './familypayments.schemas.js';
import { createFamilyPaymentsService } from './familypayments.service.js';
import { liveWaker } from '../live/wake.js';

/**
 * Family payments and family credit (SPEC §7): POST|GET /families/:id/payments and
 * POST /families/:id/apply-credit. Reads need billing:read, writes billing:write
 * (super_admin; school_admin in their schools; a finance_analyst reads only; a
 * developer has neither).
 */
export default function familyPaymentsRoutes(app: FastifyInstance, options: { db: Db }) {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  const service = createFamilyPaymentsService({
    db: options.db,
    repository: createFamilyPaymentsRepository(),
    ledger: { applyCredit: ledger.applyCredit },
    live: liveWaker(options.db),
  });
  for (const schema of FAMILY_PAYMENT_SCHEMAS) {
    api.addSchema(schema);
  }
  const tags = ['families', 'payments'];

  api.post('/families/:id/payments', {
    config: { policy: 'billing:write' },
    schema: {
      tags,
      summary: 'Record money a family paid, shared out over its open invoices',
      description:
        'Allocated oldest due date first (then invoice id) across the family’s open invoices — with payerGuardianId, only that ' +
        'guardian’s invoices; what is left becomes family credit. One receipt number for the whole payment. Requires an ' +
        'Idempotency-Key header: a retry with the same key and body returns the first response (Idempotent-Replayed: true); ' +
        'the same key with another body is a 422. A payer who is not a guardian of the family is a 422 naming payerGuardianId.',
      params: IdParams,
      headers: IdempotencyHeaders,
      body: CreateFamilyPaymentBody,
      response: { 201: Type.Ref('FamilyPaymentReceipt'), ...problemResponses(400, 401, 403, 404, 409, 422) },
    },
  }, async (request, reply) => {
    const result = await service.recordFamilyPayment(actorOf(request), request.params.id, request.body, {
      idempotencyKey: request.headers['idempotency-key'],
      path: `/families/${request.params.id}/payments`,
    });
    if (result.replayed) {
      reply.header('idempotent-replayed', 'true');
    }
    return reply.status(201).send(result.body);
  });

  api.get('/families/:id/payments', {
    config: { policy: 'billing:read' },
    schema: {
      tags,
      summary: 'Payments of a family, newest first, with their allocations',
      params: IdParams,
      querystring: FamilyPaymentListQuery,
      response: { 200: Type.Object({ data: Type.Array(Type.Ref('FamilyPayment')), nextCursor: Type.Union([Type.String(), Type.Null()]) }), ...problemResponses(400, 401, 403, 404) },
    },
  }, (request) => service.listFamilyPayments(principalOf(request), request.params.id, { ...request.query, limit: request.query.limit ?? DEFAULT_PAGE_SIZE }));

  api.post('/families/:id/apply-credit', {
    config: { policy: 'billing:write' },
    schema: {
      tags: ['families'],
      summary: 'Apply the family’s credit to its open invoices, oldest due date first',
      description:
        'As far as the credit goes; `invoiceIds` limits it to those invoices of the family (another family’s invoice is a 422 ' +
        'naming it). No body = every open invoice. Nothing to apply is a 200 with applied 0. Repeating it is harmless: it ' +
        'applies whatever credit is left.',
      params: IdParams,
      body: ApplyCreditBody,
      response: { 200: Type.Ref('CreditApplied'), ...problemResponses(400, 401, 403, 404, 422) },
    },
    // "Apply whatever credit there is" needs no body: a bodiless POST is an empty one.
    preValidation: (request, _reply, done) => {
      request.body ??= {};
      done();
    },
  }, (request) => service.applyFamilyCredit(actorOf(request), request.params.id, request.body));
}
