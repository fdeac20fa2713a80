import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Db } from '../../db/database.js';
import { principalOf } from '../../plugins/auth.js';
import { problemResponses } from '../../plugins/errors.js';
import type { Clock } from '../../shared/clock.js';
import { AppError } from '../../shared/errors.js';
import { DEFAULT_PAGE_SIZE } from '../../shared/pagination.js';
import { actorOf } from '../auth/auth.routes.js';
import { IdParams, Uuid } from '../billing/billing.schemas.js';
import { createBillingService } from '../billing/billing.service.js';
import { createInvoicesRepository } from '../billing/invoices.repository.js';
import { createPaymentsRepository } from '../billing/payments.repository.js';
import { createSchoolsRepository } from '../billing/schools.repository.js';
import { createStudentsRepository } from '../billing/students.repository.js';
import { createFamilyPaymentsRepository } from '../familypayments/familypayments.repository.js';
import { createFamilyPaymentsService } from '../familypayments/familypayments.service.js';
import * as ledger from '../ledger/ledger.js';
import { createReconciliationRepository } from './reconciliation.repository.js';
import { CsvMappingBody, IgnoreBody, ImportQuery, LinesQuery, MatchBody, RECONCILIATION_SCHEMAS, UnmatchBody } from './reconciliation.schemas.js';
import { createReconciliationService } from './reconciliation.service.js';

/** The largest statement accepted: refused with 413 from its Content-Length (or as it streams past), before it is read whole. */
export const MAX_STATEMENT_BYTES = 32 * 1024 * 1024;

/** What a statement upload may be sent as; the format comes from the query, the body is read as bytes. */
const STATEMENT_TYPES = ['text/csv', 'application/csv', 'text/plain', 'application/xml', 'text/xml', 'application/x-ofx', 'application/ofx', 'application/octet-stream'];

/**
 * Bank reconciliation (SPEC §9): statements in, lines matched to invoices and families,
 * the exceptions confirmed by a person. For super_admin and school_admin (their schools):
 * the lines carry payer names and remittance texts.
 */
export default function reconciliationRoutes(app: FastifyInstance, options: { db: Db; clock?: Clock }) {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  const clock = options.clock === undefined ? {} : { clock: options.clock };
  const service = createReconciliationService({
    db: options.db,
    repo: createReconciliationRepository(),
    billing: createBillingService({ db: options.db, schools: createSchoolsRepository(), students: createStudentsRepository(), invoices: createInvoicesRepository(), payments: createPaymentsRepository(), ...clock }),
    familyPayments: createFamilyPaymentsService({ db: options.db, repository: createFamilyPaymentsRepository(), ledger: { applyCredit: ledger.applyCredit }, ...clock }),
    ...clock,
  });
  for (const schema of RECONCILIATION_SCHEMAS) {
    api.addSchema(schema);
  }
  const tags = ['reconciliation'];

  // Statements are files: this scope reads them as bytes, whatever text type the client names.
  void api.register((files, _options, done) => {
    for (const type of STATEMENT_TYPES) {
      if (files.hasContentTypeParser(type)) {
        files.removeContentTypeParser(type);
      }
      files.addContentTypeParser(type, { parseAs: 'buffer', bodyLimit: MAX_STATEMENT_BYTES }, (_request, body, next) => next(null, body));
    }
    files.withTypeProvider<TypeBoxTypeProvider>().post('/reconciliation/imports', {
      config: { policy: 'reconciliation:use' },
      bodyLimit: MAX_STATEMENT_BYTES,
      schema: {
        tags,
        summary: 'Import a bank statement: its lines stored once per bank transaction id, matched to invoices and families',
        description:
          'The file is the body (text/csv, application/xml, application/x-ofx or application/octet-stream), in the school’s currency. A line naming ' +
          'an open invoice (INV-000123) with the amount it owes, or a family reference with a right check digit (ESC-000123-4) and no more than the family ' +
          'owes, is matched: its payment (or family payment) is recorded, dated the booking day. Likely ones are suggested; the rest wait unmatched; money ' +
          'paid out is ignored. Re-importing a file or an overlapping one adds nothing (duplicates). A file that cannot be read is refused whole (400 ' +
          `naming the line); a file above ${MAX_STATEMENT_BYTES / 1024 / 1024} MB is refused with 413 before it is read.`,
        querystring: ImportQuery,
        consumes: STATEMENT_TYPES,
        response: { 201: Type.Ref('BankImport'), ...problemResponses(400, 401, 403, 404, 413, 415) },
      },
    }, async (request, reply) => {
      const body = request.body;
      if (!Buffer.isBuffer(body) || body.length === 0) {
        throw new AppError('VALIDATION_FAILED', 'the statement file is the request body, and it is empty', { errors: [{ field: 'body', in: 'body', message: 'send the statement file as the body' }] });
      }
      return reply.code(201).send(await service.importStatement(actorOf(request), request.query, body));
    });
    done();
  });

  api.get('/reconciliation/lines', {
    config: { policy: 'reconciliation:use' },
    schema: {
      tags,
      summary: 'A school’s bank lines, newest first: the exceptions queue (status=unmatched|suggested), what was matched, with the counts by status',
      querystring: LinesQuery,
      response: { 200: Type.Ref('BankLinePage'), ...problemResponses(400, 401, 403, 404) },
    },
  }, (request) => service.listLines(principalOf(request), { ...request.query, limit: request.query.limit ?? DEFAULT_PAGE_SIZE }));

  api.post('/reconciliation/lines/:id/match', {
    config: { policy: 'reconciliation:use' },
    schema: {
      tags,
      summary: 'Match a bank line to an invoice or a family (no body: confirm its suggestion); records the payment once',
      params: IdParams,
      body: Type.Optional(MatchBody),
      response: { 200: Type.Ref('BankLine'), ...problemResponses(400, 401, 403, 404, 409, 422) },
    },
  }, (request) => service.matchLine(actorOf(request), request.params.id, request.body ?? {}));

  api.post('/reconciliation/lines/:id/unmatch', {
    config: { policy: 'reconciliation:use' },
    schema: {
      tags,
      summary: 'Unmatch a bank line: its payments are refunded with the reason given (an explicit, audited reversal), and it waits again',
      params: IdParams,
      body: UnmatchBody,
      response: { 200: Type.Ref('BankLine'), ...problemResponses(400, 401, 403, 404, 409) },
    },
  }, (request) => service.unmatchLine(actorOf(request), request.params.id, request.body.reason));

  api.post('/reconciliation/lines/:id/ignore', {
    config: { policy: 'reconciliation:use' },
    schema: {
      tags,
      summary: 'Set a bank line aside (not a family’s payment: a transfer between accounts, interest, …)',
      params: IdParams,
      body: Type.Optional(IgnoreBody),
      response: { 200: Type.Ref('BankLine'), ...problemResponses(400, 401, 403, 404, 409) },
    },
  }, (request) => service.ignoreLine(actorOf(request), request.params.id, request.body?.reason));

  api.get('/reconciliation/sample-statement', {
    config: { policy: 'reconciliation:use' },
    schema: {
      tags,
      summary: 'A demo school’s sample bank statement, written from its open bills (to try an import); demo schools only',
      querystring: ImportQuery,
      produces: ['text/csv', 'application/xml', 'application/x-ofx'],
      response: { 200: Type.String({ description: 'the statement file' }), ...problemResponses(400, 401, 403, 404) },
    },
  }, async (request, reply) => {
    const sample = await service.sampleStatement(principalOf(request), request.query.schoolId, request.query.format);
    const type = request.query.format === 'csv' ? 'text/csv; charset=utf-8' : request.query.format === 'camt053' ? 'application/xml; charset=utf-8' : 'application/x-ofx';
    return reply.type(type).header('content-disposition', `attachment; filename="${sample.name}"`).send(sample.file.toString('utf8'));
  });

  api.get('/schools/:id/statement-mapping', {
    config: { policy: 'reconciliation:use' },
    schema: {
      tags: [...tags, 'schools'],
      summary: 'The school’s CSV statement mapping (its bank’s column names and date format)',
      params: Type.Object({ id: Uuid }),
      response: { 200: Type.Ref('StatementMapping'), ...problemResponses(400, 401, 403, 404) },
    },
  }, (request) => service.getMapping(principalOf(request), request.params.id));

  api.put('/schools/:id/statement-mapping', {
    config: { policy: 'reconciliation:use' },
    schema: {
      tags: [...tags, 'schools'],
      summary: 'Save the school’s CSV statement mapping (audited); later CSV imports read their columns by it',
      params: Type.Object({ id: Uuid }),
      body: CsvMappingBody,
      response: { 200: Type.Ref('StatementMapping'), ...problemResponses(400, 401, 403, 404) },
    },
  }, (request) => service.putMapping(actorOf(request), request.params.id, request.body));
}
