import { sql } from 'kysely';
import type { DbOrTx } from '../../db/database.js';
import type { Language } from '../../db/types.js';
import { normaliseEmail } from '../../shared/email.js';
import { maskEmail, maskName, maskPhone } from '../../shared/masking.js';
import { inScope, type Scope } from '../../shared/scope.js';
import { escapeLike } from '../billing/schools.repository.js';

/**
 * The SQL of families and guardians. Every query is tenant-scoped (`inScope` on its own
 * school_id) and every row leaving this file has passed through the caller's PII
 * visibility (presentFamily, presentGuardian, presentStudent), so no route can forget
 * to mask. Money figures are read here, never written: only src/modules/ledger moves
 * families.credit_balance or invoice amounts.
 */

export interface FamilyRow {
  id: string;
  schoolId: string;
  name: string;
  reference: string;
  preferredLanguage: Language;
  currency: string;
  createdAt: Date;
  updatedAt: Date;
}

/** A family with what only the service needs (not serialised). */
export interface FamilyRecord extends FamilyRow {
  creditBalance: number;
  schoolName: string;
}

export interface GuardianRow {
  id: string;
  schoolId: string;
  familyId: string;
  firstName: string;
  lastName: string;
  email: string | null;
  phone: string | null;
  relationship: string;
  preferredLanguage: Language;
  isPrimary: boolean;
  remindersOptOut: boolean;
  createdAt: Date;
  updatedAt: Date;
}

export interface GuardianValues {
  firstName?: string;
  lastName?: string;
  email?: string | null;
  phone?: string | null;
  relationship?: string;
  preferredLanguage?: Language;
  isPrimary?: boolean;
  remindersOptOut?: boolean;
}

export interface FamilyStudentRow {
  id: string;
  firstName: string;
  lastName: string;
  grade: string;
  isActive: boolean;
}

/** A family's name is a surname: an initial for masked readers ("Pérez García" → "P."). */
export function presentFamily<T extends { name: string }>(row: T, scope: Scope): T {
  return scope.pii === 'clear' ? row : { ...row, name: maskName(row.name) };
}

/** A guardian as the caller may see them: initials, j***@d***.com, the phone's last 2 digits when masked. */
export function presentGuardian(row: GuardianRow, scope: Scope): GuardianRow {
  if (scope.pii === 'clear') {
    return row;
  }
  const [first = '', last = ''] = maskName(row.firstName, row.lastName).split(' ');
  return {
    ...row,
    firstName: first,
    lastName: last,
    email: row.email === null ? null : maskEmail(row.email),
    phone: row.phone === null ? null : maskPhone(row.phone),
  };
}

const familyColumns = [
  'families.id',
  'families.school_id as schoolId',
  'families.name',
  'families.reference',
  'families.preferred_language as preferredLanguage',
  'schools.currency',
  'families.created_at as createdAt',
  'families.updated_at as updatedAt',
] as const;

const guardianColumns = [
  'guardians.id',
  'guardians.school_id as schoolId',
  'guardians.family_id as familyId',
  'guardians.first_name as firstName',
  'guardians.last_name as lastName',
  'guardians.email',
  'guardians.phone',
  'guardians.relationship',
  'guardians.preferred_language as preferredLanguage',
  'guardians.is_primary as isPrimary',
  'guardians.reminders_opt_out as remindersOptOut',
  'guardians.created_at as createdAt',
  'guardians.updated_at as updatedAt',
] as const;

function guardianRow(values: GuardianValues) {
  return {
    ...(values.firstName !== undefined ? { first_name: values.firstName.trim() } : {}),
    ...(values.lastName !== undefined ? { last_name: values.lastName.trim() } : {}),
    ...(values.email !== undefined ? { email: normaliseEmail(values.email) } : {}),
    ...(values.phone !== undefined ? { phone: values.phone === null ? null : values.phone.trim() } : {}),
    ...(values.relationship !== undefined ? { relationship: values.relationship.trim() } : {}),
    ...(values.preferredLanguage !== undefined ? { preferred_language: values.preferredLanguage } : {}),
    ...(values.isPrimary !== undefined ? { is_primary: values.isPrimary } : {}),
    ...(values.remindersOptOut !== undefined ? { reminders_opt_out: values.remindersOptOut } : {}),
  };
}

/**
 * The invoices of a family: those billed to it (invoices.family_id) and those of its
 * students billed to no family. An invoice billed to a family stays that family's when
 * its student moves to another one; a student's own invoices follow the student. The
 * SQL function family_invoices() (migration 0019: one definition, shared with the
 * family payment function), which the planner inlines: two index scans
 * (invoices_family_idx; students_family_idx then invoices_student_idx).
 */
export function familyInvoicesSql(schoolId: string, familyId: string) {
  return sql`(select * from family_invoices(${schoolId}::uuid, ${familyId}::uuid))`;
}

export function createFamiliesRepository() {
  const visibleFamilies = (db: DbOrTx, scope: Scope) =>
    db
      .selectFrom('families')
      .innerJoin('schools', 'schools.id', 'families.school_id')
      .where('families.deleted_at', 'is', null)
      .where('schools.deleted_at', 'is', null)
      .where((eb) => inScope(eb, 'families.school_id', scope));

  const visibleGuardians = (db: DbOrTx, scope: Scope) =>
    db
      .selectFrom('guardians')
      .innerJoin('families', (join) => join.onRef('families.school_id', '=', 'guardians.school_id').onRef('families.id', '=', 'guardians.family_id'))
      .innerJoin('schools', 'schools.id', 'guardians.school_id')
      .where('guardians.deleted_at', 'is', null)
      .where('families.deleted_at', 'is', null)
      .where('schools.deleted_at', 'is', null)
      .where((eb) => inScope(eb, 'guardians.school_id', scope));

  return {
    /**
     * Families by (school, name, id). The cursor holds only the last family's id (never
     * its name, which a masked reader must not see): the page seeks past that family's
     * (school, name, id) looked up here.
     */
    async list(
      db: DbOrTx,
      scope: Scope,
      query: { limit: number; afterId?: string; schoolId?: string; q?: string; reference?: string },
    ): Promise<FamilyRow[]> {
      const q = query.q?.trim();
      const rows = await visibleFamilies(db, scope)
        .select(familyColumns)
        .$if(query.schoolId !== undefined, (qb) => qb.where('families.school_id', '=', query.schoolId ?? ''))
        .$if(query.reference !== undefined, (qb) => qb.where('families.reference', '=', query.reference ?? ''))
        .$if(q !== undefined && q !== '', (qb) =>
          qb.where((eb) => {
            const byReference = eb('families.reference', 'like', `${escapeLike((q ?? '').toUpperCase())}%`);
            // A masked reader must not find families by a name they are not allowed to see.
            return scope.pii === 'clear' ? eb.or([byReference, eb('families.name', 'ilike', `%${escapeLike(q ?? '')}%`)]) : byReference;
          }),
        )
        .$if(query.afterId !== undefined, (qb) =>
          qb.where(
            sql<boolean>`(families.school_id, families.name, families.id) > (select a.school_id, a.name, a.id from families a where a.id = ${query.afterId ?? ''} limit 1)`,
          ),
        )
        .orderBy('families.school_id')
        .orderBy('families.name')
        .orderBy('families.id')
        .limit(query.limit + 1)
        .execute();
      return rows.map((row) => presentFamily(row, scope));
    },

    /** A visible family (raw: the service presents it), optionally locked for the rest of the transaction. */
    findById(db: DbOrTx, scope: Scope, id: string, options: { lock?: 'update' | 'noKeyUpdate' } = {}): Promise<FamilyRecord | undefined> {
      return visibleFamilies(db, scope)
        .select([...familyColumns, 'families.credit_balance as creditBalance', 'schools.name as schoolName'])
        .where('families.id', '=', id)
        .$if(options.lock === 'update', (qb) => qb.forUpdate('families'))
        .$if(options.lock === 'noKeyUpdate', (qb) => qb.forNoKeyUpdate('families'))
        .executeTakeFirst();
    },

    /** The school's next family number (1, 2, …): one counter row per school, incremented in the caller's transaction. */
    async nextNumber(db: DbOrTx, schoolId: string): Promise<number> {
      const row = await db
        .insertInto('family_counters')
        .values({ school_id: schoolId, last_number: 1 })
        .onConflict((oc) => oc.column('school_id').doUpdateSet({ last_number: sql<number>`family_counters.last_number + 1` }))
        .returning('last_number')
        .executeTakeFirstOrThrow();
      return Number(row.last_number);
    },

    async insert(db: DbOrTx, values: { schoolId: string; name: string; reference: string; preferredLanguage?: Language }): Promise<string> {
      const row = await db
        .insertInto('families')
        .values({
          school_id: values.schoolId,
          name: values.name.trim(),
          reference: values.reference,
          ...(values.preferredLanguage !== undefined ? { preferred_language: values.preferredLanguage } : {}),
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      return row.id;
    },

    async update(db: DbOrTx, schoolId: string, id: string, values: { name?: string; preferredLanguage?: Language }): Promise<void> {
      await db
        .updateTable('families')
        .set({
          ...(values.name !== undefined ? { name: values.name.trim() } : {}),
          ...(values.preferredLanguage !== undefined ? { preferred_language: values.preferredLanguage } : {}),
          updated_at: sql<Date>`now()`,
        })
        .where('school_id', '=', schoolId)
        .where('id', '=', id)
        .execute();
    },

    /** Soft-deletes the family and its guardians. */
    async softDelete(db: DbOrTx, schoolId: string, id: string): Promise<void> {
      await db
        .updateTable('guardians')
        .set({ deleted_at: sql<Date>`now()`, updated_at: sql<Date>`now()` })
        .where('school_id', '=', schoolId)
        .where('family_id', '=', id)
        .where('deleted_at', 'is', null)
        .execute();
      await db
        .updateTable('families')
        .set({ deleted_at: sql<Date>`now()`, updated_at: sql<Date>`now()` })
        .where('school_id', '=', schoolId)
        .where('id', '=', id)
        .execute();
    },

    /** What the family owes: Σ (amount − paid) of its non-cancelled invoices (familyInvoicesSql). */
    async owed(db: DbOrTx, schoolId: string, familyId: string): Promise<number> {
      const { rows } = await sql<{ owed: string }>`
        select coalesce(sum(fi.amount - fi.paid_amount), 0)::text as owed
          from ${familyInvoicesSql(schoolId, familyId)} fi
         where fi.cancelled_at is null`.execute(db);
      return Number(rows[0]?.owed ?? 0);
    },

    /** The family's students that are not deleted, by last and first name (at most `limit`). */
    async students(db: DbOrTx, scope: Scope, schoolId: string, familyId: string, limit: number): Promise<FamilyStudentRow[]> {
      const rows = await db
        .selectFrom('students')
        .select(['students.id', 'students.first_name as firstName', 'students.last_name as lastName', 'students.grade', 'students.is_active as isActive'])
        .where('students.school_id', '=', schoolId)
        .where('students.family_id', '=', familyId)
        .where('students.deleted_at', 'is', null)
        .where((eb) => inScope(eb, 'students.school_id', scope))
        .orderBy('students.last_name')
        .orderBy('students.first_name')
        .orderBy('students.id')
        .limit(limit)
        .execute();
      if (scope.pii === 'clear') {
        return rows;
      }
      return rows.map((row) => {
        const [first = '', last = ''] = maskName(row.firstName, row.lastName).split(' ');
        return { ...row, firstName: first, lastName: last };
      });
    },

    async countStudents(db: DbOrTx, schoolId: string, familyId: string): Promise<number> {
      const row = await db
        .selectFrom('students')
        .select((eb) => eb.fn.countAll<string>().as('count'))
        .where('school_id', '=', schoolId)
        .where('family_id', '=', familyId)
        .where('deleted_at', 'is', null)
        .executeTakeFirstOrThrow();
      return Number(row.count);
    },

    // ------------------------------------------------------------------ guardians
    /** The family's guardians (not deleted): the primary first, then by creation; at most `limit`. */
    async guardians(db: DbOrTx, scope: Scope, schoolId: string, familyId: string, limit: number): Promise<GuardianRow[]> {
      const rows = await db
        .selectFrom('guardians')
        .select(guardianColumns)
        .where('guardians.school_id', '=', schoolId)
        .where('guardians.family_id', '=', familyId)
        .where('guardians.deleted_at', 'is', null)
        .where((eb) => inScope(eb, 'guardians.school_id', scope))
        .orderBy('guardians.is_primary', 'desc')
        .orderBy('guardians.created_at')
        .orderBy('guardians.id')
        .limit(limit)
        .execute();
      return rows.map((row) => presentGuardian(row, scope));
    },

    async countGuardians(db: DbOrTx, schoolId: string, familyId: string): Promise<number> {
      const row = await db
        .selectFrom('guardians')
        .select((eb) => eb.fn.countAll<string>().as('count'))
        .where('school_id', '=', schoolId)
        .where('family_id', '=', familyId)
        .where('deleted_at', 'is', null)
        .executeTakeFirstOrThrow();
      return Number(row.count);
    },

    /** A visible guardian of a visible family (raw: the service presents it). */
    findGuardian(db: DbOrTx, scope: Scope, id: string): Promise<GuardianRow | undefined> {
      return visibleGuardians(db, scope).select(guardianColumns).where('guardians.id', '=', id).executeTakeFirst();
    },

    async hasPrimary(db: DbOrTx, schoolId: string, familyId: string): Promise<boolean> {
      const row = await db
        .selectFrom('guardians')
        .select('id')
        .where('school_id', '=', schoolId)
        .where('family_id', '=', familyId)
        .where('is_primary', '=', true)
        .where('deleted_at', 'is', null)
        .executeTakeFirst();
      return row !== undefined;
    },

    /** Makes no guardian of the family primary (before another one becomes it, in the same transaction). */
    async clearPrimary(db: DbOrTx, schoolId: string, familyId: string): Promise<void> {
      await db
        .updateTable('guardians')
        .set({ is_primary: false, updated_at: sql<Date>`now()` })
        .where('school_id', '=', schoolId)
        .where('family_id', '=', familyId)
        .where('is_primary', '=', true)
        .where('deleted_at', 'is', null)
        .execute();
    },

    async insertGuardian(db: DbOrTx, schoolId: string, familyId: string, values: GuardianValues & { firstName: string; lastName: string }): Promise<string> {
      const row = await db
        .insertInto('guardians')
        .values({ school_id: schoolId, family_id: familyId, first_name: values.firstName.trim(), last_name: values.lastName.trim(), ...guardianRow(values) })
        .returning('id')
        .executeTakeFirstOrThrow();
      return row.id;
    },

    async updateGuardian(db: DbOrTx, schoolId: string, id: string, values: GuardianValues): Promise<void> {
      await db
        .updateTable('guardians')
        .set({ ...guardianRow(values), updated_at: sql<Date>`now()` })
        .where('school_id', '=', schoolId)
        .where('id', '=', id)
        .execute();
    },

    /**
     * Enrolments still running (not withdrawn, or withdrawn from today on) that name the
     * guardian as a payer, by student name, at most `limit`.
     */
    async payerOfRunningEnrolments(db: DbOrTx, schoolId: string, id: string, limit: number): Promise<{ enrolmentId: string; firstName: string; lastName: string }[]> {
      return db
        .selectFrom('enrolment_payers as p')
        .innerJoin('enrolments as e', (join) => join.onRef('e.school_id', '=', 'p.school_id').onRef('e.id', '=', 'p.enrolment_id'))
        .innerJoin('students as s', (join) => join.onRef('s.school_id', '=', 'e.school_id').onRef('s.id', '=', 'e.student_id'))
        .select(['e.id as enrolmentId', 's.first_name as firstName', 's.last_name as lastName'])
        .where('p.school_id', '=', schoolId)
        .where('p.guardian_id', '=', id)
        .where((eb) => eb.or([eb('e.to_date', 'is', null), eb('e.to_date', '>=', sql<string>`current_date`)]))
        .orderBy('s.last_name')
        .orderBy('s.first_name')
        .orderBy('e.id')
        .limit(limit)
        .execute();
    },

    async softDeleteGuardian(db: DbOrTx, schoolId: string, id: string): Promise<void> {
      await db
        .updateTable('guardians')
        .set({ deleted_at: sql<Date>`now()`, updated_at: sql<Date>`now()` })
        .where('school_id', '=', schoolId)
        .where('id', '=', id)
        .execute();
    },
  };
}

export type FamiliesRepository = ReturnType<typeof createFamiliesRepository>;
