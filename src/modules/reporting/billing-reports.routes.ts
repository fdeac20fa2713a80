import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import type { Db } from '../../db/database.js';
import { principalOf } from '../../plugins/auth.js';
import { problemResponses } from '../../plugins/errors.js';
import { createBillingReportsRepository } from './billing-reports.repository.js';
import {
  DailyCollectionsPage,
  DailyCollectionsQuery,
  InvoiceDetailsPage,
  InvoiceDetailsQuery,
  MonthlyRevenuePage,
  MonthlyRevenueQuery,
  OverduePage,
  OverdueQuery,
  PaymentHistoryPage,
  PaymentHistoryQuery,
  SchoolSummaryPage,
  SchoolSummaryQuery,
  StudentBalancePage,
  StudentBalanceQuery,
} from './billing-reports.schemas.js';
import { createBillingReportsService } from './billing-reports.service.js';

/**
 * The billing reports of SPEC §3 "Reports" (seed 001): seven read-only, keyset-paginated
 * GET lists, each row per school in that school's currency. Who sees which schools and
 * whether names and references are masked follows from the caller's role
 * (`reports:read`); filtering by a school outside the caller's scope is a 404.
 */
export default function billingReportsRoutes(app: FastifyInstance, options: { db: Db }) {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  const reports = createBillingReportsService({ db: options.db, reports: createBillingReportsRepository() });
  const config = { policy: 'reports:read' as const };
  const tags = ['reports'];
  const errors = problemResponses(400, 401, 403, 404);

  api.get(
    '/reports/students/balance',
    {
      config,
      schema: {
        tags,
        summary: 'Balance per student',
        description:
          'One row per student: non-cancelled invoices counted and totalled (invoiced, paid net of refunds, balance, ' +
          'pending of overdue invoices, oldest overdue due date). Ordered by student id.',
        querystring: StudentBalanceQuery,
        response: { 200: StudentBalancePage, ...errors },
      },
    },
    (request) => reports.studentBalances(principalOf(request), request.query),
  );

  api.get(
    '/reports/schools/summary',
    {
      config,
      schema: {
        tags,
        summary: 'Billing summary per school',
        description:
          'One row per school: students (all, active), and over non-cancelled invoices: count, invoiced, paid, pending, ' +
          'overdue and the collection rate paid / invoiced. Ordered by school id.',
        querystring: SchoolSummaryQuery,
        response: { 200: SchoolSummaryPage, ...errors },
      },
    },
    (request) => reports.schoolSummaries(principalOf(request), request.query),
  );

  api.get(
    '/reports/invoices/details',
    {
      config,
      schema: {
        tags,
        summary: 'Invoice details with payment activity',
        description: 'Every invoice (cancelled included) with its status, pending amount, payment count and last payment. Ordered by invoice id.',
        querystring: InvoiceDetailsQuery,
        response: { 200: InvoiceDetailsPage, ...errors },
      },
    },
    (request) => reports.invoiceDetails(principalOf(request), request.query),
  );

  api.get(
    '/reports/invoices/overdue',
    {
      config,
      schema: {
        tags,
        summary: 'Overdue invoices, oldest first',
        description: 'Invoices with status OVERDUE and the days since their due date in the school’s time zone. Ordered by due date, then id.',
        querystring: OverdueQuery,
        response: { 200: OverduePage, ...errors },
      },
    },
    (request) => reports.overdueInvoices(principalOf(request), request.query),
  );

  api.get(
    '/reports/payments/history',
    {
      config,
      schema: {
        tags,
        summary: 'Payment history, newest first',
        description: 'Payments with their refunds and net amount; from is inclusive, to exclusive (on paidAt). Ordered by paidAt desc, then id desc.',
        querystring: PaymentHistoryQuery,
        response: { 200: PaymentHistoryPage, ...errors },
      },
    },
    (request) => reports.paymentHistory(principalOf(request), request.query),
  );

  api.get(
    '/reports/collections/daily',
    {
      config,
      schema: {
        tags,
        summary: 'Collections per school and day',
        description:
          'Payments (by paidAt) and refunds (by createdAt) per local day of each school, for days with any movement. ' +
          'from/to are inclusive days in each school’s time zone (default: the last 30 days; at most 366). Ordered by date desc, then school id.',
        querystring: DailyCollectionsQuery,
        response: { 200: DailyCollectionsPage, ...errors },
      },
    },
    (request) => reports.dailyCollections(principalOf(request), request.query),
  );

  api.get(
    '/reports/revenue/monthly',
    {
      config,
      schema: {
        tags,
        summary: 'Revenue per school and month',
        description:
          'Invoiced and outstanding by due month (non-cancelled invoices) and collected (payments − refunds) by local month, ' +
          'for months with any movement. from/to are inclusive months (default: the last 12; at most 36). Ordered by month desc, then school id.',
        querystring: MonthlyRevenueQuery,
        response: { 200: MonthlyRevenuePage, ...errors },
      },
    },
    (request) => reports.monthlyRevenue(principalOf(request), request.query),
  );
}
