import type { Db, DbOrTx, Tx } from '../../db/database.js';
import { type Actor, requirePrincipal } from '../../shared/context.js';
import { AppError, notFound } from '../../shared/errors.js';
import { cursorPart, decodeCursorOf, toPage, type Page } from '../../shared/pagination.js';
import type { Scope } from '../../shared/scope.js';
import { recordAudit } from '../audit/audit.repository.js';
import type { SchoolsRepository } from '../billing/schools.repository.js';
import { studentName } from '../billing/students.repository.js';
import {
  MAX_GUARDIANS_PER_FAMILY,
  type CreateFamilyBody,
  type CreateGuardianBody,
  type FamilyListQuery,
  type PatchFamilyBody,
  type PatchGuardianBody,
} from './families.schemas.js';
import {
  presentFamily,
  presentGuardian,
  type FamiliesRepository,
  type FamilyRecord,
  type FamilyRow,
  type FamilyStudentRow,
  type GuardianRow,
} from './families.repository.js';
import { MAX_STUDENTS_PER_FAMILY } from './membership.js';
import { formatReference, MAX_FAMILY_NUMBER, parseReference, schoolPrefix } from './reference.js';

export interface FamiliesDeps {
  db: Db;
  families: FamiliesRepository;
  schools: SchoolsRepository;
}

/** GET /families/:id: the family with its guardians, students and balance (SPEC §7). */
export interface FamilyDetail extends FamilyRow {
  guardians: GuardianRow[];
  students: FamilyStudentRow[];
  balance: { owed: number; credit: number };
}

export type FamiliesService = ReturnType<typeof createFamiliesService>;

const afterId = (cursor: string | undefined) => (cursor ? decodeCursorOf(cursor, [cursorPart.uuid])[0] : undefined);

/**
 * Families and their guardians. Reads go through the caller's scope (their schools,
 * their PII visibility); every write is one transaction with its audit entries, and
 * holds the family row while it changes the family's guardians or membership, so that
 * "at most one primary guardian", the guardian cap and "no delete while it has
 * students or money" hold under concurrent requests too.
 */
export function createFamiliesService(deps: FamiliesDeps) {
  const { db, families, schools } = deps;

  async function visibleFamily(trx: DbOrTx, scope: Scope, id: string, lock?: 'update' | 'noKeyUpdate'): Promise<FamilyRecord> {
    const family = await families.findById(trx, scope, id, lock ? { lock } : {});
    if (!family) {
      throw notFound('family');
    }
    return family;
  }

  async function detail(trx: DbOrTx, scope: Scope, family: FamilyRecord): Promise<FamilyDetail> {
    const [guardians, students, owed] = [
      await families.guardians(trx, scope, family.schoolId, family.id, MAX_GUARDIANS_PER_FAMILY),
      await families.students(trx, scope, family.schoolId, family.id, MAX_STUDENTS_PER_FAMILY),
      await families.owed(trx, family.schoolId, family.id),
    ];
    const { creditBalance, schoolName: _schoolName, ...row } = family;
    return { ...presentFamily(row, scope), guardians, students, balance: { owed, credit: creditBalance } };
  }

  /**
   * Adds a guardian to a family whose row the caller holds. `isPrimary: true` takes the
   * role from the current primary; left out, the guardian is primary only when the
   * family has none yet (the first guardian of a family is its main contact).
   */
  async function addGuardian(trx: Tx, actor: Actor, family: FamilyRecord, body: CreateGuardianBody): Promise<string> {
    const isPrimary = body.isPrimary ?? !(await families.hasPrimary(trx, family.schoolId, family.id));
    if (isPrimary) {
      await families.clearPrimary(trx, family.schoolId, family.id);
    }
    const id = await families.insertGuardian(trx, family.schoolId, family.id, {
      ...body,
      preferredLanguage: body.preferredLanguage ?? family.preferredLanguage,
      isPrimary,
    });
    await recordAudit(trx, actor, {
      action: 'guardian.create',
      entityType: 'guardian',
      entityId: id,
      schoolId: family.schoolId,
      changes: { ...body, familyId: family.id, isPrimary },
    });
    return id;
  }

  async function visibleGuardian(trx: DbOrTx, scope: Scope, id: string): Promise<GuardianRow> {
    const guardian = await families.findGuardian(trx, scope, id);
    if (!guardian) {
      throw notFound('guardian');
    }
    return guardian;
  }

  /** The guardian and its family, the family row held: a guardian is changed only under its family's lock. */
  async function lockedGuardian(trx: Tx, scope: Scope, id: string): Promise<{ guardian: GuardianRow; family: FamilyRecord }> {
    const found = await visibleGuardian(trx, scope, id);
    const family = await visibleFamily(trx, scope, found.familyId, 'noKeyUpdate');
    // Read again under the lock: a concurrent change or delete may have committed meanwhile.
    return { guardian: await visibleGuardian(trx, scope, id), family };
  }

  return {
    async listFamilies(scope: Scope, query: FamilyListQuery & { limit: number }): Promise<Page<FamilyRow>> {
      if (query.schoolId !== undefined && !(await schools.findById(db, scope, query.schoolId))) {
        throw notFound('school');
      }
      let reference: string | undefined;
      if (query.reference !== undefined) {
        const parsed = parseReference(query.reference);
        if (!parsed.ok) {
          // The shape is the schema's (400); a wrong check digit is a typo the client can act on.
          throw new AppError(parsed.reason === 'checkDigit' ? 'BUSINESS_RULE_VIOLATION' : 'VALIDATION_FAILED', `reference ${parsed.message}`, {
            errors: [{ field: 'reference', in: 'querystring', message: parsed.message }],
          });
        }
        reference = parsed.reference;
      }
      const rows = await families.list(db, scope, {
        limit: query.limit,
        afterId: afterId(query.cursor),
        ...(query.schoolId !== undefined ? { schoolId: query.schoolId } : {}),
        ...(query.q !== undefined ? { q: query.q } : {}),
        ...(reference !== undefined ? { reference } : {}),
      });
      return toPage(rows, query.limit, (row) => [row.id]);
    },

    async getFamily(scope: Scope, id: string): Promise<FamilyDetail> {
      return detail(db, scope, await visibleFamily(db, scope, id));
    },

    /** A family and its guardians in one transaction; its reference from the school's counter (gapless unless a creation rolls back). */
    async createFamily(actor: Actor, body: CreateFamilyBody): Promise<FamilyDetail> {
      const scope = requirePrincipal(actor);
      const guardians = body.guardians ?? [];
      const primaries = guardians.flatMap((guardian, index) => (guardian.isPrimary === true ? [index] : []));
      if (primaries.length > 1) {
        const message = `only one guardian can be primary (guardians ${primaries.join(' and ')} are)`;
        throw new AppError('BUSINESS_RULE_VIOLATION', message, {
          errors: primaries.slice(1).map((index) => ({ field: `guardians.${index}.isPrimary`, in: 'body', message })),
        });
      }
      return db.transaction().execute(async (trx) => {
        const school = await schools.findById(trx, scope, body.schoolId);
        if (!school) {
          throw notFound('school');
        }
        const number = await families.nextNumber(trx, school.id);
        if (number > MAX_FAMILY_NUMBER) {
          throw new AppError('CONFLICT', `the school has used all ${MAX_FAMILY_NUMBER} family numbers a reference can hold`);
        }
        const reference = formatReference(schoolPrefix(school.name), number);
        const id = await families.insert(trx, {
          schoolId: school.id,
          name: body.name,
          reference,
          ...(body.preferredLanguage !== undefined ? { preferredLanguage: body.preferredLanguage } : {}),
        });
        await recordAudit(trx, actor, {
          action: 'family.create',
          entityType: 'family',
          entityId: id,
          schoolId: school.id,
          changes: { name: body.name, preferredLanguage: body.preferredLanguage ?? null, reference, guardians: guardians.length },
        });
        const family = await visibleFamily(trx, scope, id, 'noKeyUpdate');
        for (const guardian of guardians) {
          await addGuardian(trx, actor, family, guardian);
        }
        return detail(trx, scope, family);
      });
    },

    async updateFamily(actor: Actor, id: string, body: PatchFamilyBody): Promise<FamilyDetail> {
      const scope = requirePrincipal(actor);
      return db.transaction().execute(async (trx) => {
        const before = await visibleFamily(trx, scope, id, 'noKeyUpdate');
        await families.update(trx, before.schoolId, id, body);
        await recordAudit(trx, actor, {
          action: 'family.update',
          entityType: 'family',
          entityId: id,
          schoolId: before.schoolId,
          changes: Object.fromEntries(Object.entries(body).map(([field, value]) => [field, { from: before[field as keyof typeof body], to: value }])),
        });
        return detail(trx, scope, await visibleFamily(trx, scope, id));
      });
    },

    /**
     * Soft delete, refused (409) while the family has students, owes anything or holds
     * credit: its money and children must go somewhere first. The family row is held
     * FOR UPDATE, the lock the ledger takes before moving family credit, so no payment
     * lands between the check and the delete.
     */
    async deleteFamily(actor: Actor, id: string): Promise<void> {
      const scope = requirePrincipal(actor);
      await db.transaction().execute(async (trx) => {
        const family = await visibleFamily(trx, scope, id, 'update');
        const students = await families.countStudents(trx, family.schoolId, id);
        if (students > 0) {
          throw new AppError('CONFLICT', `the family still has ${students} student(s); take them out of it (PATCH /students/:id {familyId: null}) first`);
        }
        const owed = await families.owed(trx, family.schoolId, id);
        if (owed > 0) {
          throw new AppError('CONFLICT', `the family still owes ${owed} (minor units); settle or cancel its invoices first`);
        }
        if (family.creditBalance > 0) {
          throw new AppError('CONFLICT', `the family holds ${family.creditBalance} of credit (minor units); apply or refund it first`);
        }
        await families.softDelete(trx, family.schoolId, id);
        await recordAudit(trx, actor, { action: 'family.delete', entityType: 'family', entityId: id, schoolId: family.schoolId });
      });
    },

    // ---------------------------------------------------------------- guardians
    async createGuardian(actor: Actor, familyId: string, body: CreateGuardianBody): Promise<GuardianRow> {
      const scope = requirePrincipal(actor);
      return db.transaction().execute(async (trx) => {
        const family = await visibleFamily(trx, scope, familyId, 'noKeyUpdate');
        if ((await families.countGuardians(trx, family.schoolId, family.id)) >= MAX_GUARDIANS_PER_FAMILY) {
          throw new AppError('CONFLICT', `the family already has ${MAX_GUARDIANS_PER_FAMILY} guardians, the most one family may have`);
        }
        const id = await addGuardian(trx, actor, family, body);
        return presentGuardian(await visibleGuardian(trx, scope, id), scope);
      });
    },

    async updateGuardian(actor: Actor, id: string, body: PatchGuardianBody): Promise<GuardianRow> {
      const scope = requirePrincipal(actor);
      return db.transaction().execute(async (trx) => {
        const { guardian, family } = await lockedGuardian(trx, scope, id);
        if (body.isPrimary === true && !guardian.isPrimary) {
          await families.clearPrimary(trx, family.schoolId, family.id);
        }
        await families.updateGuardian(trx, family.schoolId, id, body);
        await recordAudit(trx, actor, {
          action: 'guardian.update',
          entityType: 'guardian',
          entityId: id,
          schoolId: family.schoolId,
          changes: Object.fromEntries(Object.entries(body).map(([field, value]) => [field, { from: guardian[field as keyof typeof body], to: value }])),
        });
        return presentGuardian(await visibleGuardian(trx, scope, id), scope);
      });
    },

    /**
     * Soft delete; the family is left without a primary guardian if this was it (the bursar chooses the next one).
     * A guardian who pays an enrolment still running is kept (409 GUARDIAN_IS_PAYER): the next bill run would bill them.
     */
    async deleteGuardian(actor: Actor, id: string): Promise<void> {
      const scope = requirePrincipal(actor);
      await db.transaction().execute(async (trx) => {
        const { family } = await lockedGuardian(trx, scope, id);
        // Deleted first, then checked: the update locks the guardian row, which an enrolment
        // naming this payer holds FOR SHARE until it commits (enrolments.repository
        // guardiansOfFamily), so either the check sees that enrolment or the enrolment sees
        // the guardian gone; a refusal rolls the delete back.
        await families.softDeleteGuardian(trx, family.schoolId, id);
        const paying = await families.payerOfRunningEnrolments(trx, family.schoolId, id, 5);
        if (paying.length > 0) {
          const names = [...new Set(paying.map((e) => studentName(e.firstName, e.lastName, scope)))].join(', ');
          throw new AppError('GUARDIAN_IS_PAYER', `this guardian pays enrolments still running (${names}); withdraw them or enrol again with other payers first`, {
            errors: [{ field: 'id', in: 'params', message: `pays ${paying.length === 5 ? 'at least 5' : paying.length} running enrolment(s): ${paying.map((e) => e.enrolmentId).join(', ')}` }],
          });
        }
        await recordAudit(trx, actor, { action: 'guardian.delete', entityType: 'guardian', entityId: id, schoolId: family.schoolId, changes: { familyId: family.id } });
      });
    },

    getGuardian: async (scope: Scope, id: string) => presentGuardian(await visibleGuardian(db, scope, id), scope),
  };
}
