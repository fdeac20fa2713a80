import type { DbOrTx } from '../../db/database.js';
import type { PaymentMethod } from '../../db/types.js';
import { AppError, notFound } from '../../shared/errors.js';
import type { Principal } from '../../shared/policy.js';
import type { BillingReportsRepository } from './billing-reports.repository.js';
import type { DashboardFilter, DashboardRepository, InvoiceAggregate, PaymentAggregate, SchoolPageQuery, SchoolSort } from './dashboard.repository.js';
import { cursorPart, decodeCursor, encodeCursor } from '../../shared/pagination.js';
import { foldRollupDeltas } from './rollups.js';
import {
  DEFAULT_SCHOOLS_LIMIT,
  type CurrencyTotals,
  type Dashboard,
  type DashboardQuery,
  type GradeTotals,
  type MethodTotals,
  type SchoolTotals,
} from './dashboard.schemas.js';

/**
 * The dashboard: input rules the schema cannot express (from ≤ to), the school filter's
 * scope check (404 for a school the caller cannot see), and the assembly of the
 * response from the grouped aggregates the repository reads from the rollup tables.
 *
 * Definitions: due / outstanding / overdue are over live invoices with a due date in
 * [from, to] (the payment-method filter does not apply to them: invoices have no
 * method); collected is money received (payments − refunds + family credit) on school-local days in
 * [from, to], of the given method when one is given. The grade filter applies to both.
 */

const invalid = (field: string, message: string) =>
  new AppError('VALIDATION_FAILED', `invalid querystring: ${field} ${message}`, { errors: [{ field, in: 'querystring', message }] });

/** The bySchool cursor: the sort it belongs to, then the last row's outstanding (that sort only), name and id. */
function encodeSchoolCursor(sort: SchoolSort, row: { outstanding: number; schoolName: string; schoolId: string }): string {
  return encodeCursor(sort === 'name' ? ['name', row.schoolName, row.schoolId] : ['outstanding', row.outstanding, row.schoolName, row.schoolId]);
}

function schoolPageOf(query: DashboardQuery): SchoolPageQuery {
  const sort = query.schoolsSort ?? 'outstanding';
  const limit = query.schoolsLimit ?? DEFAULT_SCHOOLS_LIMIT;
  if (query.schoolsCursor === undefined) {
    return { sort, limit };
  }
  const refused = () =>
    new AppError('BAD_REQUEST', 'schoolsCursor is not valid for this list', {
      errors: [{ field: 'schoolsCursor', in: 'querystring', message: `not a bySchoolNextCursor of a dashboard ordered by ${sort}` }],
    });
  let parts: (string | number)[];
  try {
    parts = decodeCursor(query.schoolsCursor, sort === 'name' ? 3 : 4);
  } catch {
    throw refused();
  }
  if (sort === 'name') {
    const [tag, name, id] = parts;
    if (tag !== 'name' || !cursorPart.text(name) || !cursorPart.uuid(id)) {
      throw refused();
    }
    return { sort, limit, after: { outstanding: 0, name, id } };
  }
  const [tag, outstanding, name, id] = parts;
  if (tag !== 'outstanding' || typeof outstanding !== 'number' || !cursorPart.text(name) || !cursorPart.uuid(id)) {
    throw refused();
  }
  return { sort, limit, after: { outstanding, name, id } };
}

const zero = () => ({ amountDue: 0, amountCollected: 0, amountOutstanding: 0, amountOverdue: 0 });
type Amounts = ReturnType<typeof zero>;

const gradeOrder = new Intl.Collator('en', { numeric: true });

function addInvoice(target: Amounts, row: InvoiceAggregate | undefined): Amounts {
  if (row) {
    target.amountDue += row.amountDue;
    target.amountOutstanding += row.amountOutstanding;
    target.amountOverdue += row.amountOverdue;
  }
  return target;
}

export function createDashboardService(deps: {
  db: DbOrTx;
  /** Where the rollup deltas are folded before a read (the primary when `db` is a replica); `db` otherwise. */
  foldDb?: DbOrTx;
  dashboard: DashboardRepository;
  reports: BillingReportsRepository;
}) {
  const { db, dashboard, reports } = deps;

  return {
    async get(principal: Principal, query: DashboardQuery): Promise<Dashboard> {
      if (query.from !== undefined && query.to !== undefined && query.from > query.to) {
        throw invalid('from', 'must not be after to');
      }
      if (query.schoolId !== undefined && !(await reports.schoolVisible(db, principal, query.schoolId))) {
        throw notFound('school');
      }
      const filter: DashboardFilter = { schoolId: query.schoolId, grade: query.grade, method: query.method, from: query.from, to: query.to };
      const page = schoolPageOf(query);
      // Every school, none singled out: the totals and breakdowns from the platform tier
      // (migration 0033), whatever the number of schools; otherwise the per-school tiers.
      const platform = principal.schoolIds === 'all' && query.schoolId === undefined;
      // Every tier holds what was folded (migration 0035): the waiting deltas first.
      await foldRollupDeltas(deps.foldDb ?? db);
      const fold = async () => {
        // Readers are exact without it (they add the waiting deltas); a failed fold only costs time.
        await dashboard.foldPlatform(db).catch(() => undefined);
      };
      // Independent reads, each on its own pooled connection.
      const [selection, [invoices, payments], outstandingSample, [schoolPage, pageFigures]] = await Promise.all([
        dashboard.currencies(db, principal, filter),
        platform
          ? fold().then(() => Promise.all([dashboard.platformInvoiceAggregates(db, filter), dashboard.platformPaymentAggregates(db, filter)]))
          : Promise.all([dashboard.invoiceAggregates(db, principal, filter), dashboard.paymentAggregates(db, principal, filter)]),
        dashboard.outstandingSample(db, principal, filter),
        dashboard.schoolPage(db, principal, filter, page).then(async (found) => {
          const figures = found.rows.length === 0 ? [] : await dashboard.schoolFigures(db, principal, filter, found.rows.map((row) => row.schoolId));
          return [found, figures] as const;
        }),
      ]);
      const invoicesAt = (level: InvoiceAggregate['level']) => invoices.filter((row) => row.level === level);
      const paymentsAt = (level: PaymentAggregate['level']) => payments.filter((row) => row.level === level);

      // --- per currency: every currency of the selected schools, zeros included
      const totalsByCurrency: CurrencyTotals[] = selection.currencies.map((currency) => {
        const amounts = addInvoice(zero(), invoicesAt('currency').find((row) => row.currency === currency));
        amounts.amountCollected = paymentsAt('currency').find((row) => row.currency === currency)?.amount ?? 0;
        return { currency, ...amounts };
      });
      const single = totalsByCurrency.length === 1 ? totalsByCurrency[0] : undefined;
      const totals = single ?? { currency: null, amountDue: null, amountCollected: null, amountOutstanding: null, amountOverdue: null };

      // --- per school: one page, in the order asked for
      const figuresOf = new Map(pageFigures.map((row) => [row.schoolId, row]));
      const bySchool: SchoolTotals[] = schoolPage.rows.map((school) => {
        const figures = figuresOf.get(school.schoolId);
        return {
          schoolId: school.schoolId,
          schoolName: school.schoolName,
          currency: school.currency,
          amountDue: figures?.amountDue ?? 0,
          amountCollected: figures?.amountCollected ?? 0,
          amountOutstanding: figures?.amountOutstanding ?? 0,
          amountOverdue: figures?.amountOverdue ?? 0,
        };
      });
      const last = schoolPage.rows.at(-1);
      const bySchoolNextCursor = schoolPage.hasMore && last !== undefined ? encodeSchoolCursor(page.sort, last) : null;

      // --- per grade and currency: grades with invoices or money in the range
      const grades = new Map<string, GradeTotals>();
      const gradeRow = (grade: string, currency: string) => {
        const key = `${currency}\u0000${grade}`;
        let row = grades.get(key);
        if (!row) {
          row = { grade, currency, ...zero() };
          grades.set(key, row);
        }
        return row;
      };
      for (const row of invoicesAt('grade')) {
        addInvoice(gradeRow(row.grade ?? '', row.currency), row);
      }
      for (const row of paymentsAt('grade')) {
        gradeRow(row.grade ?? '', row.currency).amountCollected += row.amount;
      }
      const byGrade = [...grades.values()].sort((a, b) => gradeOrder.compare(a.grade, b.grade) || a.currency.localeCompare(b.currency));

      // --- per payment method and currency
      const byPaymentMethod: MethodTotals[] = paymentsAt('method')
        .map((row) => ({ method: row.method as PaymentMethod, currency: row.currency, amount: row.amount, count: row.count }))
        .sort((a, b) => a.method.localeCompare(b.method) || a.currency.localeCompare(b.currency));

      return {
        totals,
        totalsByCurrency,
        bySchool,
        bySchoolNextCursor,
        bySchoolTruncated: bySchoolNextCursor !== null,
        schoolCount: selection.schools,
        byPaymentMethod,
        byGrade,
        outstandingSample,
        generatedAt: new Date().toISOString(),
      };
    },
  };
}

export type DashboardService = ReturnType<typeof createDashboardService>;
