import type { Db } from '../../db/database.js';
import type { PaymentMethod } from '../../db/types.js';
import { AppError, notFound } from '../../shared/errors.js';
import { cursorPart, decodeCursor, toPage } from '../../shared/pagination.js';
import type { Principal } from '../../shared/policy.js';
import { DAY_MS } from '../../shared/time.js';
import { studentName } from '../billing/students.repository.js';
import { eventIdOf, eventTypeOf } from '../live/events.js';
import type { BillingReportsRepository } from '../reporting/billing-reports.repository.js';
import type { ActivityRow, AnalyticsRepository, TransactionListRow } from './analytics.repository.js';
import { checkTimeZone, localDayStarts, localHourStarts } from './analytics.zones.js';
import {
  DEFAULT_TRANSACTIONS_PAGE,
  PERIOD_DAYS,
  type AnalyticsQuery,
  type CurrencyMetrics,
  type MethodsReport,
  type MetricsReport,
  type Period,
  type TransactionItem,
  type TransactionListQuery,
  type TransactionPage,
  type TrendsReport,
} from './analytics.schemas.js';


const badCursor = () =>
  new AppError('BAD_REQUEST', 'cursor is not valid for this list', {
    errors: [{ field: 'cursor', in: 'querystring', message: 'not a cursor returned by this list' }],
  });

/** A cursor of this list: the last row's exact created_at (µs) and id. */
function decodeTransactionCursor(cursor: string): { createdAt: string; id: string } {
  const [createdAt, id] = decodeCursor(cursor, 2);
  if (!cursorPart.timestamp(createdAt) || !cursorPart.uuid(id)) {
    throw badCursor();
  }
  return { createdAt, id };
}

/** The rolling window of a period, ending now: [now − 24 h | 7 d | 30 d, now]. */
export function rollingWindow(period: Period, now: Date): { from: Date; to: Date } {
  return { from: new Date(now.getTime() - PERIOD_DAYS[period] * DAY_MS), to: now };
}

/**
 * The bucketed window of a trend: the last 24 hours for `day` (the current, partial
 * hour last), the last 7 or 30 days otherwise (today last), ending now. Hours and days
 * are those of `timeZone` (UTC by default): a day starts at the zone's midnight.
 */
export function trendWindow(period: Period, now: Date, timeZone = 'UTC'): { unit: 'hour' | 'day'; buckets: Date[]; from: Date; to: Date } {
  const unit = period === 'day' ? 'hour' : 'day';
  const buckets = unit === 'hour' ? localHourStarts(timeZone, now, 24) : localDayStarts(timeZone, now, PERIOD_DAYS[period]);
  return { unit, buckets, from: buckets[0] ?? now, to: now };
}

interface Sums {
  succeeded: { count: number; amount: number };
  failed: { count: number; amount: number };
  refunded: { count: number; amount: number };
}

const emptySums = (): Sums => ({ succeeded: { count: 0, amount: 0 }, failed: { count: 0, amount: 0 }, refunded: { count: 0, amount: 0 } });

function add(sums: Sums, row: ActivityRow): void {
  sums[row.status].count += row.count;
  sums[row.status].amount += row.amount;
}

/** The key with the highest value; ties go to the smallest key (earliest hour, first method by name). */
function argMax<K extends string | number>(counts: Map<K, number>): K | null {
  let best: K | null = null;
  let bestCount = 0;
  for (const [key, count] of counts) {
    if (count > bestCount || (count === bestCount && count > 0 && best !== null && key < best)) {
      best = key;
      bestCount = count;
    }
  }
  return best;
}

function presentTransaction(row: TransactionListRow, scope: Principal): TransactionItem {
  return {
    id: row.id,
    eventId: row.xactId === null ? null : eventIdOf({ xactId: row.xactId, id: row.id }),
    type: eventTypeOf(row.status),
    schoolId: row.schoolId,
    schoolName: row.schoolName,
    invoiceId: row.invoiceId,
    invoiceNumber: row.invoiceNumber,
    studentName: row.studentFirstName === null || row.studentLastName === null ? null : studentName(row.studentFirstName, row.studentLastName, scope),
    amount: row.amount,
    currency: row.currency,
    method: row.method,
    status: row.status,
    gateway: row.gateway,
    failureCode: row.failureCode,
    createdAt: row.createdAt.toISOString(),
  };
}

/**
 * Live analytics over the transactions table (every payment, refund and failed attempt
 * is one row). Scope is applied in the repository; here: the schoolId 404, the windows,
 * and folding the small per-group aggregates into per-currency figures. Money is never
 * added across currencies.
 */
export function createAnalyticsService(deps: { db: Db; analytics: AnalyticsRepository; reports: BillingReportsRepository }) {
  const { db, analytics, reports } = deps;

  async function checkSchool(principal: Principal, schoolId: string | undefined): Promise<void> {
    if (schoolId !== undefined && !(await reports.schoolVisible(db, principal, schoolId))) {
      throw notFound('school');
    }
  }

  return {
    async listTransactions(principal: Principal, query: TransactionListQuery): Promise<TransactionPage> {
      const limit = query.limit ?? DEFAULT_TRANSACTIONS_PAGE;
      const from = query.from === undefined ? undefined : new Date(query.from);
      const to = query.to === undefined ? undefined : new Date(query.to);
      if (from !== undefined && to !== undefined && from > to) {
        throw new AppError('VALIDATION_FAILED', 'from is after to', {
          errors: [{ field: 'from', in: 'querystring', message: 'must not be after to' }],
        });
      }
      const after = query.cursor === undefined ? undefined : decodeTransactionCursor(query.cursor);
      await checkSchool(principal, query.schoolId);
      const rows = await analytics.listTransactions(db, principal, {
        limit,
        schoolId: query.schoolId,
        status: query.status,
        method: query.method,
        from,
        to,
        after,
      });
      const page = toPage(rows, limit, (row) => [row.cursorAt, row.id]);
      return { data: page.data.map((row) => presentTransaction(row, principal)), nextCursor: page.nextCursor };
    },

    /**
     * totalVolume = succeeded − refunded amount; totalPayments = succeeded count;
     * successRate = succeeded / (succeeded + failed); averageAmount = mean succeeded
     * amount; peakHour = the hour of day in `timeZone` (default UTC) with the most
     * succeeded payments; topPaymentMethod by succeeded count. One entry per currency
     * of the selected schools.
     */
    async metrics(principal: Principal, query: AnalyticsQuery, now = new Date()): Promise<MetricsReport> {
      const period = query.period ?? 'day';
      const timeZone = checkTimeZone(query.timeZone);
      await checkSchool(principal, query.schoolId);
      const window = rollingWindow(period, now);
      const filter = { ...window, schoolId: query.schoolId };
      const [currencies, money, failed] = await Promise.all([
        analytics.currencies(db, principal, query.schoolId),
        analytics.activity(db, principal, filter, 'money', { method: true, hourOfDay: timeZone }),
        analytics.activity(db, principal, filter, 'failed', {}),
      ]);
      const perCurrency = new Map<string, { sums: Sums; hours: Map<number, number>; methods: Map<PaymentMethod, number> }>();
      const entryOf = (currency: string) => {
        let entry = perCurrency.get(currency);
        if (!entry) {
          entry = { sums: emptySums(), hours: new Map(), methods: new Map() };
          perCurrency.set(currency, entry);
        }
        return entry;
      };
      for (const currency of currencies) {
        entryOf(currency);
      }
      for (const row of [...money, ...failed]) {
        const entry = entryOf(row.currency);
        add(entry.sums, row);
        if (row.status === 'succeeded' && row.hour !== null && row.method !== null) {
          entry.hours.set(row.hour, (entry.hours.get(row.hour) ?? 0) + row.count);
          entry.methods.set(row.method, (entry.methods.get(row.method) ?? 0) + row.count);
        }
      }
      const byCurrency: CurrencyMetrics[] = [...perCurrency.entries()]
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([currency, { sums, hours, methods }]) => {
          const attempts = sums.succeeded.count + sums.failed.count;
          return {
            currency,
            totalVolume: sums.succeeded.amount - sums.refunded.amount,
            totalPayments: sums.succeeded.count,
            successRate: attempts === 0 ? null : sums.succeeded.count / attempts,
            averageAmount: sums.succeeded.count === 0 ? 0 : Math.round(sums.succeeded.amount / sums.succeeded.count),
            peakHour: argMax(hours),
            topPaymentMethod: argMax(methods),
            failedPayments: sums.failed.count,
            refundedAmount: sums.refunded.amount,
            succeededAmount: sums.succeeded.amount,
            refunds: sums.refunded.count,
          };
        });
      return { period, timeZone, from: window.from.toISOString(), to: window.to.toISOString(), byCurrency, generatedAt: new Date().toISOString() };
    },

    /** Every bucket × every currency of the selected schools, zeros included; buckets are hours or days of `timeZone`. */
    async trends(principal: Principal, query: AnalyticsQuery, now = new Date()): Promise<TrendsReport> {
      const period = query.period ?? 'day';
      const timeZone = checkTimeZone(query.timeZone);
      await checkSchool(principal, query.schoolId);
      const window = trendWindow(period, now, timeZone);
      const filter = { from: window.from, to: window.to, schoolId: query.schoolId };
      const [currencies, money, failed] = await Promise.all([
        analytics.currencies(db, principal, query.schoolId),
        analytics.activity(db, principal, filter, 'money', { buckets: window.buckets }),
        analytics.activity(db, principal, filter, 'failed', { buckets: window.buckets }),
      ]);
      // Rows carry their bucket's 1-based position among window.buckets.
      const sums = new Map<string, Sums>();
      for (const row of [...money, ...failed]) {
        const key = `${row.bucket ?? 0}|${row.currency}`;
        const entry = sums.get(key) ?? emptySums();
        add(entry, row);
        sums.set(key, entry);
      }
      const points: TrendsReport['points'] = [];
      for (const [index, start] of window.buckets.entries()) {
        const bucket = `${start.toISOString().slice(0, 19)}Z`;
        for (const currency of currencies) {
          const entry = sums.get(`${index + 1}|${currency}`) ?? emptySums();
          points.push({ bucket, currency, amount: entry.succeeded.amount, count: entry.succeeded.count, failed: entry.failed.count, refunded: entry.refunded.amount });
        }
      }
      return { period, unit: window.unit, timeZone, from: window.from.toISOString(), to: window.to.toISOString(), points };
    },

    async methods(principal: Principal, query: AnalyticsQuery, now = new Date()): Promise<MethodsReport> {
      const period = query.period ?? 'day';
      await checkSchool(principal, query.schoolId);
      const window = rollingWindow(period, now);
      const filter = { ...window, schoolId: query.schoolId };
      const [money, failed] = await Promise.all([
        analytics.activity(db, principal, filter, 'money', { method: true }),
        analytics.activity(db, principal, filter, 'failed', { method: true }),
      ]);
      const sums = new Map<string, { method: PaymentMethod; currency: string; sums: Sums }>();
      for (const row of [...money, ...failed]) {
        if (row.method === null) {
          continue;
        }
        const key = `${row.currency}|${row.method}`;
        const entry = sums.get(key) ?? { method: row.method, currency: row.currency, sums: emptySums() };
        add(entry.sums, row);
        sums.set(key, entry);
      }
      const methods = [...sums.values()]
        .map(({ method, currency, sums: s }) => ({ method, currency, amount: s.succeeded.amount, count: s.succeeded.count, failed: s.failed.count, refunded: s.refunded.amount }))
        .sort((a, b) => (a.currency < b.currency ? -1 : a.currency > b.currency ? 1 : b.amount - a.amount || b.count - a.count || (a.method < b.method ? -1 : 1)));
      return { period, from: window.from.toISOString(), to: window.to.toISOString(), methods };
    },
  };
}

export type AnalyticsService = ReturnType<typeof createAnalyticsService>;
