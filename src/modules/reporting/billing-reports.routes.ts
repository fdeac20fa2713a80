import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Db } from '../../db/database.js';
import { principalOf } from '../../plugins/auth.js';
import { problemResponses } from '../../plugins/errors.js';
import type { ExportStyle } from '../../shared/csv.js';
import { requestLanguage, type Language } from '../../shared/locale.js';
import type { Page } from '../../shared/pagination.js';
import {
  DAILY_COLLECTIONS_CSV,
  INVOICE_DETAILS_CSV,
  MONTHLY_REVENUE_CSV,
  OVERDUE_CSV,
  PAYMENT_HISTORY_CSV,
  reportCsv,
  SCHOOL_SUMMARY_CSV,
  STUDENT_BALANCE_CSV,
  type ReportCsv,
} from './billing-reports.csv.js';
import { createBillingReportsRepository } from './billing-reports.repository.js';
import { createPendingRepository } from './pending.repository.js';
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
 * Each is also a CSV file with `format=csv` (every matching row; `style=people|raw`,
 * `lang=en|es`).
 */
export default function billingReportsRoutes(app: FastifyInstance, options: { db: Db }) {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  const reports = createBillingReportsService({ db: options.db, reports: createBillingReportsRepository() });
  const config = { policy: 'reports:read' as const };
  const tags = ['reports'];
  const errors = problemResponses(400, 401, 403, 404);
  const produces = ['application/json', 'text/csv'];
  const schools = createPendingRepository();

  /** The query parameters every report has besides its filters. */
  interface CommonQuery {
    format?: 'json' | 'csv';
    style?: ExportStyle;
    lang?: Language;
    cursor?: string;
    limit?: number;
    schoolId?: string;
  }

  /**
   * One page as JSON, or with `format=csv` every matching row as a CSV file
   * (billing-reports.csv.ts), named after the school when filtered to one.
   */
  async function answer<Q extends CommonQuery, Row extends object>(
    request: FastifyRequest,
    reply: FastifyReply,
    csv: ReportCsv<Row>,
    run: (query: Q) => Promise<Page<Row>>,
  ): Promise<Page<Row> | undefined> {
    const query = request.query as Q;
    if (query.format !== 'csv') {
      return run(query);
    }
    const school = query.schoolId === undefined ? undefined : await schools.exportSchool(options.db, principalOf(request), query.schoolId);
    const file = await reportCsv(csv, (limit, cursor) => run({ ...query, limit, cursor }), {
      cursor: query.cursor,
      style: query.style ?? 'people',
      language: requestLanguage(request),
      school,
    });
    // The file is the answer; the handler's own return value is then ignored.
    await reply
      .type('text/csv; charset=utf-8')
      .header('content-disposition', file.contentDisposition)
      .header('cache-control', 'private, no-store')
      .send(file.body);
    return undefined;
  }

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
        produces,
        querystring: StudentBalanceQuery,
        response: { 200: StudentBalancePage, ...errors },
      },
    },
    (request, reply) => answer(request, reply, STUDENT_BALANCE_CSV, (query) => reports.studentBalances(principalOf(request), query)),
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
        produces,
        querystring: SchoolSummaryQuery,
        response: { 200: SchoolSummaryPage, ...errors },
      },
    },
    (request, reply) => answer(request, reply, SCHOOL_SUMMARY_CSV, (query) => reports.schoolSummaries(principalOf(request), query)),
  );

  api.get(
    '/reports/invoices/details',
    {
      config,
      schema: {
        tags,
        summary: 'Invoice details with payment activity',
        description: 'Every invoice (cancelled included) with its status, pending amount, payment count and last payment. Ordered by invoice id.',
        produces,
        querystring: InvoiceDetailsQuery,
        response: { 200: InvoiceDetailsPage, ...errors },
      },
    },
    (request, reply) => answer(request, reply, INVOICE_DETAILS_CSV, (query) => reports.invoiceDetails(principalOf(request), query)),
  );

  api.get(
    '/reports/invoices/overdue',
    {
      config,
      schema: {
        tags,
        summary: 'Overdue invoices, oldest first',
        description: 'Invoices with status OVERDUE and the days since their due date in the school’s time zone. Ordered by due date, then id.',
        produces,
        querystring: OverdueQuery,
        response: { 200: OverduePage, ...errors },
      },
    },
    (request, reply) => answer(request, reply, OVERDUE_CSV, (query) => reports.overdueInvoices(principalOf(request), query)),
  );

  api.get(
    '/reports/payments/history',
    {
      config,
      schema: {
        tags,
        summary: 'Payment history, newest first',
        description: 'Payments with their refunds and net amount; from is inclusive, to exclusive (on paidAt). Ordered by paidAt desc, then id desc.',
        produces,
        querystring: PaymentHistoryQuery,
        response: { 200: PaymentHistoryPage, ...errors },
      },
    },
    (request, reply) => answer(request, reply, PAYMENT_HISTORY_CSV, (query) => reports.paymentHistory(principalOf(request), query)),
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
        produces,
        querystring: DailyCollectionsQuery,
        response: { 200: DailyCollectionsPage, ...errors },
      },
    },
    (request, reply) => answer(request, reply, DAILY_COLLECTIONS_CSV, (query) => reports.dailyCollections(principalOf(request), query)),
  );

  api.get(
    '/reports/revenue/monthly',
    {
      config,
      schema: {
        tags,
        summary: 'Revenue per school and month',
        description:
          'Invoiced and outstanding by due month (non-cancelled invoices) and collected (payments − refunds + money received as family credit) by local month, ' +
          'for months with any movement. from/to are inclusive months (default: the last 12; at most 36). Ordered by month desc, then school id.',
        produces,
        querystring: MonthlyRevenueQuery,
        response: { 200: MonthlyRevenuePage, ...errors },
      },
    },
    (request, reply) => answer(request, reply, MONTHLY_REVENUE_CSV, (query) => reports.monthlyRevenue(principalOf(request), query)),
  );
}
