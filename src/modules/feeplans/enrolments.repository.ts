import { sql } from 'kysely';
import type { DbOrTx } from '../../db/database.js';
import { inScope, type Scope } from '../../shared/scope.js';

export interface EnrolmentRow {
  id: string;
  schoolId: string;
  studentId: string;
  feePlanId: string;
  feePlanName: string;
  from: string;
  to: string | null;
  optionalItems: string[];
  payers: { guardianId: string; share: number }[];
  createdAt: Date;
  updatedAt: Date;
}

/** What an enrolment check needs of a student (the billing student row has no family). */
export interface StudentForEnrolment {
  id: string;
  schoolId: string;
  familyId: string | null;
  isActive: boolean;
}

/** An invoice an enrolment billed, as a withdrawal sees it. */
export interface BilledInvoice {
  id: string;
  dueDate: string;
  paidAmount: number;
  /** True when some line of the invoice bills another enrolment (the student's other plan, due the same day). */
  shared: boolean;
}

/**
 * `[from, to]` of an enrolment overlaps `[from, to]` of the request (null `to` = open),
 * as daterange overlap of inclusive ranges.
 */
const overlaps = (from: string, to: string | null) =>
  sql<boolean>`daterange(enrolments.from_date, enrolments.to_date, '[]') && daterange(${from}::date, ${to}::date, '[]')`;

/**
 * Enrolments of students in fee plans and their payers. Reads are scoped; writes
 * assume the service checked the student and the plan in the same transaction.
 */
export function createEnrolmentsRepository() {
  const visible = (db: DbOrTx, scope: Scope) =>
    db
      .selectFrom('enrolments')
      .innerJoin('fee_plans', (join) => join.onRef('fee_plans.school_id', '=', 'enrolments.school_id').onRef('fee_plans.id', '=', 'enrolments.fee_plan_id'))
      .innerJoin('students', (join) => join.onRef('students.school_id', '=', 'enrolments.school_id').onRef('students.id', '=', 'enrolments.student_id'))
      .innerJoin('schools', 'schools.id', 'enrolments.school_id')
      .select([
        'enrolments.id',
        'enrolments.school_id as schoolId',
        'enrolments.student_id as studentId',
        'enrolments.fee_plan_id as feePlanId',
        'fee_plans.name as feePlanName',
        'enrolments.from_date as from',
        'enrolments.to_date as to',
        'enrolments.optional_items as optionalItems',
        'enrolments.created_at as createdAt',
        'enrolments.updated_at as updatedAt',
      ])
      .where('students.deleted_at', 'is', null)
      .where('schools.deleted_at', 'is', null)
      .where((eb) => inScope(eb, 'enrolments.school_id', scope));

  async function withPayers(db: DbOrTx, rows: Omit<EnrolmentRow, 'payers'>[]): Promise<EnrolmentRow[]> {
    if (rows.length === 0) {
      return [];
    }
    const payers = await db
      .selectFrom('enrolment_payers')
      .select(['enrolment_id as enrolmentId', 'guardian_id as guardianId', 'share'])
      .where('school_id', 'in', [...new Set(rows.map((r) => r.schoolId))])
      .where('enrolment_id', 'in', rows.map((r) => r.id))
      .orderBy('enrolment_id')
      .orderBy('position')
      .execute();
    const byEnrolment = new Map<string, EnrolmentRow['payers']>();
    for (const payer of payers) {
      byEnrolment.set(payer.enrolmentId, [...(byEnrolment.get(payer.enrolmentId) ?? []), { guardianId: payer.guardianId, share: Number(payer.share) }]);
    }
    return rows.map((row) => ({ ...row, payers: byEnrolment.get(row.id) ?? [] }));
  }

  return {
    /** The student, if the caller sees it, with its family; `forUpdate` locks its row. */
    async findStudent(db: DbOrTx, scope: Scope, id: string): Promise<StudentForEnrolment | undefined> {
      return db
        .selectFrom('students')
        .innerJoin('schools', 'schools.id', 'students.school_id')
        .select(['students.id', 'students.school_id as schoolId', 'students.family_id as familyId', 'students.is_active as isActive'])
        .where('students.id', '=', id)
        .where('students.deleted_at', 'is', null)
        .where('schools.deleted_at', 'is', null)
        .where((eb) => inScope(eb, 'students.school_id', scope))
        .executeTakeFirst();
    },

    /**
     * The guardians among `ids` that belong to `familyId` (and are not deleted). Read here
     * rather than through the families service: a membership check in the enrolment's
     * own transaction, on the (school_id, id) key.
     */
    async guardiansOfFamily(db: DbOrTx, schoolId: string, familyId: string, ids: readonly string[]): Promise<Set<string>> {
      if (ids.length === 0) {
        return new Set();
      }
      const rows = await db
        .selectFrom('guardians')
        .select('id')
        .where('school_id', '=', schoolId)
        .where('family_id', '=', familyId)
        .where('id', 'in', [...ids])
        .where('deleted_at', 'is', null)
        // Held until the enrolment commits: a guardian being deleted meanwhile waits for it (families.service deleteGuardian).
        .forShare()
        .execute();
      return new Set(rows.map((r) => r.id));
    },

    async list(db: DbOrTx, scope: Scope, query: { studentId: string; limit: number; afterId?: string }): Promise<EnrolmentRow[]> {
      const rows = await visible(db, scope)
        .where('enrolments.student_id', '=', query.studentId)
        .$if(query.afterId !== undefined, (qb) => qb.where('enrolments.id', '>', query.afterId ?? ''))
        .orderBy('enrolments.id')
        .limit(query.limit + 1)
        .execute();
      return withPayers(db, rows);
    },

    async findById(db: DbOrTx, scope: Scope, id: string, options: { forUpdate?: boolean } = {}): Promise<EnrolmentRow | undefined> {
      const row = await visible(db, scope)
        .where('enrolments.id', '=', id)
        .$if(options.forUpdate === true, (qb) => qb.forUpdate('enrolments'))
        .executeTakeFirst();
      return row && (await withPayers(db, [row]))[0];
    },

    /** Whether the student already has an enrolment in this plan for a period overlapping [from, to]. */
    async hasOverlapping(db: DbOrTx, e: { schoolId: string; studentId: string; feePlanId: string; from: string; to: string | null }): Promise<boolean> {
      const row = await db
        .selectFrom('enrolments')
        .select('id')
        .where('school_id', '=', e.schoolId)
        .where('student_id', '=', e.studentId)
        .where('fee_plan_id', '=', e.feePlanId)
        .where(overlaps(e.from, e.to))
        .executeTakeFirst();
      return row !== undefined;
    },

    async insert(
      db: DbOrTx,
      e: { schoolId: string; studentId: string; feePlanId: string; from: string; to: string | null; optionalItems: string[]; payers: { guardianId: string; share: string }[] },
    ): Promise<string> {
      const row = await db
        .insertInto('enrolments')
        .values({ school_id: e.schoolId, student_id: e.studentId, fee_plan_id: e.feePlanId, from_date: e.from, to_date: e.to, optional_items: e.optionalItems })
        .returning('id')
        .executeTakeFirstOrThrow();
      if (e.payers.length > 0) {
        await db
          .insertInto('enrolment_payers')
          .values(e.payers.map((p, position) => ({ school_id: e.schoolId, enrolment_id: row.id, guardian_id: p.guardianId, share: p.share, position })))
          .execute();
      }
      return row.id;
    },

    /**
     * Bulk enrolment in one statement: the candidate students (the listed ones, or every
     * active student of a grade, of the plan's school, not deleted, active) that have no
     * enrolment in this plan overlapping [from, to] get one. Set-based, so a grade of
     * thousands is one insert; the caller holds the plan's row lock, so two bulk runs
     * (or a bulk run and a single enrolment) cannot both enrol one student.
     * Returns how many were candidates and how many were enrolled.
     */
    async insertMany(
      db: DbOrTx,
      e: { schoolId: string; feePlanId: string; from: string; to: string | null; optionalItems: string[]; studentIds?: readonly string[]; grade?: string },
    ): Promise<{ candidates: number; enrolled: number }> {
      const candidates =
        e.studentIds !== undefined
          ? sql`select s.id from students s where s.school_id = ${e.schoolId} and s.id = any(${sql.val([...e.studentIds])}::uuid[]) and s.deleted_at is null`
          : sql`select s.id from students s where s.school_id = ${e.schoolId} and s.grade = ${e.grade ?? ''} and s.is_active and s.deleted_at is null`;
      const result = await sql<{ candidates: number; enrolled: number }>`
        with candidates as (${candidates}),
        fresh as (
          select c.id from candidates c
           join students s on s.school_id = ${e.schoolId} and s.id = c.id
           where s.is_active
             and not exists (
               select 1 from enrolments
                where enrolments.school_id = ${e.schoolId}
                  and enrolments.fee_plan_id = ${e.feePlanId}
                  and enrolments.student_id = c.id
                  and ${overlaps(e.from, e.to)})
        ),
        inserted as (
          insert into enrolments (school_id, student_id, fee_plan_id, from_date, to_date, optional_items)
          select ${e.schoolId}, f.id, ${e.feePlanId}, ${e.from}::date, ${e.to}::date, ${sql.val(e.optionalItems)}::text[]
            from fresh f
           order by f.id
          returning 1
        )
        select (select count(*) from candidates)::int as candidates, (select count(*) from inserted)::int as enrolled`.execute(db);
      const row = result.rows[0];
      return { candidates: row?.candidates ?? 0, enrolled: row?.enrolled ?? 0 };
    },

    /** Of `ids`, the students of this school (not deleted) — to name the unknown ones in a bulk request. */
    async existingStudents(db: DbOrTx, schoolId: string, ids: readonly string[]): Promise<Set<string>> {
      const rows = await db
        .selectFrom('students')
        .select('id')
        .where('school_id', '=', schoolId)
        // One array parameter, not one parameter per id (a list may hold thousands).
        .where('id', '=', sql<string>`any(${sql.val([...ids])}::uuid[])`)
        .where('deleted_at', 'is', null)
        .execute();
      return new Set(rows.map((r) => r.id));
    },

    async setTo(db: DbOrTx, e: { schoolId: string; id: string }, to: string): Promise<void> {
      await db.updateTable('enrolments').set({ to_date: to, updated_at: sql<Date>`now()` }).where('school_id', '=', e.schoolId).where('id', '=', e.id).execute();
    },

    /**
     * The invoices this enrolment billed that fall due after `after` and are not
     * cancelled, locked FOR UPDATE in the ledger's lock order (due_date, id). `shared`
     * marks an invoice that also carries lines of something else (another enrolment of
     * the student due the same day): a withdrawal must not cancel those.
     * Uses invoice_lines_enrolment_idx (0015).
     */
    async lockBilledAfter(db: DbOrTx, e: { schoolId: string; id: string }, after: string): Promise<BilledInvoice[]> {
      const result = await sql<BilledInvoice>`
        select i.id, i.due_date as "dueDate", i.paid_amount as "paidAmount",
               exists (select 1 from invoice_lines o
                        where o.school_id = i.school_id and o.invoice_id = i.id
                          and o.enrolment_id is not null and o.enrolment_id <> ${e.id}::uuid) as shared
          from invoices i
         where i.school_id = ${e.schoolId}
           and i.cancelled_at is null
           and i.id in (select l.invoice_id from invoice_lines l
                         where l.school_id = ${e.schoolId} and l.enrolment_id = ${e.id} and l.due_date > ${after}::date)
         order by i.due_date, i.id
           for update of i`.execute(db);
      return result.rows;
    },

    /** Instalments of this enrolment on cancelled invoices due in (after, through]: extending `to` over them would not bill them again. */
    async cancelledBetween(db: DbOrTx, e: { schoolId: string; id: string }, after: string, through: string): Promise<number> {
      const result = await sql<{ n: number }>`
        select count(distinct i.id)::int as n
          from invoice_lines l
          join invoices i on i.school_id = l.school_id and i.id = l.invoice_id
         where l.school_id = ${e.schoolId} and l.enrolment_id = ${e.id}
           and l.due_date > ${after}::date and l.due_date <= ${through}::date
           and i.cancelled_at is not null`.execute(db);
      return result.rows[0]?.n ?? 0;
    },
  };
}

export type EnrolmentsRepository = ReturnType<typeof createEnrolmentsRepository>;
