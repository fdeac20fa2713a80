import type { DbOrTx } from '../../db/database.js';
import { inScope, type Scope } from '../../shared/scope.js';

/**
 * The grades that exist among the live students of the schools in view, for the
 * dashboard's Grade filters. `select distinct grade` over students_school_grade_idx
 * (school_id, grade) where deleted_at is null: an index-only scan, one school's slice
 * of it when schoolId is given. Students of soft-deleted schools are left out, as in
 * every report. At most `limit` rows (the caller asks for one more than it shows, to
 * know whether the list was cut).
 */
export function createGradesRepository() {
  return {
    async listGrades(db: DbOrTx, scope: Scope, filter: { schoolId?: string; limit: number }): Promise<string[]> {
      const rows = await db
        .selectFrom('students')
        .innerJoin('schools', 'schools.id', 'students.school_id')
        .select('students.grade')
        .distinct()
        .where('students.deleted_at', 'is', null)
        .where('schools.deleted_at', 'is', null)
        .where((eb) => inScope(eb, 'students.school_id', scope))
        .$if(filter.schoolId !== undefined, (qb) => qb.where('students.school_id', '=', filter.schoolId ?? ''))
        .orderBy('students.grade')
        .limit(filter.limit)
        .execute();
      return rows.map((row) => row.grade);
    },
  };
}

export type GradesRepository = ReturnType<typeof createGradesRepository>;
