import { sql, type RawBuilder } from 'kysely';
import { PREPARED, type DbOrTx } from '../../db/database.js';
import type { PaymentMethod } from '../../db/types.js';
import { inScope, inScopeSql, type Scope } from '../../shared/scope.js';
import { andIf } from '../../shared/sql.js';
import { addDays } from '../assistant/format.js';
import { isOutstanding, statusOf } from '../billing/invoices.repository.js';
import { studentName } from '../billing/students.repository.js';
import { OUTSTANDING_SAMPLE_SIZE, type OutstandingInvoice } from './dashboard.schemas.js';

/**
 * The SQL of the dashboard. A request over every school (a role that sees them all, no
 * school filter) reads its totals and breakdowns from the platform tier of migration
 * 0033, per currency, whatever the number of schools; any other reads the per-school
 * tiers. Every aggregate is read from the rollup tables of migrations
 * 0003/0004/0033, never from invoices or payments: the all-time totals (per school × grade
 * [× method]) without a date range, the day buckets (per school × grade [× method] ×
 * day) at the edges of one. Only the
 * outstanding sample reads invoices, 10 rows through the partial outstanding indexes.
 *
 * Tenant isolation: the selected schools pass through `inScope`, and the rollups are
 * joined to that selection (which also leaves soft-deleted schools out; soft-deleted
 * students are already out of the rollups). Each aggregate comes back per grouping set
 * (per grade / method with currency, per currency) in one statement, so
 * money is only ever summed within one currency.
 */

export interface DashboardFilter {
  schoolId?: string;
  /** Only these schools (a page of bySchool), within the scope as always. */
  schoolIds?: readonly string[];
  grade?: string;
  method?: PaymentMethod;
  from?: string;
  to?: string;
}

export interface SelectedSchool {
  schoolId: string;
  schoolName: string;
  currency: string;
}

/** One row of a grouping-sets aggregate; the key columns not in its set are null. */
export interface InvoiceAggregate {
  level: 'grade' | 'currency';
  grade: string | null;
  currency: string;
  amountDue: number;
  amountOutstanding: number;
  amountOverdue: number;
}

export interface PaymentAggregate {
  level: 'grade' | 'method' | 'currency';
  grade: string | null;
  method: PaymentMethod | null;
  currency: string;
  amount: number;
  count: number;
}

/** The live, visible schools of the selection, as a CTE body. */
function selectedSchools(scope: Scope, filter: DashboardFilter) {
  return sql`
    select schools.id, schools.name, schools.currency, schools.timezone
      from schools
     where schools.deleted_at is null
       and ${inScopeSql('schools.id', scope)}
       ${andIf(filter.schoolId, (id) => sql`and schools.id = ${id}`)}
       ${andIf(filter.schoolIds, (ids) => sql`and schools.id = any(${[...ids]}::uuid[])`)}`;
}

/** `column` within [from, to] (true when neither is set). */
function dateRange(column: string, filter: DashboardFilter): RawBuilder<unknown> {
  const ref = sql.ref(column);
  return sql`true ${andIf(filter.from, (from) => sql`and ${ref} >= ${from}::date`)} ${andIf(filter.to, (to) => sql`and ${ref} <= ${to}::date`)}`;
}

/**
 * How to sum a bucket table over [from, to]: `all` (no range: read the totals), `inside`
 * (sum the buckets in the range) or `outside` (totals minus the buckets outside the
 * range), whichever touches fewer buckets, judged by the share of the table's date span
 * the range covers (two index lookups). Every choice gives the same, exact answer.
 */
export async function rangeSide(db: DbOrTx, table: 'invoice_rollups' | 'payment_rollups', column: 'due_date' | 'paid_on', filter: DashboardFilter) {
  if (filter.from === undefined && filter.to === undefined) {
    return 'all' as const;
  }
  const { rows } = await sql<{ first: string | null; last: string | null }>`${PREPARED}
    select min(${sql.ref(column)}) as first, max(${sql.ref(column)}) as last from ${sql.table(table)}`.execute(db);
  const first = rows[0]?.first;
  const last = rows[0]?.last;
  if (!first || !last) {
    return 'inside' as const;
  }
  const day = (date: string) => Date.parse(`${date}T00:00:00Z`) / 86_400_000;
  const span = day(last) - day(first) + 1;
  const covered = Math.min(day(last), day(filter.to ?? last)) - Math.max(day(first), day(filter.from ?? first)) + 1;
  return covered > span / 2 ? ('outside' as const) : ('inside' as const);
}

/** How bySchool is ordered: largest outstanding first (the default), or by name. */
export type SchoolSort = 'outstanding' | 'name';

export interface SchoolPageQuery {
  limit: number;
  sort: SchoolSort;
  /** The last row of the previous page: its outstanding (sort outstanding), name and id. */
  after?: { outstanding: number; name: string; id: string };
}

export interface SchoolFigures {
  schoolId: string;
  amountDue: number;
  amountOutstanding: number;
  amountOverdue: number;
  amountCollected: number;
}

export interface SchoolPage {
  rows: (SelectedSchool & { outstanding: number })[];
  hasMore: boolean;
}

const monthStart = (date: string) => `${date.slice(0, 7)}-01`;
/** The first day of the month after `date`'s. */
const nextMonth = (date: string) => monthStart(addDays(monthStart(date), 31));

/**
 * Which rows of a platform sums table make up [from, to]: the all-time rows without a
 * range; otherwise the whole months inside it ('m') and the days at its edges ('d').
 * An open end reaches every month on that side.
 */
export function platformPeriods(filter: Pick<DashboardFilter, 'from' | 'to'>): RawBuilder<unknown> {
  const { from, to } = filter;
  if (from === undefined && to === undefined) {
    return sql`period = 'a'`;
  }
  // Whole months start on or after `first` and before `end`.
  const first = from === undefined ? undefined : nextMonth(addDays(from, -1));
  const end = to === undefined ? undefined : monthStart(addDays(to, 1));
  if (first !== undefined && end !== undefined && first >= end) {
    return sql`(period = 'd' and period_start between ${from}::date and ${to}::date)`;
  }
  const months = sql`period = 'm' ${andIf(first, (f) => sql`and period_start >= ${f}::date`)} ${andIf(end, (e) => sql`and period_start < ${e}::date`)}`;
  const before = from !== undefined && first !== undefined && from < first ? sql`or (period = 'd' and period_start >= ${from}::date and period_start < ${first}::date)` : sql``;
  const after = to !== undefined && end !== undefined && end <= to ? sql`or (period = 'd' and period_start >= ${end}::date and period_start <= ${to}::date)` : sql``;
  return sql`((${months}) ${before} ${after})`;
}

/**
 * Runs a read of the platform tier planned without parallel workers. Each of its parts
 * reads a few hundred to a few thousand rows through their keys, but the union of them
 * costs enough for the planner to choose a Parallel Append (which the tables'
 * parallel_workers = 0 does not forbid): measured at data set L, 10.5 ms with two
 * workers against 2.3 ms without, most of it the workers' start-up. In a caller's
 * transaction the read runs as it is.
 */
async function withoutParallelWorkers<T>(db: DbOrTx, read: (db: DbOrTx) => Promise<T>): Promise<T> {
  if (db.isTransaction) {
    return read(db);
  }
  return db.transaction().execute(async (trx) => {
    await sql`set local max_parallel_workers_per_gather = 0`.execute(trx);
    return read(trx);
  });
}

export function createDashboardRepository() {
  return {

    /** The currencies of the selected schools (every one is listed, zeros included) and how many schools there are. */
    async currencies(db: DbOrTx, scope: Scope, filter: DashboardFilter): Promise<{ currencies: string[]; schools: number }> {
      const result = await sql<{ currency: string; schools: number }>`${PREPARED}
        select sel.currency, count(*)::int as schools from (${selectedSchools(scope, filter)}) sel group by sel.currency order by sel.currency`.execute(db);
      return { currencies: result.rows.map((row) => row.currency), schools: result.rows.reduce((sum, row) => sum + row.schools, 0) };
    },

    /**
     * Moves the platform tier's waiting deltas into its sums (fold_platform_deltas, one
     * folder at a time) when there are any. Readers are exact without it; it keeps the
     * deltas they add up few.
     */
    async foldPlatform(db: DbOrTx): Promise<void> {
      await sql`${PREPARED}
        select fold_platform_deltas()
         where exists (select 1 from platform_invoice_deltas) or exists (select 1 from platform_payment_deltas)`.execute(db);
    },

    /**
     * invoiceAggregates for every live school at once, from platform_invoice_sums (and
     * the deltas not folded yet, in the same snapshot): the currency and grade levels.
     * Not yet due = the day rows and deltas due on or after the local today of their
     * time zone.
     */
    async platformInvoiceAggregates(db: DbOrTx, filter: DashboardFilter): Promise<InvoiceAggregate[]> {
      const { grade } = filter;
      const periods = platformPeriods(filter);
      const allGrades = sql`grade = ${grade ?? ''}`;
      const perGrade = grade === undefined ? sql`grade > ''` : sql`grade = ${grade}`;
      const notDue = sql`period = 'd' and period_start >= (now() at time zone timezone)::date and ${dateRange('period_start', filter)}`;
      const query = sql<InvoiceAggregate>`${PREPARED}
        select level, grade, currency,
               sum(amount_due)::bigint as "amountDue", sum(outstanding)::bigint as "amountOutstanding",
               (sum(outstanding) - sum(not_due))::bigint as "amountOverdue"
          from (select 'currency' as level, null::text as grade, currency, invoice_count, amount_due, amount_due - amount_paid as outstanding, 0::bigint as not_due
                  from platform_invoice_sums where ${allGrades} and ${periods}
                union all
                select 'grade', grade, currency, invoice_count, amount_due, amount_due - amount_paid, 0
                  from platform_invoice_sums where ${perGrade} and ${periods}
                union all
                select 'currency', null, currency, 0, 0, 0, amount_due - amount_paid from platform_invoice_sums where ${allGrades} and ${notDue}
                union all
                select 'grade', grade, currency, 0, 0, 0, amount_due - amount_paid from platform_invoice_sums where ${perGrade} and ${notDue}
                union all
                select l.level, case when l.level = 'grade' then d.grade end, d.currency, d.invoice_count, d.amount_due,
                       d.amount_due - d.amount_paid,
                       case when d.due_date >= (now() at time zone d.timezone)::date then d.amount_due - d.amount_paid else 0 end
                  from platform_invoice_deltas d
                 cross join (values ('currency'), ('grade')) l (level)
                 where ${dateRange('d.due_date', filter)} ${andIf(grade, (g) => sql`and d.grade = ${g}`)}) x
         group by level, grade, currency
        having sum(invoice_count) <> 0`;
      return (await withoutParallelWorkers(db, (reader) => query.execute(reader))).rows;
    },

    /** paymentAggregates for every live school at once, from platform_payment_sums and its deltas: the currency, grade and method levels. */
    async platformPaymentAggregates(db: DbOrTx, filter: DashboardFilter): Promise<PaymentAggregate[]> {
      const { grade, method } = filter;
      const periods = platformPeriods(filter);
      const allGrades = sql`grade = ${grade ?? ''}`;
      const allMethods = sql`method = ${method ?? ''}`;
      const anyGrade = grade === undefined ? sql`grade > ''` : sql`grade = ${grade}`;
      const anyMethod = method === undefined ? sql`method > ''` : sql`method = ${method}`;
      const query = sql<PaymentAggregate>`${PREPARED}
        select level, grade, method, currency, sum(amount)::bigint as amount, sum(payment_count)::bigint as count
          from (select 'currency' as level, null::text as grade, null::text as method, currency, payment_count, amount
                  from platform_payment_sums where ${allGrades} and ${allMethods} and ${periods}
                union all
                select 'grade', grade, null, currency, payment_count, amount from platform_payment_sums where ${anyGrade} and ${allMethods} and ${periods}
                union all
                select 'method', null, method, currency, payment_count, amount from platform_payment_sums where ${allGrades} and ${anyMethod} and ${periods}
                union all
                select l.level, case when l.level = 'grade' then d.grade end, case when l.level = 'method' then d.method end,
                       d.currency, d.payment_count, d.amount
                  from platform_payment_deltas d
                 cross join (values ('currency'), ('grade'), ('method')) l (level)
                 where ${dateRange('d.paid_on', filter)} ${andIf(grade, (g) => sql`and d.grade = ${g}`)} ${andIf(method, (m) => sql`and d.method = ${m}`)}) x
         group by level, grade, method, currency
        having sum(payment_count) <> 0 or sum(amount) <> 0`;
      return (await withoutParallelWorkers(db, (reader) => query.execute(reader))).rows;
    },

    /**
     * The four figures of a page of schools (bySchool), each read through its school's
     * keys: without a range, one totals row per school; with one, the school's day
     * buckets in it. Not yet due = the school's buckets due on or after its local today.
     */
    async schoolFigures(db: DbOrTx, scope: Scope, filter: DashboardFilter, ids: readonly string[]): Promise<SchoolFigures[]> {
      const { grade, method } = filter;
      const ranged = filter.from !== undefined || filter.to !== undefined;
      // Per school (a lateral subquery each), so every read is an index range of that
      // school's rows, whatever the planner would guess for a list of ids.
      // A range without a grade: the school's months and edge days (migration 0034).
      const invoices = !ranged
        ? sql`select coalesce(sum(t.amount_due), 0) as due, coalesce(sum(t.amount_due - t.amount_paid), 0) as outstanding
                from invoice_totals t where t.school_id = sel.id and t.grade = ${grade ?? ''}`
        : grade === undefined
          ? sql`select coalesce(sum(r.amount_due), 0) as due, coalesce(sum(r.amount_due - r.amount_paid), 0) as outstanding
                  from school_invoice_sums r where r.school_id = sel.id and ${platformPeriods(filter)}`
          : sql`select coalesce(sum(r.amount_due), 0) as due, coalesce(sum(r.amount_due - r.amount_paid), 0) as outstanding
                  from invoice_rollups r where r.school_id = sel.id and r.grade = ${grade} and ${dateRange('r.due_date', filter)}`;
      const payments = !ranged
        ? sql`select coalesce(sum(t.amount), 0) as amount from payment_totals t
               where t.school_id = sel.id and t.grade = ${grade ?? ''} and t.method = ${method ?? ''}`
        : grade === undefined && method === undefined
          ? sql`select coalesce(sum(r.amount), 0) as amount from school_payment_sums r where r.school_id = sel.id and ${platformPeriods(filter)}`
          : sql`select coalesce(sum(r.amount), 0) as amount from payment_rollups r
                 where r.school_id = sel.id ${andIf(grade, (g) => sql`and r.grade = ${g}`)} ${andIf(method, (m) => sql`and r.method = ${m}`)}
                   and ${dateRange('r.paid_on', filter)}`;
      // Not yet due: the school's days due on or after its local today.
      const notDue =
        grade === undefined
          ? sql`select coalesce(sum(r.amount_due - r.amount_paid), 0) as outstanding
                  from school_invoice_sums r
                 where r.school_id = sel.id and r.period = 'd' and r.period_start >= sel.today and ${dateRange('r.period_start', filter)}`
          : sql`select coalesce(sum(r.amount_due - r.amount_paid), 0) as outstanding
                  from invoice_rollups r
                 where r.school_id = sel.id and r.grade = ${grade} and r.due_date >= sel.today and ${dateRange('r.due_date', filter)}`;
      const result = await sql<SchoolFigures>`${PREPARED}
        select sel.id as "schoolId", i.due::bigint as "amountDue", i.outstanding::bigint as "amountOutstanding",
               (i.outstanding - n.outstanding)::bigint as "amountOverdue", p.amount::bigint as "amountCollected"
          from (select s.id, (now() at time zone s.timezone)::date as today from (${selectedSchools(scope, { ...filter, schoolIds: ids })}) s) sel
         cross join lateral (${invoices}) i
         cross join lateral (${payments}) p
         cross join lateral (${notDue}) n`.execute(db);
      return result.rows;
    },

    /**
     * One page of the selected schools for bySchool, in the requested order, seeking past
     * the previous page's last row. Largest outstanding first reads one outstanding figure
     * per school (the totals without a range; the day buckets in it, or totals − those
     * outside it, with one); by name reads the schools alone. The page's figures come
     * from schoolFigures.
     */
    async schoolPage(db: DbOrTx, scope: Scope, filter: DashboardFilter, page: SchoolPageQuery): Promise<SchoolPage> {
      const { after, limit } = page;
      let rows: SchoolPage['rows'];
      if (page.sort === 'name') {
        const result = await sql<SchoolPage['rows'][number]>`${PREPARED}
          select sel.id as "schoolId", sel.name as "schoolName", sel.currency, 0::bigint as outstanding
            from (${selectedSchools(scope, filter)}) sel
           where true ${andIf(after, (a) => sql`and (sel.name, sel.id) > (${a.name}, ${a.id}::uuid)`)}
           order by sel.name, sel.id
           limit ${limit + 1}`.execute(db);
        rows = result.rows;
      } else {
        const side = await rangeSide(db, 'invoice_rollups', 'due_date', filter);
        const { grade, from, to } = filter;
        const totals = sql`select school_id, amount_due - amount_paid as outstanding from invoice_totals where grade = ${grade ?? ''}`;
        // Without a grade, a school's due months and edge days (migration 0034); with one, its (grade, day) buckets.
        const buckets = (sign: number, range: Pick<DashboardFilter, 'from' | 'to'>) =>
          grade === undefined
            ? sql`select school_id, ${sign} * (amount_due - amount_paid) as outstanding from school_invoice_sums where ${platformPeriods(range)}`
            : sql`select school_id, ${sign} * (amount_due - amount_paid) as outstanding
                    from invoice_rollups where grade = ${grade} and ${dateRange('due_date', range)}`;
        // Outside [from, to]: before from and after to.
        const outside = [
          ...(from === undefined ? [] : [buckets(-1, { to: addDays(from, -1) })]),
          ...(to === undefined ? [] : [buckets(-1, { from: addDays(to, 1) })]),
        ];
        const source =
          side === 'all' ? totals : side === 'inside' ? buckets(1, { from, to }) : sql.join([totals, ...outside], sql` union all `);
        const result = await sql<SchoolPage['rows'][number]>`${PREPARED}
          select * from (
            select sel.id as "schoolId", sel.name as "schoolName", sel.currency, coalesce(o.outstanding, 0)::bigint as outstanding
              from (${selectedSchools(scope, filter)}) sel
              left join (select school_id, sum(outstanding) as outstanding from (${source}) x group by school_id) o on o.school_id = sel.id
          ) s
           where true ${andIf(after, (a) => sql`and (s.outstanding < ${a.outstanding} or (s.outstanding = ${a.outstanding} and (s."schoolName", s."schoolId") > (${a.name}, ${a.id}::uuid)))`)}
           order by s.outstanding desc, s."schoolName", s."schoolId"
           limit ${limit + 1}`.execute(db);
        rows = result.rows;
      }
      return { rows: rows.slice(0, limit), hasMore: rows.length > limit };
    },

    /**
     * Due, outstanding and overdue, for due dates in [from, to]. Without a range, from
     * invoice_totals: its per-school rows (grade '') for the school and currency
     * figures, its per-grade rows for the grade breakdown. With one, from the day
     * buckets in the range or "totals − buckets outside it" (see `rangeSide`).
     * Overdue = outstanding − outstanding of the buckets not yet due (due on or after
     * the school's local today): those are few, found through invoice_rollups_due_idx.
     */
    async invoiceAggregates(db: DbOrTx, scope: Scope, filter: DashboardFilter): Promise<InvoiceAggregate[]> {
      const side = await rangeSide(db, 'invoice_rollups', 'due_date', filter);
      const grade = filter.grade;
      const totals = (where: RawBuilder<unknown>) => sql`
        select school_id, grade, amount_due, amount_due - amount_paid as outstanding from invoice_totals where ${where}`;
      // `> ''` rather than `<> ''`: the same rows (a grade is never empty), as an index range
      const perGrade = grade === undefined ? sql`grade > ''` : sql`grade = ${grade}`;
      const buckets = (sign: number, where: RawBuilder<unknown>) => sql`
        select school_id, grade, ${sign} * amount_due as amount_due, ${sign} * (amount_due - amount_paid) as outstanding
          from invoice_rollups where ${where} ${andIf(grade, (g) => sql`and grade = ${g}`)}`;
      const ranged =
        side === 'inside' ? buckets(1, dateRange('due_date', filter)) : sql`${totals(perGrade)} union all ${buckets(-1, sql`not (${dateRange('due_date', filter)})`)}`;
      const schoolRows = side === 'all' ? totals(sql`grade = ${grade ?? ''}`) : ranged;
      const gradeRows = side === 'all' ? totals(perGrade) : ranged;
      const sums = sql`sum(b.amount_due)::bigint as "amountDue", sum(b.outstanding)::bigint as "amountOutstanding",
                       (sum(b.outstanding) - sum(b.not_due))::bigint as "amountOverdue"`;
      const result = await sql<InvoiceAggregate>`
        with sel as (
          select s.id, s.currency, (now() at time zone s.timezone)::date as today
            from (${selectedSchools(scope, filter)}) s
        ),
        not_due as (
          select r.school_id, r.grade, r.amount_due - r.amount_paid as outstanding
            from invoice_rollups r
            join sel on sel.id = r.school_id
           where r.due_date >= (select min(today) from sel) and r.due_date >= sel.today and ${dateRange('r.due_date', filter)}
             ${andIf(grade, (g) => sql`and r.grade = ${g}`)}
        ),
        by_school (school_id, amount_due, outstanding, not_due) as (
          select school_id, amount_due, outstanding, 0::bigint from (${schoolRows}) x
          union all
          select school_id, 0, 0, outstanding from not_due
        ),
        by_grade (school_id, grade, amount_due, outstanding, not_due) as (
          select school_id, grade, amount_due, outstanding, 0::bigint from (${gradeRows}) x
          union all
          select school_id, grade, 0, 0, outstanding from not_due
        )
        select 'currency' as level, null as grade, sel.currency, ${sums}
          from by_school b join sel on sel.id = b.school_id group by sel.currency
        union all
        select 'grade', b.grade, sel.currency, ${sums}
          from by_grade b join sel on sel.id = b.school_id group by b.grade, sel.currency`.execute(db);
      return result.rows;
    },

    /**
     * Money received (payments − refunds, and family credit under FAMILY_CREDIT_GRADE:
     * migration 0020) for local days in [from, to]. Without a
     * range, from payment_totals at the level each figure needs (per school: grade and
     * method ''; per grade: method ''; per method: grade ''), the filters picking the
     * level's grade / method. With one, from the finest rows: day buckets in the range,
     * or "totals − buckets outside it".
     */
    async paymentAggregates(db: DbOrTx, scope: Scope, filter: DashboardFilter): Promise<PaymentAggregate[]> {
      const side = await rangeSide(db, 'payment_rollups', 'paid_on', filter);
      const { grade, method } = filter;
      // `> ''` rather than `<> ''`: the same rows, as an index range of payment_totals_*_level_idx
      const anyGrade = grade === undefined ? sql`grade > ''` : sql`grade = ${grade}`;
      const anyMethod = method === undefined ? sql`method > ''` : sql`method = ${method}`;
      const totals = (grades: RawBuilder<unknown>, methods: RawBuilder<unknown>) => sql`
        select school_id, grade, method, payment_count, amount from payment_totals where ${grades} and ${methods}`;
      const buckets = (sign: number, where: RawBuilder<unknown>) => sql`
        select school_id, grade, method, ${sign} * payment_count as payment_count, ${sign} * amount as amount
          from payment_rollups
         where ${where} ${andIf(grade, (g) => sql`and grade = ${g}`)} ${andIf(method, (m) => sql`and method = ${m}`)}`;
      const ranged =
        side === 'inside' ? buckets(1, dateRange('paid_on', filter)) : sql`${totals(anyGrade, anyMethod)} union all ${buckets(-1, sql`not (${dateRange('paid_on', filter)})`)}`;
      const allGrades = sql`grade = ${grade ?? ''}`;
      const allMethods = sql`method = ${method ?? ''}`;
      const schoolRows = side === 'all' ? totals(allGrades, allMethods) : sql`select * from ranged`;
      const gradeRows = side === 'all' ? totals(anyGrade, allMethods) : sql`select * from ranged`;
      const methodRows = side === 'all' ? totals(allGrades, anyMethod) : sql`select * from ranged`;
      const sums = sql`sum(b.amount)::bigint as amount, sum(b.payment_count)::bigint as count`;
      const result = await sql<PaymentAggregate>`
        with sel as (${selectedSchools(scope, filter)}),
        ranged as (${side === 'all' ? sql`select null::uuid as school_id where false` : ranged}),
        by_school as (${schoolRows}),
        by_grade as (${gradeRows}),
        by_method as (${methodRows})
        select 'currency' as level, null as grade, null as method, sel.currency, ${sums}
          from by_school b join sel on sel.id = b.school_id group by sel.currency
        union all
        select 'grade', b.grade, null, sel.currency, ${sums}
          from by_grade b join sel on sel.id = b.school_id group by b.grade, sel.currency
        union all
        select 'method', null, b.method, sel.currency, ${sums}
          from by_method b join sel on sel.id = b.school_id group by b.method, sel.currency`.execute(db);
      return result.rows;
    },

    /**
     * The oldest-due invoices that still owe money (status PENDING, PARTIAL or OVERDUE),
     * in (due_date, id) order — the order of invoices_outstanding_idx /
     * invoices_school_outstanding_idx, whose predicate this query repeats so the planner
     * can walk them and stop after a few rows.
     */
    async outstandingSample(db: DbOrTx, scope: Scope, filter: DashboardFilter): Promise<OutstandingInvoice[]> {
      const rows = await db
        .selectFrom('invoices')
        .modifyFront(PREPARED)
        .innerJoin('schools', 'schools.id', 'invoices.school_id')
        .innerJoin('students', (join) =>
          join.onRef('students.id', '=', 'invoices.student_id').onRef('students.school_id', '=', 'invoices.school_id'),
        )
        .select([
          'invoices.id as invoiceId',
          'invoices.number',
          'schools.id as schoolId',
          'schools.name as schoolName',
          'students.id as studentId',
          'students.first_name as firstName',
          'students.last_name as lastName',
          'students.grade',
          'invoices.due_date as dueDate',
          'invoices.amount',
          sql<number>`invoices.amount - invoices.paid_amount`.as('pendingAmount'),
          'schools.currency',
          statusOf.as('status'),
        ])
        .where(isOutstanding)
        .where('schools.deleted_at', 'is', null)
        .where('students.deleted_at', 'is', null)
        .where((eb) => inScope(eb, 'invoices.school_id', scope))
        .$if(filter.schoolId !== undefined, (qb) => qb.where('invoices.school_id', '=', filter.schoolId ?? ''))
        .$if(filter.grade !== undefined, (qb) => qb.where('students.grade', '=', filter.grade ?? ''))
        .$if(filter.from !== undefined, (qb) => qb.where('invoices.due_date', '>=', filter.from ?? ''))
        .$if(filter.to !== undefined, (qb) => qb.where('invoices.due_date', '<=', filter.to ?? ''))
        .orderBy('invoices.due_date')
        .orderBy('invoices.id')
        // A literal, not a parameter: the prepared statement's generic plan then walks the index as the custom one does.
        .limit(sql.lit(OUTSTANDING_SAMPLE_SIZE))
        .execute();
      return rows.map(({ firstName, lastName, status, ...row }) => ({
        invoiceId: row.invoiceId,
        number: row.number,
        schoolId: row.schoolId,
        schoolName: row.schoolName,
        studentId: row.studentId,
        studentName: studentName(firstName, lastName, scope),
        grade: row.grade,
        dueDate: row.dueDate,
        amount: row.amount,
        pendingAmount: row.pendingAmount,
        currency: row.currency,
        status: status as OutstandingInvoice['status'],
      }));
    },
  };
}

export type DashboardRepository = ReturnType<typeof createDashboardRepository>;
