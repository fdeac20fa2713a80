import type { Db } from '../../db/database.js';
import { notFound } from '../../shared/errors.js';
import { maskEmail, maskReference } from '../../shared/masking.js';
import type { Principal } from '../../shared/policy.js';
import type { BillingReportsRepository } from './billing-reports.repository.js';
import type { FailuresRepository } from './failures.repository.js';
import {
  DEFAULT_LAST_HOURS,
  HOURLY_SERIES_MAX_HOURS,
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

export function createFailuresService(deps: { db: Db; failures: FailuresRepository; reports: BillingReportsRepository }) {
  const { db, failures, reports } = deps;
  return {
    async report(principal: Principal, query: FailuresQuery): Promise<FailuresReport> {
      const lastHours = query.lastHours ?? DEFAULT_LAST_HOURS;
      if (query.schoolId !== undefined && !(await reports.schoolVisible(db, principal, query.schoolId))) {
        throw notFound('school');
      }
      const to = new Date();
      const from = new Date(to.getTime() - lastHours * 3_600_000);
      const filter = { from, to, schoolId: query.schoolId, method: query.method, gateway: query.gateway, failureCode: query.failureCode };
      const [codes, gateways, series, recent] = await Promise.all([
        failures.byCodeAndCurrency(db, principal, filter),
        failures.byGateway(db, principal, filter),
        failures.series(db, principal, filter, lastHours > HOURLY_SERIES_MAX_HOURS ? 'day' : 'hour'),
        failures.recent(db, principal, filter, RECENT_FAILURES),
      ]);

      const byCode = new Map<string, FailuresReport['byCode'][number]>();
      for (const row of codes) {
        const entry = byCode.get(row.failureCode) ?? { failureCode: row.failureCode, count: 0, amount: 0, amountByCurrency: [] };
        entry.count += row.count;
        entry.amount += row.amount;
        entry.amountByCurrency.push({ currency: row.currency, amount: row.amount });
        byCode.set(row.failureCode, entry);
      }
      const codeRows = [...byCode.values()].sort((a, b) => b.count - a.count || (a.failureCode < b.failureCode ? -1 : 1));
      for (const row of codeRows) {
        row.amountByCurrency.sort((a, b) => (a.currency < b.currency ? -1 : 1));
      }

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
