import { Type, type Static } from 'typebox';
import { LanguageParam } from '../../shared/locale.js';

/** TypeBox schemas of the printed invoice (GET /invoices/:id/pdf, GET /portal/invoices/:id/pdf). */

export const InvoicePdfQuery = Type.Object({ lang: Type.Optional(LanguageParam) }, { additionalProperties: false });
export type InvoicePdfQuery = Static<typeof InvoicePdfQuery>;

export const invoicePdfResponse = {
  description: 'The invoice as one A4 page (PDF).',
  headers: {
    'content-disposition': { type: 'string', description: 'attachment; filename="bursar-invoice-<school>-<number>-<YYYY-MM-DD>.pdf"' },
  },
  content: {
    'application/pdf': {
      schema: Type.String({
        format: 'binary',
        description:
          'In the reader’s language (`lang`, else Accept-Language, else the payer’s or family’s language, else English): the school, the invoice number ' +
          'and status, issue and due dates, student, family and family reference, the lines, total, paid, credited and amount due, the early-payment ' +
          'offer while it stands, and — while something is due — a QR code of a pay link (30 days) with its URL printed under it.',
      }),
    },
  },
};
