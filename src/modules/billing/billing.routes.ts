import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Db } from '../../db/database.js';
import { principalOf } from '../../plugins/auth.js';
import { problemResponses } from '../../plugins/errors.js';
import { DEFAULT_PAGE_SIZE } from '../../shared/pagination.js';
import { actorOf } from '../auth/auth.routes.js';
import {
  CreateAdjustmentBody,
  CreateInvoiceBody,
  CreatePaymentBody,
  CreateRefundBody,
  CreateSchoolBody,
  CreateStudentBody,
  IdempotencyHeaders,
  IdParams,
  InvoiceListQuery,
  ListQuery,
  pageOf,
  PatchInvoiceBody,
  PatchSchoolBody,
  PatchStudentBody,
  PaymentListQuery,
  ReplaceSchoolBody,
  ReplaceStudentBody,
  SchoolListQuery,
  StudentListQuery,
} from './billing.schemas.js';
import { liveWaker } from '../live/wake.js';
import { createBillingService } from './billing.service.js';
import { createInvoicesRepository } from './invoices.repository.js';
import { createPaymentsRepository } from './payments.repository.js';
import { createSchoolsRepository } from './schools.repository.js';
import { createStudentsRepository } from './students.repository.js';

/**
 * Billing API (SPEC §3 "Billing"): thin routes over the billing service. Reads need
 * billing:read (super_admin, school_admin, finance_analyst); writes billing:write
 * (super_admin, school_admin in their schools); creating and deleting schools needs
 * schools:manage (super_admin).
 */
export default function billingRoutes(app: FastifyInstance, options: { db: Db }) {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  const billing = createBillingService({
    db: options.db,
    schools: createSchoolsRepository(),
    students: createStudentsRepository(),
    invoices: createInvoicesRepository(),
    payments: createPaymentsRepository(),
    live: liveWaker(options.db),
  });
  const read = { policy: 'billing:read' as const };
  const write = { policy: 'billing:write' as const };
  const manage = { policy: 'schools:manage' as const };
  const Page = Type.Object(ListQuery);
  const limitOf = (query: { limit?: number }) => query.limit ?? DEFAULT_PAGE_SIZE;

  // ------------------------------------------------------------------ schools
  api.get('/schools', {
    config: read,
    schema: { tags: ['schools'], summary: 'Schools the caller may see', querystring: SchoolListQuery, response: { 200: pageOf('School'), ...problemResponses(400, 401, 403) } },
  }, (request) => billing.listSchools(principalOf(request), { ...request.query, limit: limitOf(request.query) }));

  api.post('/schools', {
    config: manage,
    schema: { tags: ['schools'], summary: 'Create a school', body: CreateSchoolBody, response: { 201: Type.Ref('School'), ...problemResponses(400, 401, 403, 409) } },
  }, async (request, reply) => reply.status(201).send(await billing.createSchool(actorOf(request), request.body)));

  api.get('/schools/:id', {
    config: read,
    schema: { tags: ['schools'], summary: 'One school', params: IdParams, response: { 200: Type.Ref('School'), ...problemResponses(400, 401, 403, 404) } },
  }, (request) => billing.getSchool(principalOf(request), request.params.id));

  api.put('/schools/:id', {
    config: write,
    schema: { tags: ['schools'], summary: 'Replace a school’s details', params: IdParams, body: ReplaceSchoolBody, response: { 200: Type.Ref('School'), ...problemResponses(400, 401, 403, 404, 409) } },
  }, (request) => billing.updateSchool(actorOf(request), request.params.id, request.body, 'replace'));

  api.patch('/schools/:id', {
    config: write,
    schema: { tags: ['schools'], summary: 'Change some of a school’s details', params: IdParams, body: PatchSchoolBody, response: { 200: Type.Ref('School'), ...problemResponses(400, 401, 403, 404, 409) } },
  }, (request) => billing.updateSchool(actorOf(request), request.params.id, request.body, 'patch'));

  api.delete('/schools/:id', {
    config: manage,
    schema: { tags: ['schools'], summary: 'Soft-delete a school (only when nothing is owed)', params: IdParams, response: { 204: Type.Null(), ...problemResponses(400, 401, 403, 404, 409) } },
  }, async (request, reply) => {
    await billing.deleteSchool(actorOf(request), request.params.id);
    return reply.status(204).send(null);
  });

  api.get('/schools/:id/students', {
    config: read,
    schema: { tags: ['schools', 'students'], summary: 'Students of a school', params: IdParams, querystring: Page, response: { 200: pageOf('Student'), ...problemResponses(400, 401, 403, 404) } },
  }, (request) => billing.listStudents(principalOf(request), { schoolId: request.params.id, cursor: request.query.cursor, limit: limitOf(request.query) }));

  // ------------------------------------------------------------------ students
  api.get('/students', {
    config: read,
    schema: { tags: ['students'], summary: 'Students the caller may see', querystring: StudentListQuery, response: { 200: pageOf('Student'), ...problemResponses(400, 401, 403, 404) } },
  }, (request) => billing.listStudents(principalOf(request), { ...request.query, limit: limitOf(request.query) }));

  api.post('/students', {
    config: write,
    schema: { tags: ['students'], summary: 'Enrol a student', body: CreateStudentBody, response: { 201: Type.Ref('Student'), ...problemResponses(400, 401, 403, 404) } },
  }, async (request, reply) => reply.status(201).send(await billing.createStudent(actorOf(request), request.body)));

  api.get('/students/:id', {
    config: read,
    schema: { tags: ['students'], summary: 'One student', params: IdParams, response: { 200: Type.Ref('Student'), ...problemResponses(400, 401, 403, 404) } },
  }, (request) => billing.getStudent(principalOf(request), request.params.id));

  api.put('/students/:id', {
    config: write,
    schema: { tags: ['students'], summary: 'Replace a student’s details', params: IdParams, body: ReplaceStudentBody, response: { 200: Type.Ref('Student'), ...problemResponses(400, 401, 403, 404) } },
  }, (request) => billing.updateStudent(actorOf(request), request.params.id, request.body, 'replace'));

  api.patch('/students/:id', {
    config: write,
    schema: { tags: ['students'], summary: 'Change some of a student’s details', params: IdParams, body: PatchStudentBody, response: { 200: Type.Ref('Student'), ...problemResponses(400, 401, 403, 404) } },
  }, (request) => billing.updateStudent(actorOf(request), request.params.id, request.body, 'patch'));

  api.delete('/students/:id', {
    config: write,
    schema: { tags: ['students'], summary: 'Soft-delete a student (only when nothing is owed)', params: IdParams, response: { 204: Type.Null(), ...problemResponses(400, 401, 403, 404, 409) } },
  }, async (request, reply) => {
    await billing.deleteStudent(actorOf(request), request.params.id);
    return reply.status(204).send(null);
  });

  api.get('/students/:id/invoices', {
    config: read,
    schema: { tags: ['students', 'invoices'], summary: 'Invoices of a student', params: IdParams, querystring: Page, response: { 200: pageOf('Invoice'), ...problemResponses(400, 401, 403, 404) } },
  }, (request) => billing.listStudentInvoices(principalOf(request), request.params.id, { cursor: request.query.cursor, limit: limitOf(request.query) }));

  // ------------------------------------------------------------------ invoices
  api.get('/invoices', {
    config: read,
    schema: {
      tags: ['invoices'],
      summary: 'Invoices the caller may see',
      description: 'status=OVERDUE is computed at read time in each school’s time zone.',
      querystring: InvoiceListQuery,
      response: { 200: pageOf('Invoice'), ...problemResponses(400, 401, 403, 404) },
    },
  }, (request) => billing.listInvoices(principalOf(request), { ...request.query, limit: limitOf(request.query) }));

  api.post('/invoices', {
    config: write,
    schema: { tags: ['invoices'], summary: 'Bill a student', body: CreateInvoiceBody, response: { 201: Type.Ref('Invoice'), ...problemResponses(400, 401, 403, 404, 409, 422) } },
  }, async (request, reply) => reply.status(201).send(await billing.createInvoice(actorOf(request), request.body)));

  api.get('/invoices/:id', {
    config: read,
    schema: { tags: ['invoices'], summary: 'One invoice', params: IdParams, response: { 200: Type.Ref('Invoice'), ...problemResponses(400, 401, 403, 404) } },
  }, (request) => billing.getInvoice(principalOf(request), request.params.id));

  api.patch('/invoices/:id', {
    config: write,
    schema: {
      tags: ['invoices'],
      summary: 'Change amount, due date or description',
      description: 'The amount can never drop below what is already paid; cancelled invoices cannot change.',
      params: IdParams,
      body: PatchInvoiceBody,
      response: { 200: Type.Ref('Invoice'), ...problemResponses(400, 401, 403, 404, 409, 422) },
    },
  }, (request) => billing.updateInvoice(actorOf(request), request.params.id, request.body));

  api.delete('/invoices/:id', {
    config: write,
    schema: {
      tags: ['invoices'],
      summary: 'Cancel an invoice (only while nothing is paid)',
      params: IdParams,
      response: { 200: Type.Ref('Invoice'), ...problemResponses(400, 401, 403, 404, 409) },
    },
  }, (request) => billing.cancelInvoice(actorOf(request), request.params.id));

  for (const [suffix, kind, what] of [
    ['credit-notes', 'credit_note', 'Credit note: reduce what is owed (a fee correction), numbered CN-NNNNNN per school'],
    ['write-offs', 'write_off', 'Write off what is owed as bad debt'],
    ['waivers', 'waiver', 'Waive late fees: on a late-fee invoice, or on an overdue invoice (its late-fee invoice is waived)'],
  ] as const) {
    api.post(`/invoices/:id/${suffix}`, {
      config: write,
      schema: {
        tags: ['invoices'],
        summary: what,
        description:
          'Settles part or all of what is open without moving money: never above the open amount (422 EXCEEDS_OPEN_AMOUNT), ' +
          'never on a cancelled invoice (409). Reason required and audited. Requires an Idempotency-Key header (same semantics as payments).' +
          (kind === 'waiver' ? ' Only late fees are waived: an invoice with no late fees is a 422 NOT_A_LATE_FEE; the answer names the late-fee invoice waived.' : ''),
        params: IdParams,
        headers: IdempotencyHeaders,
        body: CreateAdjustmentBody,
        response: { 201: Type.Ref('InvoiceAdjustment'), ...problemResponses(400, 401, 403, 404, 409, 422) },
      },
    }, async (request, reply) => {
      const result = await billing.adjustInvoice(actorOf(request), request.params.id, kind, request.body, {
        idempotencyKey: request.headers['idempotency-key'],
        path: `/invoices/${request.params.id}/${suffix}`,
      });
      if (result.replayed) {
        reply.header('idempotent-replayed', 'true');
      }
      return reply.status(201).send(result.body);
    });
  }

  api.get('/invoices/:id/payments', {
    config: read,
    schema: { tags: ['invoices', 'payments'], summary: 'Payments of an invoice', params: IdParams, querystring: Page, response: { 200: pageOf('Payment'), ...problemResponses(400, 401, 403, 404) } },
  }, (request) => billing.listInvoicePayments(principalOf(request), request.params.id, { cursor: request.query.cursor, limit: limitOf(request.query) }));

  // ------------------------------------------------------------------ payments
  api.get('/payments', {
    config: read,
    schema: { tags: ['payments'], summary: 'Payments the caller may see', querystring: PaymentListQuery, response: { 200: pageOf('Payment'), ...problemResponses(400, 401, 403, 404) } },
  }, (request) => billing.listPayments(principalOf(request), { ...request.query, limit: limitOf(request.query) }));

  api.post('/payments', {
    config: write,
    schema: {
      tags: ['payments'],
      summary: 'Record a payment against an invoice',
      description:
        'Requires an Idempotency-Key header: a retry with the same key and body returns the first response ' +
        '(with Idempotent-Replayed: true); the same key with another body is a 422. Overpayment is a 422; ' +
        'a cancelled invoice a 409.',
      headers: IdempotencyHeaders,
      body: CreatePaymentBody,
      response: { 201: Type.Ref('PaymentReceipt'), ...problemResponses(400, 401, 403, 404, 409, 422) },
    },
  }, async (request, reply) => {
    const result = await billing.recordPayment(actorOf(request), request.body, {
      idempotencyKey: request.headers['idempotency-key'],
      path: '/payments',
    });
    if (result.replayed) {
      reply.header('idempotent-replayed', 'true');
    }
    // Only successes are stored (a rejected payment rolls its key back), so a replay is a 201 too.
    return reply.status(201).send(result.body);
  });

  api.get('/payments/:id', {
    config: read,
    schema: { tags: ['payments'], summary: 'One payment', params: IdParams, response: { 200: Type.Ref('Payment'), ...problemResponses(400, 401, 403, 404) } },
  }, (request) => billing.getPayment(principalOf(request), request.params.id));

  api.post('/payments/:id/refunds', {
    config: write,
    schema: {
      tags: ['payments'],
      summary: 'Refund part or all of a payment',
      description: 'Never more than what remains refundable. Requires an Idempotency-Key header (same semantics as payments).',
      params: IdParams,
      headers: IdempotencyHeaders,
      body: CreateRefundBody,
      response: { 201: Type.Ref('RefundReceipt'), ...problemResponses(400, 401, 403, 404, 409, 422) },
    },
  }, async (request, reply) => {
    const result = await billing.refundPayment(actorOf(request), request.params.id, request.body, {
      idempotencyKey: request.headers['idempotency-key'],
      path: `/payments/${request.params.id}/refunds`,
    });
    if (result.replayed) {
      reply.header('idempotent-replayed', 'true');
    }
    return reply.status(201).send(result.body);
  });
}
