import type { DbOrTx } from '../../db/database.js';
import { AppError, notFound } from '../../shared/errors.js';
import { cursorPart, DEFAULT_PAGE_SIZE, decodeCursorOf, toPage, type Page } from '../../shared/pagination.js';
import type { Principal } from '../../shared/policy.js';
import { todayIn } from '../../shared/time.js';
import type { BillingReportsRepository } from './billing-reports.repository.js';
import {
  DEFAULT_DAILY_RANGE_DAYS,
  DEFAULT_MONTHLY_RANGE_MONTHS,
  MAX_DAILY_RANGE_DAYS,
  MAX_MONTHLY_RANGE_MONTHS,
  type DailyCollectionsQuery,
  type DailyCollectionsRow,
  type InvoiceDetailsQuery,
  type InvoiceDetailsRow,
  type MonthlyRevenueQuery,
  type MonthlyRevenueRow,
  type OverdueQuery,
  type OverdueRow,
  type PaymentHistoryQuery,
  type PaymentHistoryRow,
  type SchoolSummaryQuery,
  type SchoolSummaryRow,
  type StudentBalanceQuery,
  type StudentBalanceRow,
} from './billing-reports.schemas.js';

/**
 * The billing reports: input rules the schema cannot express (from ≤ to, range
 * lengths), the school filter's scope check (404 for a school the caller cannot see,
 * never an empty page that would confirm it exists), cursors and paging. The SQL and
 * the PII masking live in the repository.
 */

/**
 * The zone whose calendar is furthest ahead (UTC+14). When a range has no `to`, each
 * school's range ends on its own today; checking the length against the latest
 * "today" anywhere keeps every school's range within the limit.
 */
const FURTHEST_AHEAD_ZONE = 'Pacific/Kiritimati';

const UUID = cursorPart.uuid;
const DATE = cursorPart.date;
const TIMESTAMP = cursorPart.timestamp;
/** 'YYYY-MM' of a real month. */
const MONTH = (part: unknown): part is string => typeof part === 'string' && /^\d{4}-\d{2}$/.test(part) && cursorPart.date(`${part}-01`);

/** The parts of a cursor of this list, each checked against its expected shape (a 400 naming `cursor` otherwise). */
function cursorOf(cursor: string | undefined, shapes: readonly ((part: unknown) => part is string)[]): string[] | undefined {
  return cursor === undefined ? undefined : (decodeCursorOf(cursor, shapes) as string[]);
}

function invalid(field: string, message: string): AppError {
  return new AppError('VALIDATION_FAILED', `invalid querystring: ${field} ${message}`, {
    errors: [{ field, in: 'querystring', message }],
  });
}

/** Days from `from` to `to`, both 'YYYY-MM-DD', counting both ends. */
function daysInclusive(from: string, to: string): number {
  return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / 86_400_000) + 1;
}

/** Months from `from` to `to`, both 'YYYY-MM', counting both ends. */
function monthsInclusive(from: string, to: string): number {
  const index = (month: string) => Number(month.slice(0, 4)) * 12 + Number(month.slice(5, 7));
  return index(to) - index(from) + 1;
}

export function createBillingReportsService(deps: { db: DbOrTx; reports: BillingReportsRepository }) {
  const { db, reports } = deps;

  /** A schoolId filter the caller cannot see (or that does not exist) is a 404. */
  async function checkSchool(principal: Principal, schoolId: string | undefined): Promise<void> {
    if (schoolId !== undefined && !(await reports.schoolVisible(db, principal, schoolId))) {
      throw notFound('school');
    }
  }

  return {
    async studentBalances(principal: Principal, query: StudentBalanceQuery): Promise<Page<StudentBalanceRow>> {
      const limit = query.limit ?? DEFAULT_PAGE_SIZE;
      const [afterStudentId] = cursorOf(query.cursor, [UUID]) ?? [];
      await checkSchool(principal, query.schoolId);
      const rows = await reports.studentBalances(db, principal, {
        limit,
        afterStudentId,
        schoolId: query.schoolId,
        grade: query.grade,
        onlyWithBalance: query.onlyWithBalance,
      });
      return toPage(rows, limit, (row) => [row.studentId]);
    },

    async schoolSummaries(principal: Principal, query: SchoolSummaryQuery): Promise<Page<SchoolSummaryRow>> {
      const limit = query.limit ?? DEFAULT_PAGE_SIZE;
      const [afterSchoolId] = cursorOf(query.cursor, [UUID]) ?? [];
      await checkSchool(principal, query.schoolId);
      const rows = await reports.schoolSummaries(db, principal, { limit, afterSchoolId, schoolId: query.schoolId });
      return toPage(rows, limit, (row) => [row.schoolId]);
    },

    async invoiceDetails(principal: Principal, query: InvoiceDetailsQuery): Promise<Page<InvoiceDetailsRow>> {
      const limit = query.limit ?? DEFAULT_PAGE_SIZE;
      const [afterInvoiceId] = cursorOf(query.cursor, [UUID]) ?? [];
      if (query.dueFrom !== undefined && query.dueTo !== undefined && query.dueFrom > query.dueTo) {
        throw invalid('dueFrom', 'must not be after dueTo');
      }
      await checkSchool(principal, query.schoolId);
      const rows = await reports.invoiceDetails(db, principal, {
        limit,
        afterInvoiceId,
        schoolId: query.schoolId,
        studentId: query.studentId,
        status: query.status,
        dueFrom: query.dueFrom,
        dueTo: query.dueTo,
      });
      return toPage(rows, limit, (row) => [row.invoiceId]);
    },

    async overdueInvoices(principal: Principal, query: OverdueQuery): Promise<Page<OverdueRow>> {
      const limit = query.limit ?? DEFAULT_PAGE_SIZE;
      const cursor = cursorOf(query.cursor, [DATE, UUID]);
      await checkSchool(principal, query.schoolId);
      const rows = await reports.overdueInvoices(db, principal, {
        limit,
        after: cursor && { dueDate: cursor[0] ?? '', invoiceId: cursor[1] ?? '' },
        schoolId: query.schoolId,
        minDaysOverdue: query.minDaysOverdue,
      });
      return toPage(rows, limit, (row) => [row.dueDate, row.invoiceId]);
    },

    async paymentHistory(principal: Principal, query: PaymentHistoryQuery): Promise<Page<PaymentHistoryRow>> {
      const limit = query.limit ?? DEFAULT_PAGE_SIZE;
      const cursor = cursorOf(query.cursor, [TIMESTAMP, UUID]);
      if (query.from !== undefined && query.to !== undefined && Date.parse(query.from) > Date.parse(query.to)) {
        throw invalid('from', 'must not be after to');
      }
      await checkSchool(principal, query.schoolId);
      const rows = await reports.paymentHistory(db, principal, {
        limit,
        before: cursor && { paidAtKey: cursor[0] ?? '', paymentId: cursor[1] ?? '' },
        schoolId: query.schoolId,
        studentId: query.studentId,
        method: query.method,
        from: query.from,
        to: query.to,
      });
      const page = toPage(rows, limit, (row) => [row.cursorPaidAt, row.paymentId]);
      return { data: page.data.map(({ cursorPaidAt: _key, ...row }) => row), nextCursor: page.nextCursor };
    },

    async dailyCollections(principal: Principal, query: DailyCollectionsQuery): Promise<Page<DailyCollectionsRow>> {
      const limit = query.limit ?? DEFAULT_PAGE_SIZE;
      const cursor = cursorOf(query.cursor, [DATE, UUID]);
      if (query.from !== undefined) {
        const to = query.to ?? todayIn(FURTHEST_AHEAD_ZONE);
        if (query.to !== undefined && query.from > query.to) {
          throw invalid('from', 'must not be after to');
        }
        if (daysInclusive(query.from, to) > MAX_DAILY_RANGE_DAYS) {
          throw invalid('from', `must be at most ${MAX_DAILY_RANGE_DAYS} days before ${query.to === undefined ? 'today' : 'to'} (both inclusive)`);
        }
      }
      await checkSchool(principal, query.schoolId);
      const rows = await reports.dailyCollections(db, principal, {
        limit,
        after: cursor && { date: cursor[0] ?? '', schoolId: cursor[1] ?? '' },
        schoolId: query.schoolId,
        from: query.from,
        to: query.to,
        defaultDays: DEFAULT_DAILY_RANGE_DAYS,
      });
      return toPage(rows, limit, (row) => [row.date, row.schoolId]);
    },

    async monthlyRevenue(principal: Principal, query: MonthlyRevenueQuery): Promise<Page<MonthlyRevenueRow>> {
      const limit = query.limit ?? DEFAULT_PAGE_SIZE;
      const cursor = cursorOf(query.cursor, [MONTH, UUID]);
      if (query.from !== undefined) {
        const to = query.to ?? todayIn(FURTHEST_AHEAD_ZONE).slice(0, 7);
        if (query.to !== undefined && query.from > query.to) {
          throw invalid('from', 'must not be after to');
        }
        if (monthsInclusive(query.from, to) > MAX_MONTHLY_RANGE_MONTHS) {
          throw invalid('from', `must be at most ${MAX_MONTHLY_RANGE_MONTHS} months before ${query.to === undefined ? 'the current month' : 'to'} (both inclusive)`);
        }
      }
      await checkSchool(principal, query.schoolId);
      const rows = await reports.monthlyRevenue(db, principal, {
        limit,
        after: cursor && { month: cursor[0] ?? '', schoolId: cursor[1] ?? '' },
        schoolId: query.schoolId,
        from: query.from,
        to: query.to,
        defaultMonths: DEFAULT_MONTHLY_RANGE_MONTHS,
      });
      return toPage(rows, limit, (row) => [row.month, row.schoolId]);
    },
  };
}

export type BillingReportsService = ReturnType<typeof createBillingReportsService>;
