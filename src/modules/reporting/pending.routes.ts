import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import type { Db } from '../../db/database.js';
import { principalOf } from '../../plugins/auth.js';
import { problemResponses } from '../../plugins/errors.js';
import { requestLanguage } from '../../shared/locale.js';
import { createBillingReportsRepository } from './billing-reports.repository.js';
import { createExportLimiter, MAX_CONCURRENT_EXPORTS_PER_USER, replyWithExport } from './export.js';
import { createPendingRepository } from './pending.repository.js';
import { PendingExportQuery, PendingPage, PendingQuery } from './pending.schemas.js';
import { createPendingService } from './pending.service.js';

/**
 * Reporting engine: the outstanding-payments queue (SPEC §3 "Reporting engine").
 *
 * - `GET /reports/pending-payments` (reports:read): keyset pages, oldest due first.
 * - `GET /reports/pending-payments/export?format=csv|xlsx` (reports:export): every
 *   matching row, streamed from one snapshot with constant memory; cancelled when the
 *   client disconnects; at most MAX_CONCURRENT_EXPORTS_PER_USER running per user on
 *   this instance (429 with Retry-After beyond).
 */
export default function pendingRoutes(app: FastifyInstance, options: { db: Db; primaryDb?: Db }) {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  const pending = createPendingService({ db: options.db, foldDb: options.primaryDb, pending: createPendingRepository(), reports: createBillingReportsRepository() });
  const limiter = createExportLimiter(MAX_CONCURRENT_EXPORTS_PER_USER);
  const tags = ['reports'];
  const filters =
    'Filters: schoolId (404 when not visible), grade, status (PENDING | PARTIAL | OVERDUE, by invoice_status in the school’s zone), ' +
    'minAmount (on pendingAmount, minor units). Outstanding = not cancelled and paid < amount; students’ names are initials for roles with masked PII.';

  api.get(
    '/reports/pending-payments',
    {
      config: { policy: 'reports:read' },
      schema: {
        tags,
        summary: 'Outstanding payments queue, oldest due first',
        description:
          `Keyset pages ordered by dueDate, then invoiceId. ${filters} ` +
          '`total` is the exact number of matching rows, counted on the first page and carried by the cursor to later pages.',
        querystring: PendingQuery,
        response: { 200: PendingPage, ...problemResponses(400, 401, 403, 404) },
      },
    },
    (request) => pending.page(principalOf(request), request.query),
  );

  api.get(
    '/reports/pending-payments/export',
    {
      config: { policy: 'reports:export' },
      schema: {
        tags,
        summary: 'Export the outstanding payments queue (CSV or XLSX)',
        description:
          `Every matching row (no cap), in queue order, from one consistent snapshot, streamed. ${filters} ` +
          'CSV cells that a spreadsheet would evaluate as a formula are prefixed with a quote. ' +
          '`style=people` (default): headers in words in the reader’s language (`lang`, else Accept-Language, else en), amounts in currency units ' +
          'with the currency’s digits and a Currency column, no ids; the CSV starts with a UTF-8 byte-order mark; the XLSX has number cells with a ' +
          'number format per currency, date cells, a frozen header row. `style=raw`: the API’s field names and values (amounts in minor units), for machines. ' +
          'File name: bursar-pending-payments-<school or all-schools>-<YYYY-MM-DD>.<csv|xlsx> (the school’s date, or UTC across schools). ' +
          `At most ${MAX_CONCURRENT_EXPORTS_PER_USER} exports per user at a time (429 with Retry-After beyond).`,
        querystring: PendingExportQuery,
        produces: ['text/csv', 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet'],
        response: { ...problemResponses(400, 401, 403, 404, 429) },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      return replyWithExport(request, reply, {
        limiter,
        userId: principal.userId,
        what: 'pending-payments',
        start: (signal) => pending.export(principal, request.query, signal, requestLanguage(request)),
      });
    },
  );
}
