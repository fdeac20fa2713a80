import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import type { Db } from '../../db/database.js';
import { principalOf } from '../../plugins/auth.js';
import { problemResponses } from '../../plugins/errors.js';
import { createBillingReportsRepository } from '../reporting/billing-reports.repository.js';
import { createAnalyticsRepository } from './analytics.repository.js';
import {
  AnalyticsQuery,
  MAX_TRANSACTIONS_PAGE,
  MethodsReport,
  MetricsReport,
  TransactionListQuery,
  TransactionPage,
  TrendsReport,
} from './analytics.schemas.js';
import { createAnalyticsService } from './analytics.service.js';

/**
 * Live analytics (SPEC §3 "Live analytics"): GET /transactions, /analytics/metrics,
 * /analytics/trends, /analytics/methods. `reports:read` (super_admin, school_admin in
 * their schools, finance_analyst with student names masked); per school (`schoolId`,
 * 404 when not visible) or across the caller's schools; money per currency.
 */
export default function analyticsRoutes(app: FastifyInstance, options: { db: Db }) {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  const analytics = createAnalyticsService({ db: options.db, analytics: createAnalyticsRepository(), reports: createBillingReportsRepository() });
  const config = { policy: 'reports:read' as const };
  const tags = ['analytics'];
  const scopeNote = 'Per school (schoolId; 404 when not visible) or across every school the caller may see.';

  api.get(
    '/transactions',
    {
      config,
      schema: {
        tags,
        summary: 'Recent transactions (payments, refunds, failed attempts), newest first',
        description:
          `Keyset-paginated (limit 1–${MAX_TRANSACTIONS_PAGE}, default 50; cursor = nextCursor), filtered by schoolId, status, ` +
          'method and createdAt in [from, to). Each row carries its live event id (null for bulk-loaded history) and type. ' +
          `Student names are initials for roles that see PII masked. ${scopeNote}`,
        querystring: TransactionListQuery,
        response: { 200: TransactionPage, ...problemResponses(400, 401, 403, 404) },
      },
    },
    (request) => analytics.listTransactions(principalOf(request), request.query),
  );

  api.get(
    '/analytics/metrics',
    {
      config,
      schema: {
        tags,
        summary: 'Payment metrics of the last day, week or month, per currency',
        description:
          'Over createdAt in [now − 24 h | 7 d | 30 d, now]: totalVolume (succeeded − refunded), totalPayments (succeeded), ' +
          'successRate (succeeded / (succeeded + failed)), averageAmount, peakHour (the hour of day in timeZone, default UTC), ' +
          `topPaymentMethod, failedPayments, refundedAmount; one entry per currency of the selected schools. ${scopeNote}`,
        querystring: AnalyticsQuery,
        response: { 200: MetricsReport, ...problemResponses(400, 401, 403, 404) },
      },
    },
    (request) => analytics.metrics(principalOf(request), request.query),
  );

  api.get(
    '/analytics/trends',
    {
      config,
      schema: {
        tags,
        summary: 'Payments over time: hourly for a day, daily for a week or month',
        description:
          'day: the last 24 hours (the current one last); week / month: the last 7 / 30 days (today last); hours and days are ' +
          'those of timeZone (default UTC: local midnights, DST included). Every bucket is present for every currency of the ' +
          `selected schools, with zeros. ${scopeNote}`,
        querystring: AnalyticsQuery,
        response: { 200: TrendsReport, ...problemResponses(400, 401, 403, 404) },
      },
    },
    (request) => analytics.trends(principalOf(request), request.query),
  );

  api.get(
    '/analytics/methods',
    {
      config,
      schema: {
        tags,
        summary: 'Payments by method and currency over the last day, week or month',
        description: `Succeeded amount and count, failed attempts and refunded amount per (method, currency). ${scopeNote}`,
        querystring: AnalyticsQuery,
        response: { 200: MethodsReport, ...problemResponses(400, 401, 403, 404) },
      },
    },
    (request) => analytics.methods(principalOf(request), request.query),
  );
}
