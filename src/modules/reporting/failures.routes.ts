import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import type { Db } from '../../db/database.js';
import { principalOf } from '../../plugins/auth.js';
import { problemResponses } from '../../plugins/errors.js';
import { createBillingReportsRepository } from './billing-reports.repository.js';
import { createFailuresRepository } from './failures.repository.js';
import { FailuresQuery, FailuresReport, HOURLY_SERIES_MAX_HOURS, RECENT_FAILURES } from './failures.schemas.js';
import { createFailuresService } from './failures.service.js';

/**
 * Reporting engine: the failed-transactions monitoring feed (SPEC §3 "Reporting
 * engine"), for operators (`monitoring:read`: super_admin, developer). No PII.
 */
export default function failuresRoutes(app: FastifyInstance, options: { db: Db }) {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  const failures = createFailuresService({ db: options.db, failures: createFailuresRepository(), reports: createBillingReportsRepository() });

  api.get(
    '/reports/transactions/failures',
    {
      config: { policy: 'monitoring:read' },
      schema: {
        tags: ['monitoring'],
        summary: 'Failed gateway transactions in the last hours',
        description:
          'Failed transactions with createdAt in [now − lastHours, now] (lastHours 1–720, default 24), optionally filtered by ' +
          'schoolId, method, gateway and failureCode: the total, counts (and amounts) by failure code, counts by gateway, ' +
          `a time series by UTC hour (by UTC day when lastHours > ${HOURLY_SERIES_MAX_HOURS}) and the latest ${RECENT_FAILURES}. ` +
          'No student names, e-mails or payment references.',
        querystring: FailuresQuery,
        response: { 200: FailuresReport, ...problemResponses(400, 401, 403, 404) },
      },
    },
    (request) => failures.report(principalOf(request), request.query),
  );
}
