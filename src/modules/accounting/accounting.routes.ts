import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Db } from '../../db/database.js';
import { principalOf } from '../../plugins/auth.js';
import { problemResponses } from '../../plugins/errors.js';
import { DEFAULT_PAGE_SIZE } from '../../shared/pagination.js';
import { actorOf } from '../auth/auth.routes.js';
import { pageOf, Uuid } from '../billing/billing.schemas.js';
import { createExportLimiter, MAX_CONCURRENT_EXPORTS_PER_USER, replyWithExport } from '../reporting/export.js';
import { createAccountingRepository } from './accounting.repository.js';
import { ACCOUNTING_SCHEMAS, AccountsBody, JournalQuery } from './accounting.schemas.js';
import { createAccountingService } from './accounting.service.js';

/**
 * The accounting journal and the chart of accounts (SPEC §9 "Accounting"): the journal
 * for whoever may export reports (finance staff, school admins for their schools), the
 * mapping read with billing:read and set with billing:write.
 */
export default function accountingRoutes(app: FastifyInstance, options: { db: Db }) {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  const service = createAccountingService({ db: options.db, repo: createAccountingRepository() });
  const limiter = createExportLimiter(MAX_CONCURRENT_EXPORTS_PER_USER);
  for (const schema of ACCOUNTING_SCHEMAS) {
    api.addSchema(schema);
  }
  const tags = ['accounting'];

  api.get('/schools/:id/accounts', {
    config: { policy: 'billing:read' },
    schema: {
      tags: [...tags, 'schools'],
      summary: 'The school’s chart-of-accounts mapping: the account code of each side of the journal (defaults until set)',
      params: Type.Object({ id: Uuid }),
      response: { 200: Type.Ref('SchoolAccounts'), ...problemResponses(400, 401, 403, 404) },
    },
  }, (request) => service.getAccounts(principalOf(request), request.params.id));

  api.put('/schools/:id/accounts', {
    config: { policy: 'billing:write' },
    schema: {
      tags: [...tags, 'schools'],
      summary: 'Set the school’s chart-of-accounts mapping (audited); a fee plan item’s accountCode still wins for its charges',
      params: Type.Object({ id: Uuid }),
      body: AccountsBody,
      response: { 200: Type.Ref('SchoolAccounts'), ...problemResponses(400, 401, 403, 404) },
    },
  }, (request) => service.putAccounts(actorOf(request), request.params.id, request.body));

  api.get('/accounting/journal', {
    config: { policy: 'reports:export' },
    schema: {
      tags,
      summary: 'The double-entry journal of a school for a range of its days: JSON pages, or CSV, XLSX, Xero or QuickBooks files streamed',
      description:
        'Read from the ledger: invoice lines (receivable / income per item’s accountCode; discounts; late fees), cancellations (reversed), payments ' +
        '(cash per method / receivable), family payments (cash / receivable + family credit), family credit applied, refunds, credit notes, write-offs and ' +
        'waivers. Every entry balances (Σ debit = Σ credit of its entryId). JSON amounts are minor units, keyset-paginated in posting order; the files ' +
        'carry currency units. Xero: its manual-journal import (signed amounts, the entry id as narration); QuickBooks Online: its journal import ' +
        `(Journal No. per entry within the file). At most ${MAX_CONCURRENT_EXPORTS_PER_USER} file exports per user at a time (429 beyond).`,
      querystring: JournalQuery,
      produces: ['application/json', 'text/csv', 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet'],
      response: { 200: pageOf('JournalLine'), ...problemResponses(400, 401, 403, 404, 429) },
    },
  }, async (request, reply) => {
    const principal = principalOf(request);
    const format = request.query.format ?? 'json';
    if (format === 'json') {
      return service.journalPage(principal, { ...request.query, limit: request.query.limit ?? DEFAULT_PAGE_SIZE });
    }
    return replyWithExport(request, reply, { limiter, userId: principal.userId, what: 'journal', start: (signal) => service.journalExport(principal, request.query, format, signal) });
  });
}
