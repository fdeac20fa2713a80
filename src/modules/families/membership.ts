import type { DbOrTx } from '../../db/database.js';
import { unprocessable } from '../../shared/errors.js';

/**
 * A student's family (SPEC §7: a student belongs to at most one family, of its own
 * school). The billing service calls this inside the transaction that creates or
 * changes the student, so the family's rules live here with the families module.
 */

/** The most students one family may have: the family page lists them all. */
export const MAX_STUDENTS_PER_FAMILY = 50;

/**
 * Checks that `familyId` is a live family of `schoolId` with room for one more student
 * (`studentId`, when it is already a student, is not counted twice), and holds the
 * family row (FOR NO KEY UPDATE) to the end of the transaction: a concurrent DELETE
 * /families/:id waits for it and then sees the student, and two students joining at
 * once cannot pass the cap together. A family of another school, a deleted one and one
 * that does not exist are the same 422 naming `familyId` (no existence leak across
 * schools).
 */
export async function holdFamilyForStudent(trx: DbOrTx, schoolId: string, familyId: string, studentId?: string): Promise<void> {
  const family = await trx
    .selectFrom('families')
    .select('families.id')
    .where('families.school_id', '=', schoolId)
    .where('families.id', '=', familyId)
    .where('families.deleted_at', 'is', null)
    .forNoKeyUpdate()
    .executeTakeFirst();
  if (!family) {
    throw unprocessable('familyId', 'is not a family of the student’s school');
  }
  const { count } = await trx
    .selectFrom('students')
    .select((eb) => eb.fn.countAll<number>().as('count'))
    .where('students.school_id', '=', schoolId)
    .where('students.family_id', '=', familyId)
    .where('students.deleted_at', 'is', null)
    .$if(studentId !== undefined, (qb) => qb.where('students.id', '<>', studentId ?? ''))
    .executeTakeFirstOrThrow();
  if (Number(count) >= MAX_STUDENTS_PER_FAMILY) {
    throw unprocessable('familyId', `the family already has ${MAX_STUDENTS_PER_FAMILY} students, the most one family may have`);
  }
}
