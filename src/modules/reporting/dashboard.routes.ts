import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import type { Db } from '../../db/database.js';
import { principalOf } from '../../plugins/auth.js';
import { problemResponses } from '../../plugins/errors.js';
import { createDashboardRepository } from './dashboard.repository.js';
import { Dashboard, DashboardQuery } from './dashboard.schemas.js';
import { createBillingReportsRepository } from './billing-reports.repository.js';
import { createDashboardService } from './dashboard.service.js';

/**
 * Reporting engine: dashboard (SPEC §3 "Reporting engine"). Totals due / collected /
 * outstanding / overdue with breakdowns by school, payment method and grade, read from
 * the rollup tables that every money write maintains in its own transaction (migration
 * 0003), plus a sample of the oldest outstanding bills. Scoped and masked per role
 * (`reports:read`); filtering by a school outside the caller's scope is a 404.
 */
export default function dashboardRoutes(app: FastifyInstance, options: { db: Db; primaryDb?: Db }) {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  const dashboard = createDashboardService({
    db: options.db,
    foldDb: options.primaryDb,
    dashboard: createDashboardRepository(),
    reports: createBillingReportsRepository(),
  });

  api.get(
    '/reports/dashboard',
    {
      config: { policy: 'reports:read' as const },
      schema: {
        tags: ['reports'],
        summary: 'Billing dashboard',
        description:
          'Totals due, collected (payments − refunds + money received as family credit), outstanding and overdue, per currency, per school (one page: ' +
          'schoolsLimit, default 50, largest outstanding first or by name with schoolsSort, the next page with schoolsCursor), per payment method and ' +
          'per grade, and the 10 oldest-due outstanding invoices. Over every school the figures come from a platform tier whose cost does not grow ' +
          'with the number of schools. ' +
          'from/to bound the due date for due/outstanding/overdue and the school-local payment day for collected; ' +
          'method filters collected only. Money is never summed across currencies: `totals` is null unless the selection ' +
          'has exactly one currency.',
        querystring: DashboardQuery,
        response: { 200: Dashboard, ...problemResponses(400, 401, 403, 404) },
      },
    },
    (request) => dashboard.get(principalOf(request), request.query),
  );
}
