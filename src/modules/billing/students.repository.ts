import { sql } from 'kysely';
import type { DbOrTx } from '../../db/database.js';
import { normaliseEmail } from '../../shared/email.js';
import { maskEmail, maskName } from '../../shared/masking.js';
import { inScope, type Scope } from '../../shared/scope.js';

export interface StudentRow {
  id: string;
  schoolId: string;
  firstName: string;
  lastName: string;
  email: string | null;
  grade: string;
  enrolledAt: string;
  isActive: boolean;
  /** The student's family (SPEC §7), if any. */
  familyId: string | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface StudentValues {
  firstName: string;
  lastName: string;
  email?: string | null;
  grade: string;
  enrolledAt?: string;
  isActive?: boolean;
  familyId?: string | null;
}

const columns = [
  'students.id',
  'students.school_id as schoolId',
  'students.first_name as firstName',
  'students.last_name as lastName',
  'students.email',
  'students.grade',
  'students.enrolled_at as enrolledAt',
  'students.is_active as isActive',
  'students.family_id as familyId',
  'students.created_at as createdAt',
  'students.updated_at as updatedAt',
] as const;

/**
 * Applies the caller's PII visibility to a student. Every student leaving this
 * repository goes through it, so no route can forget to mask.
 */
export function presentStudent<T extends { firstName: string; lastName: string; email: string | null }>(row: T, scope: Scope): T {
  if (scope.pii === 'clear') {
    return row;
  }
  const [first = '', last = ''] = maskName(row.firstName, row.lastName).split(' ');
  return { ...row, firstName: first, lastName: last, email: row.email === null ? null : maskEmail(row.email) };
}

/** A display name for a student under the caller's PII visibility. */
export function studentName(firstName: string, lastName: string, scope: Scope): string {
  return scope.pii === 'clear' ? `${firstName} ${lastName}` : maskName(firstName, lastName);
}

function toRow(values: Partial<StudentValues>) {
  return {
    ...(values.firstName !== undefined ? { first_name: values.firstName.trim() } : {}),
    ...(values.lastName !== undefined ? { last_name: values.lastName.trim() } : {}),
    ...(values.email !== undefined ? { email: normaliseEmail(values.email) } : {}),
    ...(values.grade !== undefined ? { grade: values.grade.trim() } : {}),
    ...(values.enrolledAt !== undefined ? { enrolled_at: values.enrolledAt } : {}),
    ...(values.isActive !== undefined ? { is_active: values.isActive } : {}),
    ...(values.familyId !== undefined ? { family_id: values.familyId } : {}),
  };
}

/**
 * Who a student is in a report row, from a query joining `students` and `schools`:
 * the columns of StudentIdentity, in one list for every report that lists students.
 */
export const STUDENT_IDENTITY_COLUMNS = [
  'students.id as studentId',
  'schools.id as schoolId',
  'schools.name as schoolName',
  'students.first_name as firstName',
  'students.last_name as lastName',
  'students.grade',
  'schools.currency',
] as const;

/** The row STUDENT_IDENTITY_COLUMNS select (names unmasked: mask before they leave the module). */
export interface StudentIdentity {
  studentId: string;
  schoolId: string;
  schoolName: string;
  firstName: string;
  lastName: string;
  grade: string;
  currency: string;
}

export function createStudentsRepository() {
  const visible = (db: DbOrTx, scope: Scope) =>
    db
      .selectFrom('students')
      .innerJoin('schools', 'schools.id', 'students.school_id')
      .select(columns)
      .where('students.deleted_at', 'is', null)
      .where('schools.deleted_at', 'is', null)
      .where((eb) => inScope(eb, 'students.school_id', scope));

  return {
    async list(
      db: DbOrTx,
      scope: Scope,
      query: { limit: number; afterId?: string; schoolId?: string; grade?: string; isActive?: boolean },
    ): Promise<StudentRow[]> {
      const rows = await visible(db, scope)
        .$if(query.schoolId !== undefined, (qb) => qb.where('students.school_id', '=', query.schoolId ?? ''))
        .$if(query.grade !== undefined, (qb) => qb.where('students.grade', '=', query.grade ?? ''))
        .$if(query.isActive !== undefined, (qb) => qb.where('students.is_active', '=', query.isActive ?? true))
        .$if(query.afterId !== undefined, (qb) => qb.where('students.id', '>', query.afterId ?? ''))
        .orderBy('students.id')
        .limit(query.limit + 1)
        .execute();
      return rows.map((row) => presentStudent(row, scope));
    },

    async findById(db: DbOrTx, scope: Scope, id: string): Promise<StudentRow | undefined> {
      const row = await visible(db, scope).where('students.id', '=', id).executeTakeFirst();
      return row && presentStudent(row, scope);
    },

    async insert(db: DbOrTx, schoolId: string, values: StudentValues): Promise<string> {
      const row = await db
        .insertInto('students')
        .values({ school_id: schoolId, first_name: values.firstName.trim(), last_name: values.lastName.trim(), grade: values.grade.trim(), ...toRow(values) })
        .returning('id')
        .executeTakeFirstOrThrow();
      return row.id;
    },

    async update(db: DbOrTx, id: string, values: Partial<StudentValues>): Promise<void> {
      await db.updateTable('students').set({ ...toRow(values), updated_at: sql<Date>`now()` }).where('id', '=', id).execute();
    },

    async softDelete(db: DbOrTx, id: string): Promise<void> {
      await db.updateTable('students').set({ deleted_at: sql<Date>`now()`, updated_at: sql<Date>`now()` }).where('id', '=', id).execute();
    },
  };
}

export type StudentsRepository = ReturnType<typeof createStudentsRepository>;
