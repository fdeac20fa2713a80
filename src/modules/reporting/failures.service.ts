import type { Db } from '../../db/database.js';
import { AppError, notFound } from '../../shared/errors.js';
import { maskEmail, maskReference } from '../../shared/masking.js';
import type { Principal } from '../../shared/policy.js';
import { DAY_MS, HOUR_MS } from '../../shared/time.js';
import type { BillingReportsRepository } from './billing-reports.repository.js';
import type { FailuresRepository } from './failures.repository.js';
import {
  DEFAULT_LAST_HOURS,
  HOURLY_SERIES_MAX_HOURS,
  MAX_FILTER_VALUE_LENGTH,
  MAX_FILTER_VALUES,
  RECENT_FAILURES,
  type FailuresQuery,
  type FailuresReport,
} from './failures.schemas.js';

const EMAIL = /[^\s@<>()"',;:]+@[^\s@<>()"',;:]+\.[^\s@<>()"',;:]+/g;
/** Seven or more digits, possibly grouped by spaces or dashes (card, account or phone numbers). */
const LONG_DIGITS = /\d(?:[ -]?\d){6,}/g;

/**
 * Gateway failure messages are free text and may quote what the payer typed. Before
 * they reach the feed, e-mail addresses are masked and long digit runs keep only their
 * last four digits. (Names cannot be recognised in free text; gateways are expected
 * not to echo them.)
 */
export function scrubFailureMessage(message: string | null): string | null {
  if (message === null) {
    return null;
  }
  return message.replace(EMAIL, (email) => maskEmail(email)).replace(LONG_DIGITS, (digits) => maskReference(digits.replace(/\D/g, '')));
}

/** A filter's values, from `a,b` and/or the parameter repeated; a 400 naming the field when one is empty or too long, or there are too many. */
function valuesOf(raw: string | string[] | undefined, field: string): string[] | undefined {
  if (raw === undefined) {
    return undefined;
  }
  const values = [...new Set((Array.isArray(raw) ? raw : [raw]).flatMap((part) => part.split(',')).map((value) => value.trim()))];
  const bad = values.length > MAX_FILTER_VALUES ? `at most ${MAX_FILTER_VALUES} values` : values.some((value) => value === '' || value.length > MAX_FILTER_VALUE_LENGTH) ? `each value 1–${MAX_FILTER_VALUE_LENGTH} characters, separated by commas` : undefined;
  if (bad !== undefined) {
    throw new AppError('VALIDATION_FAILED', `${field}: ${bad}`, { errors: [{ field, in: 'querystring', message: bad }] });
  }
  return values;
}

/** Every UTC hour or day from the one holding `from` to the one holding `to`, as ISO text (2026-12-06T09:00:00Z). */
function bucketsOf(from: Date, to: Date, unit: 'hour' | 'day'): string[] {
  const step = unit === 'hour' ? HOUR_MS : DAY_MS;
  const start = Math.floor(from.getTime() / step) * step;
  const buckets: string[] = [];
  for (let at = start; at <= to.getTime(); at += step) {
    buckets.push(new Date(at).toISOString().replace('.000Z', 'Z'));
  }
  return buckets;
}

export function createFailuresService(deps: { db: Db; failures: FailuresRepository; reports: BillingReportsRepository }) {
  const { db, failures, reports } = deps;
  return {
    async report(principal: Principal, query: FailuresQuery): Promise<FailuresReport> {
      const lastHours = query.lastHours ?? DEFAULT_LAST_HOURS;
      if (query.schoolId !== undefined && !(await reports.schoolVisible(db, principal, query.schoolId))) {
        throw notFound('school');
      }
      const to = new Date();
      const from = new Date(to.getTime() - lastHours * HOUR_MS);
      const gatewayList = valuesOf(query.gateway, 'gateway');
      const failureCodes = valuesOf(query.failureCode, 'failureCode');
      const filter = { from, to, schoolId: query.schoolId, method: query.method, ...(gatewayList ? { gateways: gatewayList } : {}), ...(failureCodes ? { failureCodes } : {}) };
      const unit = lastHours > HOURLY_SERIES_MAX_HOURS ? 'day' : 'hour';
      const [counts, recent] = await Promise.all([failures.counts(db, principal, filter, unit), failures.recent(db, principal, filter, RECENT_FAILURES)]);

      const byCode = new Map<string, FailuresReport['byCode'][number]>();
      const byGateway = new Map<string, number>();
      const byBucket = new Map<string, number>();
      for (const row of counts) {
        if (row.hour !== null) {
          // A daily series: each hour (or whole day) into its UTC day.
          const bucket = unit === 'day' ? `${row.hour.slice(0, 10)}T00:00:00Z` : row.hour;
          byBucket.set(bucket, (byBucket.get(bucket) ?? 0) + row.count);
        } else if (row.gateway !== null) {
          byGateway.set(row.gateway, row.count);
        } else if (row.failureCode !== null && row.currency !== null) {
          const entry = byCode.get(row.failureCode) ?? { failureCode: row.failureCode, count: 0, amount: 0, amountByCurrency: [] };
          entry.count += row.count;
          entry.amount += row.amount;
          entry.amountByCurrency.push({ currency: row.currency, amount: row.amount });
          byCode.set(row.failureCode, entry);
        }
      }
      const codeRows = [...byCode.values()].sort((a, b) => b.count - a.count || (a.failureCode < b.failureCode ? -1 : 1));
      for (const row of codeRows) {
        row.amountByCurrency.sort((a, b) => (a.currency < b.currency ? -1 : 1));
      }
      const gateways = [...byGateway].map(([gateway, count]) => ({ gateway, count })).sort((a, b) => b.count - a.count || (a.gateway < b.gateway ? -1 : 1));
      const series = bucketsOf(from, to, unit).map((bucket) => ({ bucket, count: byBucket.get(bucket) ?? 0 }));

      return {
        window: { from: from.toISOString(), to: to.toISOString(), lastHours },
        total: codeRows.reduce((sum, row) => sum + row.count, 0),
        byCode: codeRows,
        byGateway: gateways,
        series,
        recent: recent.map((row) => ({
          id: row.id,
          createdAt: row.createdAt.toISOString(),
          schoolId: row.schoolId,
          schoolName: row.schoolName,
          method: row.method,
          gateway: row.gateway,
          amount: row.amount,
          currency: row.currency,
          failureCode: row.failureCode,
          failureMessage: scrubFailureMessage(row.failureMessage),
        })),
      };
    },
  };
}

export type FailuresService = ReturnType<typeof createFailuresService>;
