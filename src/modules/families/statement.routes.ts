import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Db } from '../../db/database.js';
import { principalOf } from '../../plugins/auth.js';
import { problemResponses } from '../../plugins/errors.js';
import type { Clock } from '../../shared/clock.js';
import { AppError } from '../../shared/errors.js';
import type { ExportStyle } from '../../shared/csv.js';
import { requestLanguage, type Language } from '../../shared/locale.js';
import { roleAllows } from '../../shared/policy.js';
import { IdParams } from '../billing/billing.schemas.js';
import { negotiate } from '../billing/statements.routes.js';
import { familyStatementCsv, familyStatementDisposition, familyStatementPdf } from './statement.render.js';
import { FAMILY_STATEMENT_MEDIA_TYPES, FamilyStatement, familyStatementResponse, FamilyStatementQuery, type FamilyStatementFormat } from './statement.schemas.js';
import { createFamilyStatementService, type FamilyStatementDocument } from './statement.service.js';

const FORMAT_OF_MEDIA = { 'application/json': 'json', 'text/csv': 'csv', 'application/pdf': 'pdf' } as const satisfies Record<(typeof FAMILY_STATEMENT_MEDIA_TYPES)[number], FamilyStatementFormat>;

/** The format asked for: `?format=` first, else the one of the media type Accept chose (undefined: nothing acceptable). */
export function familyStatementFormat(format: FamilyStatementFormat | undefined, media: (typeof FAMILY_STATEMENT_MEDIA_TYPES)[number] | undefined): FamilyStatementFormat | undefined {
  return format ?? (media === undefined ? undefined : FORMAT_OF_MEDIA[media]);
}

/** A family statement as the HTTP answer in `format`, private (staff and the portal alike). */
export function sendFamilyStatement(reply: FastifyReply, document: FamilyStatementDocument, format: FamilyStatementFormat, language: Language, style: ExportStyle) {
  // Personal financial data: never kept by shared caches; varies by format and reader.
  reply.header('cache-control', 'private, no-store').header('vary', 'Accept, Authorization');
  switch (format) {
    case 'json':
      return reply.type('application/json; charset=utf-8').send(document.body);
    case 'csv':
      return reply.type('text/csv; charset=utf-8').header('content-disposition', familyStatementDisposition(document, 'csv')).send(familyStatementCsv(document, { language, style }));
    case 'pdf':
      return reply.type('application/pdf').header('content-disposition', familyStatementDisposition(document, 'pdf')).send(familyStatementPdf(document, { language }));
  }
}

/**
 * GET /families/:id/statement: JSON, CSV or PDF (`?format=` first, then Accept). The PDF
 * carries a QR code of a link to pay what the family owes (when it owes something and
 * `publicUrl` is given) for callers who may make pay links (billing:write).
 */
export function registerFamilyStatementRoute(app: FastifyInstance, options: { db: Db; clock: Clock; publicUrl?: string }): void {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  api.addSchema(FamilyStatement);
  const statements = createFamilyStatementService(options);

  api.get(
    '/families/:id/statement',
    {
      config: { policy: 'billing:read' },
      schema: {
        tags: ['families', 'statements'],
        summary: "A family's statement across its students (JSON, CSV or PDF)",
        description:
          'Every movement of the family’s account between `from` and `to` (days in the school’s zone, inclusive): its students’ invoices (on their due date), ' +
          'payments, family payments, refunds, credit notes, write-offs and family credit applied, with the opening balance (everything before `from`), ' +
          'a running balance and the closing balance; the family’s payment reference at the top. `format=json|csv|pdf`, else Accept (JSON by default; 406 when nothing offered is acceptable). ' +
          'Names and payment references are masked for roles that see PII masked.',
        params: IdParams,
        querystring: FamilyStatementQuery,
        produces: [...FAMILY_STATEMENT_MEDIA_TYPES],
        response: { 200: familyStatementResponse, ...problemResponses(400, 401, 403, 404, 406) },
      },
    },
    async (request, reply) => {
      const media = negotiate(request.headers.accept);
      const format = familyStatementFormat(request.query.format, media);
      if (format === undefined) {
        throw new AppError('NOT_ACCEPTABLE', `no media type in Accept is offered; a family statement is available as ${FAMILY_STATEMENT_MEDIA_TYPES.join(', ')} (or ?format=json|csv|pdf)`);
      }
      const principal = principalOf(request);
      const document = await statements.statement(principal, request.params.id, request.query, { payLink: format === 'pdf' && roleAllows(principal.role, 'billing:write') });
      return sendFamilyStatement(reply, document, format, requestLanguage(request), request.query.style ?? 'people');
    },
  );
}
