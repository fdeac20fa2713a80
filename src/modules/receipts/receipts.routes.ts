import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Db } from '../../db/database.js';
import { principalOf } from '../../plugins/auth.js';
import { problemResponses } from '../../plugins/errors.js';
import { AppError } from '../../shared/errors.js';
import { isLanguage, languageFromAcceptLanguage, type Language } from '../../shared/locale.js';
import { negotiateMediaType } from '../../shared/negotiate.js';
import { IdParams } from '../billing/billing.schemas.js';
import { receiptDisposition, receiptPdf } from './receipts.render.js';
import { createReceiptsRepository } from './receipts.repository.js';
import { RECEIPT_MEDIA_TYPES, ReceiptDocument, ReceiptQuery, receiptResponse, type ReceiptMediaType } from './receipts.schemas.js';
import { createReceiptsService, type Receipt } from './receipts.service.js';

/** The receipt's media type an Accept header prefers (negotiateMediaType); no Accept → a PDF. */
export function negotiateReceipt(accept: string | undefined): ReceiptMediaType | undefined {
  return negotiateMediaType(accept, RECEIPT_MEDIA_TYPES, 'application/pdf');
}

/**
 * A receipt as the HTTP answer, private: JSON, or the PDF in `language` (the request's
 * `lang` or Accept-Language), else the family's, else English.
 */
export async function sendReceipt(reply: FastifyReply, receipt: Receipt, media: ReceiptMediaType, language: Language | undefined) {
  const { document, familyLanguage } = receipt;
  // Personal financial data: never stored by shared caches.
  reply.header('cache-control', 'private, no-store').header('vary', 'Accept, Accept-Language, Authorization');
  if (media === 'application/json') {
    return reply.type('application/json; charset=utf-8').send(document);
  }
  return reply.type('application/pdf').header('content-disposition', receiptDisposition(document)).send(await receiptPdf(document, language ?? familyLanguage ?? 'en'));
}

/** GET /payments/:id/receipt (SPEC §7): billing:read, in the caller's schools, masked for its role. */
export default function receiptsRoutes(app: FastifyInstance, options: { db: Db }) {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  api.addSchema(ReceiptDocument);
  const receipts = createReceiptsService({ db: options.db, repository: createReceiptsRepository() });

  api.get('/payments/:id/receipt', {
    config: { policy: 'billing:read' },
    schema: {
      tags: ['payments', 'receipts'],
      summary: 'The receipt of a payment (one-page PDF, or JSON)',
      description:
        'A payment that is one allocation of a family payment answers the family payment’s receipt (one receipt for the money ' +
        'received); the id of a family payment answers it too. `Accept`: application/pdf (default) or application/json; anything ' +
        'else is 406. Finance analysts see names as initials and references as their last 4 characters.',
      params: IdParams,
      querystring: ReceiptQuery,
      produces: [...RECEIPT_MEDIA_TYPES],
      response: { 200: receiptResponse, ...problemResponses(400, 401, 403, 404, 406) },
    },
  }, async (request, reply) => {
    const media = negotiateReceipt(request.headers.accept);
    if (media === undefined) {
      throw new AppError('NOT_ACCEPTABLE', `no media type in Accept is offered; a receipt is available as ${RECEIPT_MEDIA_TYPES.join(', ')}`);
    }
    const header = request.headers['accept-language'];
    const requested = (isLanguage(request.query.lang) ? request.query.lang : undefined) ?? languageFromAcceptLanguage(Array.isArray(header) ? header.join(',') : header);
    return sendReceipt(reply, await receipts.getReceipt(principalOf(request), request.params.id), media, requested);
  });
}
