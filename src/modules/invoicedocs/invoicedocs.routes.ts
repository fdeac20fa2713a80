import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Config } from '../../config.js';
import type { Db } from '../../db/database.js';
import { principalOf } from '../../plugins/auth.js';
import { problemResponses } from '../../plugins/errors.js';
import { systemClock, type Clock } from '../../shared/clock.js';
import { isLanguage, languageFromAcceptLanguage, localDate, type Language } from '../../shared/locale.js';
import { roleAllows } from '../../shared/policy.js';
import { IdParams } from '../billing/billing.schemas.js';
import { createBillingService } from '../billing/billing.service.js';
import { createInvoicesRepository } from '../billing/invoices.repository.js';
import { createPaymentsRepository } from '../billing/payments.repository.js';
import { createSchoolsRepository } from '../billing/schools.repository.js';
import { createStudentsRepository } from '../billing/students.repository.js';
import { invoiceDisposition, invoicePdf } from './invoicedocs.render.js';
import { InvoicePdfQuery, invoicePdfResponse } from './invoicedocs.schemas.js';
import { createInvoiceDocsService, type PrintableInvoice } from './invoicedocs.service.js';

/** The reader's language: `?lang=`, else Accept-Language, else the document's own (`fallback`), else English — as receipts choose it. */
export function documentLanguage(request: { query: { lang?: string | undefined }; headers: { 'accept-language'?: string | string[] | undefined } }, fallback: Language | null): Language {
  const header = request.headers['accept-language'];
  const { lang } = request.query;
  return (
    (isLanguage(lang) ? lang : undefined) ??
    languageFromAcceptLanguage(Array.isArray(header) ? header.join(',') : header) ??
    fallback ??
    'en'
  );
}

/** A printed invoice as the HTTP answer: PDF, private, named in the house scheme. */
export async function sendInvoicePdf(reply: FastifyReply, printable: PrintableInvoice, language: Language) {
  const { document } = printable;
  // Personal financial data: never stored by shared caches.
  return reply
    .header('cache-control', 'private, no-store')
    .header('vary', 'Accept-Language, Authorization')
    .type('application/pdf')
    .header('content-disposition', invoiceDisposition(document, localDate(document.generatedAt, document.timeZone)))
    .send(await invoicePdf(document, language));
}

export function createInvoiceDocs(options: { db: Db; config: Pick<Config, 'publicUrl'>; clock?: Clock }) {
  const billing = createBillingService({
    db: options.db,
    schools: createSchoolsRepository(),
    students: createStudentsRepository(),
    invoices: createInvoicesRepository(),
    payments: createPaymentsRepository(),
  });
  return createInvoiceDocsService({ db: options.db, billing, publicUrl: options.config.publicUrl, clock: options.clock ?? systemClock });
}

/** GET /invoices/:id/pdf (issue 17): billing:read, the invoice in the caller's schools (404 otherwise), masked for its role. */
export default function invoiceDocsRoutes(app: FastifyInstance, options: { db: Db; config: Pick<Config, 'publicUrl'>; clock?: Clock }) {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  const invoiceDocs = createInvoiceDocs(options);

  api.get('/invoices/:id/pdf', {
    config: { policy: 'billing:read' },
    schema: {
      tags: ['invoices'],
      summary: 'The invoice as a one-page PDF, with a QR code to pay it online while something is due',
      description:
        'The QR code (and its URL) is a pay link like POST /invoices/:id/pay-link’s, valid 30 days; it is printed for roles that may make pay links ' +
        '(billing:write), not on the finance analyst’s copy, whose names are initials and family reference its last 4 characters.',
      params: IdParams,
      querystring: InvoicePdfQuery,
      produces: ['application/pdf'],
      response: { 200: invoicePdfResponse, ...problemResponses(400, 401, 403, 404) },
    },
  }, async (request, reply) => {
    const principal = principalOf(request);
    const printable = await invoiceDocs.invoiceDocument(principal, request.params.id, { payLink: roleAllows(principal.role, 'billing:write') });
    return sendInvoicePdf(reply, printable, documentLanguage(request, printable.language));
  });
}
