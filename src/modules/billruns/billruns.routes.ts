import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Config } from '../../config.js';
import type { Db } from '../../db/database.js';
import { principalOf } from '../../plugins/auth.js';
import { problemResponses } from '../../plugins/errors.js';
import { DEFAULT_PAGE_SIZE } from '../../shared/pagination.js';
import { actorOf } from '../auth/auth.routes.js';
import { createBillRunEngine } from './billruns.engine.js';
import { createBillRunsRepository } from './billruns.repository.js';
import { BILL_RUN_SCHEMAS, BillRunListQuery, BillRunPage, BillRunParams, CreateBillRunBody } from './billruns.schemas.js';
import { createBillRunsService } from './billruns.service.js';

/**
 * Bill runs (SPEC §7): POST /bill-runs needs billing:write (super_admin, school_admin in
 * its schools); reading runs billing:read (finance_analyst too). developer has neither.
 */
export default function billRunsRoutes(app: FastifyInstance, options: { db: Db; config: Config }) {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  const repo = createBillRunsRepository();
  const service = createBillRunsService({ db: options.db, repo, engine: createBillRunEngine(repo), inlineMax: options.config.billRuns.inlineMax });
  for (const schema of BILL_RUN_SCHEMAS) {
    api.addSchema(schema);
  }
  const tags = ['bill-runs'];

  api.post(
    '/bill-runs',
    {
      config: { policy: 'billing:write' },
      schema: {
        tags,
        summary: 'Bill every instalment due on or before `through` (or preview it with dryRun)',
        description:
          'Every instalment of every active enrolment due on or before `through` and not billed yet becomes an invoice line; ' +
          'one invoice per student, payer and due date, with discount lines, family credit applied. Exactly once: re-running, or two runs at once, bill nothing twice. ' +
          'dryRun: 200 with the preview, nothing written (id null). A run of at most BILL_RUN_INLINE_MAX invoices answers 201 finished; ' +
          'a larger one 202 queued, then runs in the background: poll GET /bill-runs/{id} for its progress.',
        body: CreateBillRunBody,
        response: {
          200: Type.Ref('BillRun'),
          201: Type.Ref('BillRun'),
          202: Type.Ref('BillRun'),
          ...problemResponses(400, 401, 403, 404, 422),
        },
      },
    },
    async (request, reply) => {
      const { status, run } = await service.start(actorOf(request), request.body);
      return reply.status(status).send(run);
    },
  );

  api.get(
    '/bill-runs/:id',
    {
      config: { policy: 'billing:read' },
      schema: { tags, summary: 'A bill run and its progress', params: BillRunParams, response: { 200: Type.Ref('BillRun'), ...problemResponses(400, 401, 403, 404) } },
    },
    (request) => service.get(principalOf(request), request.params.id),
  );

  api.get(
    '/bill-runs',
    {
      config: { policy: 'billing:read' },
      schema: { tags, summary: 'Bill runs, newest first', querystring: BillRunListQuery, response: { 200: BillRunPage, ...problemResponses(400, 401, 403, 404) } },
    },
    (request) => service.list(principalOf(request), { ...request.query, limit: request.query.limit ?? DEFAULT_PAGE_SIZE }),
  );
}
