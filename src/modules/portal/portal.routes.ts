import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Config } from '../../config.js';
import type { Db } from '../../db/database.js';
import { principalOf } from '../../plugins/auth.js';
import { problemResponses } from '../../plugins/errors.js';
import { systemClock, type Clock } from '../../shared/clock.js';
import { DEFAULT_PAGE_SIZE } from '../../shared/pagination.js';
import { Password, Username } from '../auth/auth.schemas.js';
import { actorOf } from '../auth/auth.routes.js';
import { InvoiceStatus, ListQuery, pageOf, Uuid } from '../billing/billing.schemas.js';
import { createBillingService } from '../billing/billing.service.js';
import { createInvoicesRepository } from '../billing/invoices.repository.js';
import { createPaymentsRepository } from '../billing/payments.repository.js';
import { createSchoolsRepository } from '../billing/schools.repository.js';
import { createStudentsRepository } from '../billing/students.repository.js';
import { configuredChannels } from '../messages/channels.js';
import { AppError } from '../../shared/errors.js';
import { negotiateMediaType } from '../../shared/negotiate.js';
import { familyStatementFormat, sendFamilyStatement } from '../families/statement.routes.js';
import { type FAMILY_STATEMENT_MEDIA_TYPES, FamilyStatement, familyStatementResponse, FamilyStatementQuery } from '../families/statement.schemas.js';
import { createFamilyStatementService } from '../families/statement.service.js';
import { documentLanguage, sendInvoicePdf } from '../invoicedocs/invoicedocs.routes.js';
import { InvoicePdfQuery, invoicePdfResponse } from '../invoicedocs/invoicedocs.schemas.js';
import { createInvoiceDocsService } from '../invoicedocs/invoicedocs.service.js';
import { createReceiptsRepository } from '../receipts/receipts.repository.js';
import { negotiateReceipt, sendReceipt } from '../receipts/receipts.routes.js';
import { RECEIPT_MEDIA_TYPES, ReceiptDocument, ReceiptQuery, receiptResponse } from '../receipts/receipts.schemas.js';
import { createReceiptsService } from '../receipts/receipts.service.js';
import { createPortalService } from './portal.service.js';

/** The portal's statement formats by preference: a family downloads a PDF unless it asks for another. */
const PORTAL_STATEMENT_MEDIA_TYPES = ['application/pdf', 'application/json', 'text/csv'] as const satisfies readonly (typeof FAMILY_STATEMENT_MEDIA_TYPES)[number][];

const Language = Type.Union([Type.Literal('es'), Type.Literal('en')]);
const PortalMe = Type.Object(
  {
    guardian: Type.Object({
      id: Uuid,
      firstName: Type.String(),
      lastName: Type.String(),
      email: Type.Union([Type.String(), Type.Null()]),
      phone: Type.Union([Type.String(), Type.Null()]),
      preferredLanguage: Language,
      remindersOptOut: Type.Boolean(),
    }),
    family: Type.Object({
      id: Uuid,
      name: Type.String(),
      reference: Type.String({ description: 'the reference to quote on a bank transfer' }),
      balance: Type.Object({ owed: Type.Integer(), credit: Type.Integer() }),
    }),
    school: Type.Object({ id: Uuid, name: Type.String(), currency: Type.String(), timezone: Type.String() }),
    students: Type.Array(Type.Object({ id: Uuid, firstName: Type.String(), lastName: Type.String(), grade: Type.String() })),
    nextDue: Type.Union([Type.Object({ invoiceId: Uuid, number: Type.String(), dueDate: Type.String(), pendingAmount: Type.Integer() }), Type.Null()], {
      description: 'the oldest invoice still open',
    }),
  },
  { $id: 'PortalMe' },
);

/**
 * The family portal's API (SPEC §8) for guardian users (permission portal:use; other
 * roles get 403 from the service), and guardian invitations: POST /guardians/:id/invite
 * (staff) and POST /auth/invitations/accept (no login).
 */
export default function portalRoutes(app: FastifyInstance, options: { db: Db; config: Pick<Config, 'publicUrl' | 'messaging'>; clock?: Clock }) {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  const clock = options.clock ?? systemClock;
  const invoices = createInvoicesRepository();
  const billing = createBillingService({
    db: options.db,
    schools: createSchoolsRepository(),
    students: createStudentsRepository(),
    invoices,
    payments: createPaymentsRepository(),
  });
  const documents = {
    invoiceDocs: createInvoiceDocsService({ db: options.db, billing, publicUrl: options.config.publicUrl, clock }),
    statements: createFamilyStatementService({ db: options.db, clock, publicUrl: options.config.publicUrl }),
    receipts: createReceiptsService({ db: options.db, repository: createReceiptsRepository(), now: () => new Date(clock.now()) }),
  };
  const portal = createPortalService({ db: options.db, billing, invoices, publicUrl: options.config.publicUrl, sending: configuredChannels(options.config), documents });
  api.addSchema(PortalMe);
  api.addSchema(FamilyStatement);
  api.addSchema(ReceiptDocument);
  const tags = ['portal'];
  const use = { policy: 'portal:use' as const };

  api.get('/portal/me', {
    config: use,
    schema: { tags, summary: 'The guardian, their family’s balance, children and what is due next', response: { 200: Type.Ref('PortalMe'), ...problemResponses(401, 403, 404) } },
  }, (request) => portal.me(principalOf(request)));

  api.patch('/portal/me', {
    config: use,
    schema: {
      tags,
      summary: 'The guardian’s own preferences: reminders and language (audited)',
      body: Type.Object({ remindersOptOut: Type.Optional(Type.Boolean()), preferredLanguage: Type.Optional(Language) }, { additionalProperties: false, minProperties: 1 }),
      response: { 200: Type.Ref('PortalMe'), ...problemResponses(400, 401, 403, 404) },
    },
  }, (request) => portal.updateMe(actorOf(request), request.body));

  api.get('/portal/invoices', {
    config: use,
    schema: {
      tags,
      summary: 'The family’s invoices (every child’s), by id',
      querystring: Type.Object({ ...ListQuery, status: Type.Optional(InvoiceStatus) }, { additionalProperties: false }),
      response: { 200: pageOf('Invoice'), ...problemResponses(400, 401, 403) },
    },
  }, (request) => portal.invoices(principalOf(request), { ...request.query, limit: request.query.limit ?? DEFAULT_PAGE_SIZE }));

  api.get('/portal/invoices/:id', {
    config: use,
    schema: { tags, summary: 'One of the family’s invoices with its lines (404 for any other)', params: Type.Object({ id: Uuid }), response: { 200: Type.Ref('Invoice'), ...problemResponses(400, 401, 403, 404) } },
  }, (request) => portal.invoice(principalOf(request), request.params.id));

  api.get('/portal/invoices/:id/pdf', {
    config: use,
    schema: {
      tags,
      summary: 'One of the family’s invoices as a one-page PDF, with a QR code to pay it online while something is due (404 for any other)',
      description: 'As GET /invoices/:id/pdf prints it, names in clear; the language is `lang`, else Accept-Language, else the guardian’s.',
      params: Type.Object({ id: Uuid }),
      querystring: InvoicePdfQuery,
      produces: ['application/pdf'],
      response: { 200: invoicePdfResponse, ...problemResponses(400, 401, 403, 404) },
    },
  }, async (request, reply) => {
    const printable = await portal.invoicePdf(principalOf(request), request.params.id);
    return sendInvoicePdf(reply, printable, documentLanguage(request, printable.language));
  });

  api.get('/portal/statement', {
    config: use,
    schema: {
      tags,
      summary: 'The family’s statement: PDF by default (with a QR code to pay what it owes), JSON or CSV',
      description:
        'The statement staff get from GET /families/:id/statement, for the guardian’s own family. `format=pdf|json|csv`, else Accept ' +
        '(PDF when it names none or any; 406 when nothing offered is acceptable); the language is `lang`, else Accept-Language, else the guardian’s.',
      querystring: FamilyStatementQuery,
      produces: [...PORTAL_STATEMENT_MEDIA_TYPES],
      response: { 200: familyStatementResponse, ...problemResponses(400, 401, 403, 404, 406) },
    },
  }, async (request, reply) => {
    const format = familyStatementFormat(request.query.format, negotiateMediaType(request.headers.accept, PORTAL_STATEMENT_MEDIA_TYPES, 'application/pdf'));
    if (format === undefined) {
      throw new AppError('NOT_ACCEPTABLE', `no media type in Accept is offered; the statement is available as ${PORTAL_STATEMENT_MEDIA_TYPES.join(', ')} (or ?format=pdf|json|csv)`);
    }
    const { document, language } = await portal.statement(principalOf(request), request.query, { payLink: format === 'pdf' });
    return sendFamilyStatement(reply, document, format, documentLanguage(request, language), request.query.style ?? 'people');
  });

  api.get('/portal/receipts', {
    config: use,
    schema: {
      tags,
      summary: 'The family’s receipts, newest first (a family payment’s, and each payment made straight on its invoices)',
      querystring: Type.Object(ListQuery, { additionalProperties: false }),
      response: {
        200: Type.Object({
          data: Type.Array(
            Type.Object({
              number: Type.String({ description: 'the gapless receipt number' }),
              paymentId: Uuid,
              amount: Type.Integer({ minimum: 0, description: 'minor units' }),
              method: Type.String(),
              paidAt: Type.String({ format: 'date-time' }),
            }),
          ),
          nextCursor: Type.Union([Type.String(), Type.Null()]),
        }),
        ...problemResponses(400, 401, 403),
      },
    },
  }, (request) => portal.receipts(principalOf(request), { ...request.query, limit: request.query.limit ?? DEFAULT_PAGE_SIZE }));

  api.get('/portal/payments/:id/receipt', {
    config: use,
    schema: {
      tags,
      summary: 'The receipt of a payment on the family’s invoices or of a family payment of theirs (PDF, or JSON; 404 for any other)',
      description: 'As GET /payments/:id/receipt answers it, names in clear; the language is `lang`, else Accept-Language, else the guardian’s.',
      params: Type.Object({ id: Uuid }),
      querystring: ReceiptQuery,
      produces: [...RECEIPT_MEDIA_TYPES],
      response: { 200: receiptResponse, ...problemResponses(400, 401, 403, 404, 406) },
    },
  }, async (request, reply) => {
    const media = negotiateReceipt(request.headers.accept);
    if (media === undefined) {
      throw new AppError('NOT_ACCEPTABLE', `no media type in Accept is offered; a receipt is available as ${RECEIPT_MEDIA_TYPES.join(', ')}`);
    }
    const receipt = await portal.receipt(principalOf(request), request.params.id);
    return sendReceipt(reply, receipt, media, documentLanguage(request, receipt.language ?? receipt.familyLanguage));
  });

  api.get('/portal/messages', {
    config: use,
    schema: { tags, summary: 'The reminders and invitations sent to this guardian, newest first', querystring: Type.Object(ListQuery, { additionalProperties: false }), response: { 200: pageOf('Message'), ...problemResponses(400, 401, 403) } },
  }, (request) => portal.messages(principalOf(request), { ...request.query, limit: request.query.limit ?? DEFAULT_PAGE_SIZE }));

  api.post('/guardians/:id/invite', {
    config: { policy: 'billing:write' },
    schema: {
      tags: [...tags, 'families'],
      summary: 'E-mail the guardian a one-time link to the portal (expires in 7 days; audited)',
      description: 'The link goes out as a message (GET /families/:id/messages); with no SMTP configured it waits in the outbox. 409 when the guardian already has a login; 422 without an e-mail address.',
      params: Type.Object({ id: Uuid }),
      response: {
        201: Type.Object({ id: Uuid, guardianId: Uuid, expiresAt: Type.String({ format: 'date-time' }), messageId: Uuid, status: Type.Union([Type.Literal('queued'), Type.Literal('outbox')]) }),
        ...problemResponses(400, 401, 403, 404, 409, 422),
      },
    },
  }, async (request, reply) => reply.code(201).send(await portal.invite(actorOf(request), request.params.id, new Date(clock.now()))));

  api.post('/auth/invitations/accept', {
    config: { policy: 'public' },
    schema: {
      tags: [...tags, 'auth'],
      summary: 'Accept a portal invitation: choose a username and password (once); then sign in with POST /auth/login',
      body: Type.Object({ token: Type.String({ minLength: 20, maxLength: 100 }), username: Username, password: Password }, { additionalProperties: false }),
      response: { 201: Type.Object({ userId: Uuid, username: Type.String() }), ...problemResponses(400, 404, 409, 410) },
    },
  }, async (request, reply) => reply.code(201).send(await portal.accept(request.body, new Date(clock.now()))));
}
