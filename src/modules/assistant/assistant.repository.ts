import { sql } from 'kysely';
import type { DbOrTx } from '../../db/database.js';
import { inScope, type Scope } from '../../shared/scope.js';
import { isOutstanding, statusOf } from '../billing/invoices.repository.js';
import { STUDENT_IDENTITY_COLUMNS, type StudentIdentity } from '../billing/students.repository.js';
import { fold } from './intents.js';
import type { BillHistory } from './risk.js';

/**
 * The assistant's SQL. Every query passes its school_id column through `inScope`, so a
 * question can only ever reach the caller's schools; out-of-scope rows are
 * indistinguishable from missing ones. Names come back raw: the service masks them per
 * role before anything leaves the module (or reaches a model), and keeps the raw ones
 * only to check generated text for leaks.
 *
 * Status is the billing module's one definition (`statusOf` → invoice_status), so
 * "overdue" is evaluated in each school's time zone. Soft-deleted schools and students
 * are left out, as in the reports.
 */
export interface StudentRef extends StudentIdentity {
  timezone: string;
  enrolledAt: string;
  today: string;
}

export interface DebtorRow extends StudentIdentity {
  balance: number;
  overdue: number;
  openBills: number;
  overdueBills: number;
  oldestOverdueDueDate: string | null;
}

export interface SchoolRef {
  schoolId: string;
  schoolName: string;
  currency: string;
  timezone: string;
}

const ACCENTED = 'áàâäãéèêëíìîïóòôöõúùûüñç';
const PLAIN = 'aaaaaeeeeiiiiooooouuuunc';
/** The student's "first last" name in lower case without accents, matching intents.fold() for these letters. */
const foldedName = sql`translate(lower(students.first_name || ' ' || students.last_name), ${ACCENTED}, ${PLAIN})`;

/** Open (not cancelled, not fully paid) invoices of live students of live, visible schools. */
function openBalances(db: DbOrTx, scope: Scope) {
  return db
    .selectFrom('invoices')
    .innerJoin('schools', 'schools.id', 'invoices.school_id')
    .innerJoin('students', (join) => join.onRef('students.id', '=', 'invoices.student_id').onRef('students.school_id', '=', 'invoices.school_id'))
    .select([
      ...STUDENT_IDENTITY_COLUMNS,
      sql<number>`sum(invoices.amount - invoices.paid_amount)`.as('balance'),
      sql<number>`coalesce(sum(invoices.amount - invoices.paid_amount) filter (where ${statusOf} = 'OVERDUE'), 0)`.as('overdue'),
      sql<number>`count(*)`.as('openBills'),
      sql<number>`count(*) filter (where ${statusOf} = 'OVERDUE')`.as('overdueBills'),
      sql<string | null>`min(invoices.due_date) filter (where ${statusOf} = 'OVERDUE')`.as('oldestOverdueDueDate'),
    ])
    .where(isOutstanding)
    .where('schools.deleted_at', 'is', null)
    .where('students.deleted_at', 'is', null)
    .where((eb) => inScope(eb, 'invoices.school_id', scope))
    .groupBy(['students.id', 'schools.id']);
}

/** Live students of live schools the caller may see, as StudentRef (with the school's local date). */
function visibleStudents(db: DbOrTx, scope: Scope) {
  return db
    .selectFrom('students')
    .innerJoin('schools', 'schools.id', 'students.school_id')
    .select([
      ...STUDENT_IDENTITY_COLUMNS,
      'schools.timezone',
      'students.enrolled_at as enrolledAt',
      sql<string>`to_char((now() at time zone schools.timezone)::date, 'YYYY-MM-DD')`.as('today'),
    ])
    .where('students.deleted_at', 'is', null)
    .where('schools.deleted_at', 'is', null)
    .where((eb) => inScope(eb, 'students.school_id', scope));
}

export function createAssistantRepository() {
  return {
    /** One visible, live student with school currency, zone and today's local date; undefined otherwise. */
    async findStudent(db: DbOrTx, scope: Scope, studentId: string): Promise<StudentRef | undefined> {
      return visibleStudents(db, scope).where('students.id', '=', studentId).executeTakeFirst();
    },

    /**
     * A student's non-cancelled bills, oldest due first (at most the latest 240 — twenty
     * years of monthly fees), with status and the school-local day of the payment that
     * completed each fully paid bill: the first payment, in paid_at order, at which the
     * running sum of payments reached the amount (refunds do not move that day back).
     */
    async billHistory(db: DbOrTx, scope: Scope, studentId: string): Promise<BillHistory[]> {
      const rows = await db
        .selectFrom('invoices')
        .innerJoin('schools', 'schools.id', 'invoices.school_id')
        .select([
          'invoices.id as invoiceId',
          'invoices.number',
          'invoices.amount',
          'invoices.paid_amount as paidAmount',
          'invoices.due_date as dueDate',
          statusOf.as('status'),
          sql<string | null>`case when invoices.paid_amount >= invoices.amount then (
            select to_char((running.paid_at at time zone schools.timezone)::date, 'YYYY-MM-DD')
            from (
              select payments.paid_at, sum(payments.amount) over (order by payments.paid_at, payments.id) as total
              from payments
              where payments.invoice_id = invoices.id and payments.school_id = invoices.school_id
            ) running
            where running.total >= invoices.amount
            order by running.paid_at
            limit 1
          ) end`.as('settledOn'),
        ])
        .where('invoices.student_id', '=', studentId)
        .where('invoices.cancelled_at', 'is', null)
        .where('schools.deleted_at', 'is', null)
        .where((eb) => inScope(eb, 'invoices.school_id', scope))
        .orderBy('invoices.due_date', 'desc')
        .orderBy('invoices.id', 'desc')
        .limit(240)
        .execute();
      return rows.reverse().map((row) => ({ ...row, status: row.status as BillHistory['status'] }));
    },

    /** Open bills of one student, oldest due first (for collection messages). */
    async openBills(db: DbOrTx, scope: Scope, studentId: string) {
      return db
        .selectFrom('invoices')
        .innerJoin('schools', 'schools.id', 'invoices.school_id')
        .select([
          'invoices.number',
          'invoices.due_date as dueDate',
          sql<number>`invoices.amount - invoices.paid_amount`.as('pending'),
          sql<boolean>`${statusOf} = 'OVERDUE'`.as('overdue'),
        ])
        .where('invoices.student_id', '=', studentId)
        .where(isOutstanding)
        .where('schools.deleted_at', 'is', null)
        .where((eb) => inScope(eb, 'invoices.school_id', scope))
        .orderBy('invoices.due_date')
        .orderBy('invoices.id')
        .limit(200)
        .execute();
    },

    /**
     * Students whose "first last" name contains every word of `query`, ignoring case and
     * the usual Spanish/Portuguese/French accents on both sides ("diaz" finds "Díaz"),
     * at most `limit`.
     */
    async searchStudentsByName(db: DbOrTx, scope: Scope, query: string, limit: number): Promise<(StudentRef & { balance: number })[]> {
      const words = fold(query)
        .split(/\s+/)
        .map((word) => word.replace(/[%_\\]/g, ''))
        .filter((word) => word.length > 0)
        .slice(0, 5);
      if (words.length === 0) {
        return [];
      }
      return visibleStudents(db, scope)
        .select(
          sql<number>`coalesce((select sum(i.amount - i.paid_amount) from invoices i
            where i.student_id = students.id and i.school_id = students.school_id and i.cancelled_at is null), 0)`.as('balance'),
        )
        .where((eb) => eb.and(words.map((word) => eb(sql<string>`${foldedName}`, 'like', `%${word}%`))))
        .orderBy('students.last_name')
        .orderBy('students.first_name')
        .orderBy('students.id')
        .limit(limit)
        .execute();
    },

    /** Visible live schools whose name contains `query` (ILIKE), shortest name first. */
    async findSchoolsByName(db: DbOrTx, scope: Scope, query: string, limit = 5): Promise<SchoolRef[]> {
      const pattern = `%${query.replace(/[%_\\]/g, '')}%`;
      return db
        .selectFrom('schools')
        .select(['schools.id as schoolId', 'schools.name as schoolName', 'schools.currency', 'schools.timezone'])
        .where('schools.deleted_at', 'is', null)
        .where((eb) => inScope(eb, 'schools.id', scope))
        .where('schools.name', 'ilike', pattern)
        .orderBy(sql`length(schools.name)`)
        .orderBy('schools.name')
        .limit(limit)
        .execute();
    },

    /** The visible live schools (at most `limit`, by name), with currency and zone. */
    async visibleSchools(db: DbOrTx, scope: Scope, limit = 1000): Promise<SchoolRef[]> {
      return db
        .selectFrom('schools')
        .select(['schools.id as schoolId', 'schools.name as schoolName', 'schools.currency', 'schools.timezone'])
        .where('schools.deleted_at', 'is', null)
        .where((eb) => inScope(eb, 'schools.id', scope))
        .orderBy('schools.name')
        .limit(limit)
        .execute();
    },

    /**
     * Names of schools the caller may NOT see (at most 5000), for the output guard of
     * assigned-school roles: generated text must never name one. Empty for 'all' scopes.
     */
    async schoolNamesOutside(db: DbOrTx, scope: Scope): Promise<string[]> {
      if (scope.schoolIds === 'all') {
        return [];
      }
      const ids = [...scope.schoolIds];
      const rows = await db
        .selectFrom('schools')
        .select('schools.name')
        .$if(ids.length > 0, (qb) => qb.where('schools.id', 'not in', ids))
        .limit(5000)
        .execute();
      return rows.map((row) => row.name);
    },

    /**
     * The `limit` largest open balances per currency (money is never ranked across
     * currencies), optionally in one school, largest first.
     */
    async topDebtors(db: DbOrTx, scope: Scope, options: { limit: number; schoolId?: string }): Promise<DebtorRow[]> {
      const ranked = openBalances(db, scope)
        .$if(options.schoolId !== undefined, (qb) => qb.where('invoices.school_id', '=', options.schoolId ?? ''))
        .select(sql<number>`row_number() over (partition by schools.currency order by sum(invoices.amount - invoices.paid_amount) desc, students.id)`.as('rank'));
      return db
        .selectFrom(ranked.as('ranked'))
        .selectAll()
        .where('ranked.rank', '<=', options.limit)
        .orderBy('ranked.currency')
        .orderBy('ranked.rank')
        .execute()
        .then((rows) => rows.map(({ rank: _rank, ...row }) => row));
    },

    /** Students with an overdue balance in one school, largest overdue first, and the totals over all of them. */
    async overdueInSchool(db: DbOrTx, scope: Scope, schoolId: string, limit: number) {
      const rows = await db
        .selectFrom(openBalances(db, scope).where('invoices.school_id', '=', schoolId).as('open'))
        .selectAll()
        // Totals over every overdue student, not only the page shown.
        .select([
          sql<number>`count(*) over ()`.as('studentCount'),
          sql<number>`sum(open.overdue) over ()`.as('overdueTotal'),
          sql<number>`sum(open."overdueBills") over ()`.as('overdueBillsTotal'),
        ])
        .where('open.overdue', '>', 0)
        .orderBy('open.overdue', 'desc')
        .orderBy('open.studentId')
        .limit(limit)
        .execute();
      const first = rows[0];
      return {
        students: rows.map(({ studentCount: _c, overdueTotal: _t, overdueBillsTotal: _b, ...row }) => row),
        studentCount: first?.studentCount ?? 0,
        overdueAmount: first?.overdueTotal ?? 0,
        overdueBills: first?.overdueBillsTotal ?? 0,
      };
    },

    /** The students with the largest overdue balances per currency (executive summary candidates). */
    async topOverdue(db: DbOrTx, scope: Scope, limit: number, schoolId?: string): Promise<DebtorRow[]> {
      const ranked = openBalances(db, scope)
        .$if(schoolId !== undefined, (qb) => qb.where('invoices.school_id', '=', schoolId ?? ''))
        .select(
        sql<number>`row_number() over (partition by schools.currency order by coalesce(sum(invoices.amount - invoices.paid_amount) filter (where ${statusOf} = 'OVERDUE'), 0) desc, students.id)`.as('rank'),
      );
      const rows = await db.selectFrom(ranked.as('ranked')).selectAll().where('ranked.rank', '<=', limit).where('ranked.overdue', '>', 0).orderBy('ranked.overdue', 'desc').execute();
      return rows.map(({ rank: _rank, ...row }) => row);
    },
  };
}

export type AssistantRepository = ReturnType<typeof createAssistantRepository>;
