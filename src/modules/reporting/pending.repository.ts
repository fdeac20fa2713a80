import { sql, type CompiledQuery, type Expression, type QueryCreator, type RawBuilder, type SelectQueryBuilder, type SqlBool } from 'kysely';
import type { DbOrTx } from '../../db/database.js';
import type { DB } from '../../db/types.js';
import { csvText, startsFormula } from '../../shared/sql.js';
import { INVOICE_STATUS_LABELS, type Language } from '../../shared/locale.js';
import { currenciesWithOtherDigits, DEFAULT_CURRENCY_DIGITS } from '../../shared/money.js';
import { inScope, inScopeSql, type Scope } from '../../shared/scope.js';
import { isOutstanding, statusOf, statusOn } from '../billing/invoices.repository.js';
import { studentName } from '../billing/students.repository.js';
import type { CsvExportPlan } from './export.js';
import { PENDING_PEOPLE_HEADERS, type OutstandingStatus, type PendingRow } from './pending.schemas.js';

/**
 * The SQL of the outstanding-payments queue and its export.
 *
 *  - Outstanding = isOutstanding (`cancelled_at is null and paid_amount < amount`), the
 *    predicate of the partial indexes invoices_outstanding_idx (due_date, id) and
 *    invoices_school_outstanding_idx (school_id, due_date, id), so the planner can use
 *    them; the order (due_date, id) is the index order and the keyset
 *    `(due_date, id) > cursor` makes every page, first or very deep, an index range scan
 *    that stops after limit + 1 rows.
 *  - Status comes from the one definition, invoice_status (statusOf). A status filter
 *    also adds a redundant, sargable bound on due_date that holds in every time zone
 *    (UTC−12 … UTC+14): OVERDUE implies due_date < today in the zone furthest ahead,
 *    PENDING/PARTIAL imply due_date ≥ today in the zone furthest behind. Filtering by
 *    status therefore narrows the index range instead of filtering a walk over it.
 *  - Tenant scope through `inScope`; soft-deleted schools and students are left out
 *    (as in every billing report); names are masked for roles with masked PII (in JS
 *    for the queue's pages, in the statement itself for the export).
 */

/** The zones whose calendars are furthest ahead (UTC+14) and behind (UTC−12). */
const ZONE_FURTHEST_AHEAD = 'Pacific/Kiritimati';
const ZONE_FURTHEST_BEHIND = 'Etc/GMT+12';

export interface PendingFilter {
  schoolId?: string;
  grade?: string;
  status?: OutstandingStatus;
  minAmount?: number;
}

/** A row as read from the database, before masking. */
interface RawPendingRow extends Omit<PendingRow, 'studentName'> {
  firstName: string;
  lastName: string;
}

const pendingAmountOf = sql<number>`(invoices.amount - invoices.paid_amount)`;
/** Cash paid (paid_amount also counts credit notes and write-offs, migration 0014); credited is those. */
const paidAmountOf = sql<number>`(invoices.paid_amount - invoices.credited_amount)`;
/** Whole days past due in the school's calendar; 0 when not (yet) overdue, exactly when status is not OVERDUE. */
const daysOverdueOf = sql<number>`greatest(0, (now() at time zone schools.timezone)::date - invoices.due_date)`;

/** The outstanding invoices the caller may see that match the filter, without columns or order. */
function matching(db: QueryCreator<DB>, scope: Scope, filter: PendingFilter) {
  const status = filter.status;
  return db
    .selectFrom('invoices')
    .innerJoin('schools', 'schools.id', 'invoices.school_id')
    // One join key: the composite foreign key invoices (school_id, student_id) →
    // students (school_id, id) already makes the student's school the invoice's.
    .innerJoin('students', 'students.id', 'invoices.student_id')
    .where(isOutstanding)
    .where('schools.deleted_at', 'is', null)
    .where('students.deleted_at', 'is', null)
    .where((eb) => inScope(eb, 'invoices.school_id', scope))
    .$if(filter.schoolId !== undefined, (qb) => qb.where('invoices.school_id', '=', filter.schoolId ?? ''))
    .$if(filter.grade !== undefined, (qb) => qb.where('students.grade', '=', filter.grade ?? ''))
    .$if(status !== undefined, (qb) =>
      qb
        .where(statusOf, '=', status ?? 'PENDING')
        .where(
          status === 'OVERDUE'
            ? sql<boolean>`invoices.due_date < (now() at time zone ${sql.lit(ZONE_FURTHEST_AHEAD)})::date`
            : sql<boolean>`invoices.due_date >= (now() at time zone ${sql.lit(ZONE_FURTHEST_BEHIND)})::date`,
        ),
    )
    .$if(filter.minAmount !== undefined, (qb) => qb.where(pendingAmountOf, '>=', filter.minAmount ?? 0));
}

/** The queue's rows in (due_date, id) order, optionally after a key. */
function rowsQuery(db: DbOrTx, scope: Scope, filter: PendingFilter, after?: { dueDate: string; invoiceId: string }) {
  return matching(db, scope, filter)
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
      paidAmountOf.as('paidAmount'),
      'invoices.credited_amount as creditedAmount',
      pendingAmountOf.as('pendingAmount'),
      'schools.currency',
      sql<OutstandingStatus>`${statusOf}`.as('status'),
      daysOverdueOf.as('daysOverdue'),
    ])
    .$if(after !== undefined, (qb) =>
      qb.where(sql<boolean>`(invoices.due_date, invoices.id) > (${after?.dueDate}::date, ${after?.invoiceId}::uuid)`),
    )
    .orderBy('invoices.due_date')
    .orderBy('invoices.id');
}

/** Masks the student's name per the caller's PII visibility and fixes the column order. */
export function toPendingRow(raw: RawPendingRow, scope: Scope): PendingRow {
  return {
    invoiceId: raw.invoiceId,
    number: raw.number,
    schoolId: raw.schoolId,
    schoolName: raw.schoolName,
    studentId: raw.studentId,
    studentName: studentName(raw.firstName, raw.lastName, scope),
    grade: raw.grade,
    dueDate: raw.dueDate,
    amount: raw.amount,
    paidAmount: raw.paidAmount,
    creditedAmount: raw.creditedAmount,
    pendingAmount: raw.pendingAmount,
    currency: raw.currency,
    status: raw.status,
    daysOverdue: raw.daysOverdue,
  };
}

/**
 * The first letter or digit of a name part (maskName's `\p{L}|\p{N}`; under the
 * cluster's builtin C.UTF-8 locale `[:alpha:]` is Unicode-aware).
 */
const INITIAL = sql.lit('[[:alpha:][:digit:]]');

/** The student's name as the caller may see it: "first last", or maskName's initials ("J. P."; '' when neither part has a letter). */
function studentNameOf(scope: Scope): RawBuilder<string> {
  if (scope.pii === 'clear') {
    return sql<string>`(students.first_name || ' ' || students.last_name)`;
  }
  const initial = (part: RawBuilder<string>) => sql<string>`(upper(substring(${part} from ${INITIAL})) || '.')`;
  // concat_ws skips the NULL of a part without a letter, as maskName's filter(Boolean) does.
  return sql<string>`concat_ws(' ', ${initial(sql`students.first_name`)}, ${initial(sql`students.last_name`)})`;
}

/** A free-text cell of the export: neutralised for a CSV, as it is for XLSX (a string cell is never a formula). */
const textCell = (value: RawBuilder<string>, csv: boolean): RawBuilder<string> => (csv ? csvText(value) : value);

/** The caller's schools, narrowed to the export's school filter: what each of its CTEs holds, by its school id column. */
function inExportSchools(column: 'schools.id' | 'students.school_id', scope: Scope, filter: PendingFilter): Expression<SqlBool> {
  const ref = sql.ref(column);
  return filter.schoolId === undefined ? inScopeSql(column, scope) : sql<SqlBool>`(${inScopeSql(column, scope)} and ${ref} = ${filter.schoolId})`;
}

/**
 * The export reads `schools` and `students` through CTEs of the same names, so that
 * matching() (its joins and filters, the one definition of the queue) stays as it is
 * while every cell that depends only on the school or the student is computed once per
 * school or student instead of once per invoice: the school's name cell and local date
 * (one time-zone conversion per school), the student's (masked) name and grade cells.
 * `offset 0` keeps PostgreSQL from merging a CTE back into the join, which would
 * compute its columns for every joined row again. Each CTE holds only the caller's
 * schools (and the school filter), so a small export computes only what it may read;
 * matching() still applies every condition itself.
 */
function exportSources(db: DbOrTx, scope: Scope, filter: PendingFilter, csv: boolean, people = false) {
  let studentName = studentNameOf(scope);
  if (csv) {
    studentName =
      scope.pii === 'clear'
        ? // "first last" starts with first_name (never empty): only its first character decides.
          sql<string>`(case when ${startsFormula(sql`students.first_name`)} then '''' else '' end || ${studentName})`
        : // Initials start with a letter or digit, never a formula; none at all is ''.
          sql<string>`nullif(${studentName}, '')`;
  }
  return db
    .with('schools', (qb) =>
      qb
        .selectFrom('schools')
        .where(inExportSchools('schools.id', scope, filter))
        .select([
          'schools.id',
          'schools.deleted_at',
          'schools.timezone',
          'schools.currency',
          textCell(sql<string>`schools.name`, csv).as('name_cell'),
          sql<string>`(now() at time zone schools.timezone)::date`.as('today'),
          ...(people ? [currencyUnit.as('unit')] : []),
        ])
        .offset(0),
    )
    .with('students', (qb) =>
      qb
        .selectFrom('students')
        .where(inExportSchools('students.school_id', scope, filter))
        .select([
          'students.id',
          'students.deleted_at',
          'students.grade',
          studentName.as('name_cell'),
          textCell(sql<string>`students.grade`, csv).as('grade_cell'),
        ])
        .offset(0),
    );
}

/**
 * The export's rows, PENDING_COLUMNS in order, masking in the statement. With `csv`,
 * the free-text columns (number, schoolName, studentName, grade) are neutralised;
 * ids, dates, status and the currency code cannot start a formula (uuid, date,
 * enum, `^[A-Z]{3}$`), and the amounts stay numbers.
 */
function exportSelect(db: DbOrTx, scope: Scope, filter: PendingFilter, csv: boolean) {
  const today = sql<string>`schools.today`;
  // The CTEs carry every column of schools and students that matching() reads (tests
  // run every filter through the export); the cells are read by name below.
  const sources = exportSources(db, scope, filter, csv) as unknown as QueryCreator<DB>;
  return matching(sources, scope, filter)
    .select([
      'invoices.id as invoiceId',
      textCell(sql<string>`invoices.number`, csv).as('number'),
      'schools.id as schoolId',
      sql<string>`schools.name_cell`.as('schoolName'),
      'students.id as studentId',
      sql<string>`students.name_cell`.as('studentName'),
      sql<string>`students.grade_cell`.as('grade'),
      'invoices.due_date as dueDate',
      'invoices.amount',
      paidAmountOf.as('paidAmount'),
      'invoices.credited_amount as creditedAmount',
      pendingAmountOf.as('pendingAmount'),
      'schools.currency',
      sql<OutstandingStatus>`${statusOn(today)}`.as('status'),
      sql<number>`greatest(0, ${today} - invoices.due_date)`.as('daysOverdue'),
    ])
    .orderBy('invoices.due_date')
    .orderBy('invoices.id');
}

/**
 * One minor unit of the school's currency as a numeric with exactly the currency's
 * digits (0.01 for MXN, COP, USD; 1 for JPY; 0.001 for KWD), computed once per school
 * in the export's schools CTE: `amount * unit` is then the amount in currency units
 * with those digits (numeric multiplication adds the scales: bigint × 0.01 prints as
 * 4500.00), the decimal text a spreadsheet in any locale reads as a number. The table
 * is shared/money.ts's.
 */
const currencyUnit = (() => {
  const unitOf = (digits: number) => sql.raw(digits === 0 ? '1::numeric' : `0.${'0'.repeat(digits - 1)}1`);
  const byDigits = new Map<number, string[]>();
  for (const [currency, digits] of currenciesWithOtherDigits()) {
    byDigits.set(digits, [...(byDigits.get(digits) ?? []), currency]);
  }
  const branches = [...byDigits].map(
    ([digits, codes]) => sql`when schools.currency in (${sql.join(codes.map((code) => sql.lit(code)))}) then ${unitOf(digits)}`,
  );
  return sql<string>`(case ${sql.join(branches, sql` `)} else ${unitOf(DEFAULT_CURRENCY_DIGITS)} end)`;
})();

/**
 * The export for people as COPY writes it (`style=people`): PENDING_PEOPLE_COLUMNS in
 * order, headed by their words in `language` (the column aliases are COPY's header
 * row); text cells neutralised as in the raw CSV; amounts in currency units
 * (currencyUnit); the status in words; no ids. The same CTEs, joins, filters, masking
 * and order as the raw export (exportSources, matching).
 */
function exportPeopleSelect(db: DbOrTx, scope: Scope, filter: PendingFilter, language: Language) {
  const today = sql<string>`schools.today`;
  const sources = exportSources(db, scope, filter, true, true) as unknown as QueryCreator<DB>;
  const header = (column: keyof typeof PENDING_PEOPLE_HEADERS) => PENDING_PEOPLE_HEADERS[column][language];
  const unit = sql`schools.unit`;
  const words = (Object.keys(INVOICE_STATUS_LABELS) as (keyof typeof INVOICE_STATUS_LABELS)[]).map(
    (status) => sql`when ${sql.lit(status)} then ${sql.lit(INVOICE_STATUS_LABELS[status][language])}`,
  );
  return matching(sources, scope, filter)
    .select([
      textCell(sql<string>`invoices.number`, true).as(header('number')),
      sql<string>`schools.name_cell`.as(header('schoolName')),
      sql<string>`students.name_cell`.as(header('studentName')),
      sql<string>`students.grade_cell`.as(header('grade')),
      sql<string>`invoices.due_date`.as(header('dueDate')),
      sql<string>`(invoices.amount * ${unit})`.as(header('amount')),
      sql<string>`(${paidAmountOf} * ${unit})`.as(header('paidAmount')),
      sql<string>`(invoices.credited_amount * ${unit})`.as(header('creditedAmount')),
      sql<string>`(${pendingAmountOf} * ${unit})`.as(header('pendingAmount')),
      sql<string>`schools.currency`.as(header('currency')),
      sql<string>`(case ${statusOn(today)} ${sql.join(words, sql` `)} end)`.as(header('status')),
      sql<number>`greatest(0, ${today} - invoices.due_date)`.as(header('daysOverdue')),
    ])
    .orderBy('invoices.due_date')
    .orderBy('invoices.id');
}

/**
 * A due date that cuts the outstanding invoices in two parts for the export: midway
 * between the earliest and the latest due date, two probes of invoices_outstanding_idx.
 * Any date gives a correct export; an uneven or empty part (a filter may leave one) only
 * makes it less parallel. Null when every outstanding invoice is due the same day (or
 * none is).
 */
function splitProbe(db: DbOrTx): CompiledQuery<{ split: string | null }> {
  return db
    .selectFrom('invoices')
    .where(isOutstanding)
    .select(
      sql<string | null>`case when min(due_date) < max(due_date) then (min(due_date) + (max(due_date) - min(due_date) + 1) / 2)::text end`.as('split'),
    )
    .compile();
}

export function createPendingRepository() {
  return {
    /** The export's school filter as the caller may see it (name and zone for the file's name and date); undefined when not visible. */
    exportSchool(db: DbOrTx, scope: Scope, schoolId: string): Promise<{ name: string; timezone: string } | undefined> {
      return db
        .selectFrom('schools')
        .select(['schools.name', 'schools.timezone'])
        .where('schools.id', '=', schoolId)
        .where('schools.deleted_at', 'is', null)
        .where((eb) => inScope(eb, 'schools.id', scope))
        .executeTakeFirst();
    },

    /** One keyset page: limit + 1 rows (the extra one only says another page exists). */
    async page(
      db: DbOrTx,
      scope: Scope,
      filter: PendingFilter & { limit: number; after?: { dueDate: string; invoiceId: string } },
    ): Promise<PendingRow[]> {
      const rows = await rowsQuery(db, scope, filter, filter.after)
        .limit(filter.limit + 1)
        .execute();
      return rows.map((row) => toPendingRow(row, scope));
    },

    /** The exact number of matching rows (same predicate as the pages, no order, no columns). */
    async count(db: DbOrTx, scope: Scope, filter: PendingFilter): Promise<number> {
      const row = await matching(db, scope, filter).select(sql<number>`count(*)`.as('total')).executeTakeFirstOrThrow();
      return row.total;
    },

    /**
     * The export's statement for the server-side cursor (XLSX): every matching row in
     * queue order, already in PendingRow shape; the student's name is masked by the
     * statement itself (see exportSelect).
     */
    exportQuery(db: DbOrTx, scope: Scope, filter: PendingFilter): CompiledQuery<PendingRow> {
      return exportSelect(db, scope, filter, false).compile();
    },

    /**
     * The same rows as `exportQuery`, for `COPY (…) TO STDOUT WITH (FORMAT csv, HEADER
     * true)`: the column names are the CSV header, text cells are neutralised against
     * formula injection by the statement (the rule of shared/csv.ts) and numbers are
     * left as they are (csv.ts only neutralises strings; a number is never evaluated).
     * With `split`, the export may be cut in two parts at a due date (splitProbe): due
     * before it, and due on or after it; their rows one after the other are the whole
     * statement's, in the same order. With `people`, the rows are the export for
     * people in that language (exportPeopleSelect) instead of the API's shape.
     */
    exportCsvPlan(db: DbOrTx, scope: Scope, filter: PendingFilter, options: { split: boolean; people?: { language: Language } }): CsvExportPlan {
      const all: SelectQueryBuilder<DB, 'invoices' | 'schools' | 'students', object> =
        options.people === undefined ? exportSelect(db, scope, filter, true) : exportPeopleSelect(db, scope, filter, options.people.language);
      return {
        whole: all.compile(),
        ...(options.split
          ? {
              split: {
                probe: splitProbe(db),
                parts: (split: string) => [
                  all.where('invoices.due_date', '<', split).compile(),
                  all.where('invoices.due_date', '>=', split).compile(),
                ],
              },
            }
          : {}),
      };
    },
  };
}

export type PendingRepository = ReturnType<typeof createPendingRepository>;
