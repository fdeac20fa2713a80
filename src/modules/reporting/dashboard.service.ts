import type { DbOrTx } from '../../db/database.js';
import type { PaymentMethod } from '../../db/types.js';
import { AppError, notFound } from '../../shared/errors.js';
import type { Principal } from '../../shared/policy.js';
import type { BillingReportsRepository } from './billing-reports.repository.js';
import type { DashboardFilter, DashboardRepository, InvoiceAggregate, PaymentAggregate } from './dashboard.repository.js';
import {
  MAX_BY_SCHOOL,
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

export function createDashboardService(deps: { db: DbOrTx; dashboard: DashboardRepository; reports: BillingReportsRepository }) {
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
      // Independent reads, each on its own pooled connection.
      const [schools, invoices, payments, outstandingSample] = await Promise.all([
        dashboard.schools(db, principal, filter),
        dashboard.invoiceAggregates(db, principal, filter),
        dashboard.paymentAggregates(db, principal, filter),
        dashboard.outstandingSample(db, principal, filter),
      ]);
      const invoicesAt = (level: InvoiceAggregate['level']) => invoices.filter((row) => row.level === level);
      const paymentsAt = (level: PaymentAggregate['level']) => payments.filter((row) => row.level === level);

      // --- per currency: every currency of the selected schools, zeros included
      const currencies = [...new Set(schools.map((school) => school.currency))].sort();
      const totalsByCurrency: CurrencyTotals[] = currencies.map((currency) => {
        const amounts = addInvoice(zero(), invoicesAt('currency').find((row) => row.currency === currency));
        amounts.amountCollected = paymentsAt('currency').find((row) => row.currency === currency)?.amount ?? 0;
        return { currency, ...amounts };
      });
      const single = totalsByCurrency.length === 1 ? totalsByCurrency[0] : undefined;
      const totals = single ?? { currency: null, amountDue: null, amountCollected: null, amountOutstanding: null, amountOverdue: null };

      // --- per school: every selected school, largest outstanding first
      const invoiceBySchool = new Map(invoicesAt('school').map((row) => [row.schoolId, row]));
      const paymentBySchool = new Map(paymentsAt('school').map((row) => [row.schoolId, row]));
      const bySchool: SchoolTotals[] = schools
        .map((school) => {
          const amounts = addInvoice(zero(), invoiceBySchool.get(school.schoolId));
          amounts.amountCollected = paymentBySchool.get(school.schoolId)?.amount ?? 0;
          return { ...school, ...amounts };
        })
        .sort(
          (a, b) =>
            b.amountOutstanding - a.amountOutstanding ||
            a.schoolName.localeCompare(b.schoolName) ||
            (a.schoolId < b.schoolId ? -1 : a.schoolId > b.schoolId ? 1 : 0),
        );

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
        bySchool: bySchool.slice(0, MAX_BY_SCHOOL),
        bySchoolTruncated: bySchool.length > MAX_BY_SCHOOL,
        byPaymentMethod,
        byGrade,
        outstandingSample,
        generatedAt: new Date().toISOString(),
      };
    },
  };
}

export type DashboardService = ReturnType<typeof createDashboardService>;
