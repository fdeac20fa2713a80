import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import type { Db } from '../../db/database.js';
import { principalOf } from '../../plugins/auth.js';
import { problemResponses } from '../../plugins/errors.js';
import { AppError } from '../../shared/errors.js';
import { isLanguage, languageFromAcceptLanguage, type Language } from '../../shared/locale.js';
import { IdParams } from '../billing/billing.schemas.js';
import { receiptDisposition, receiptPdf } from './receipts.render.js';
import { createReceiptsRepository } from './receipts.repository.js';
import { RECEIPT_MEDIA_TYPES, ReceiptDocument, ReceiptQuery, receiptResponse, type ReceiptMediaType } from './receipts.schemas.js';
import { createReceiptsService } from './receipts.service.js';

/**
 * The offered media type an Accept header prefers (RFC 9110 §12.5.1: the most specific
 * matching range gives an offer its q; the highest q wins, ties in the order of
 * RECEIPT_MEDIA_TYPES). No Accept → a PDF. Undefined when nothing offered is acceptable.
 */
export function negotiateReceipt(accept: string | undefined): ReceiptMediaType | undefined {
  if (accept === undefined || accept.trim() === '') {
    return 'application/pdf';
  }
  const ranges = accept.split(',').map((part) => {
    const [range = '', ...params] = part.split(';').map((piece) => piece.trim().toLowerCase());
    const q = params.map((param) => /^q=([0-9.]+)$/.exec(param)).find((match) => match !== null);
    const quality = q ? Number(q[1]) : 1;
    const [type = '', subtype = ''] = range.split('/');
    return { type, subtype, quality: Number.isFinite(quality) ? Math.min(Math.max(quality, 0), 1) : 0 };
  });
  let best: { media: ReceiptMediaType; quality: number } | undefined;
  for (const media of RECEIPT_MEDIA_TYPES) {
    const [type, subtype] = media.split('/');
    let specificity = -1;
    let quality = 0;
    for (const range of ranges) {
      const matches = (range.type === '*' || range.type === type) && (range.subtype === '*' || range.subtype === subtype);
      const rangeSpecificity = (range.type === '*' ? 0 : 1) + (range.subtype === '*' ? 0 : 1);
      if (matches && rangeSpecificity > specificity) {
        specificity = rangeSpecificity;
        quality = range.quality;
      }
    }
    if (quality > 0 && (best === undefined || quality > best.quality)) {
      best = { media, quality };
    }
  }
  return best?.media;
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
    const { document, familyLanguage } = await receipts.getReceipt(principalOf(request), request.params.id);
    // Personal financial data: never stored by shared caches.
    reply.header('cache-control', 'private, no-store').header('vary', 'Accept, Accept-Language, Authorization');
    if (media === 'application/json') {
      return reply.type('application/json; charset=utf-8').send(document);
    }
    const header = request.headers['accept-language'];
    const language: Language =
      (isLanguage(request.query.lang) ? request.query.lang : undefined) ??
      languageFromAcceptLanguage(Array.isArray(header) ? header.join(',') : header) ??
      familyLanguage ??
      'en';
    return reply.type('application/pdf').header('content-disposition', receiptDisposition(document)).send(await receiptPdf(document, language));
  });
}
