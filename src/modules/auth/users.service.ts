import type { Db, Tx } from '../../db/database.js';
import type { Role } from '../../db/types.js';
import { AppError, forbidden, notFound } from '../../shared/errors.js';
import { roleAllows } from '../../shared/policy.js';
import { inScope, SYSTEM_SCOPE, type Scope } from '../../shared/scope.js';
import type { Actor } from '../../shared/context.js';
import { cursorPart, decodeCursorOf, toPage, type Page } from '../../shared/pagination.js';
import { recordAudit } from '../audit/audit.repository.js';
import type { AuthRepository } from './auth.repository.js';
import { normaliseUsername } from './auth.service.js';
import { hashPassword } from './passwords.js';
import type { UserRecord, UsersRepository } from './users.repository.js';

export interface CreateUserInput {
  username: string;
  password: string;
  role: Role;
  schoolIds?: string[];
  guardianId?: string;
}

export interface UpdateUserInput {
  role?: Role;
  password?: string;
  isActive?: boolean;
  schoolIds?: string[];
}

export type UsersService = ReturnType<typeof createUsersService>;

/**
 * User administration (super_admin; a school_admin may create guardian users of guardians
 * of their schools, SPEC §8). Rules:
 * - school_admin users are assigned at least one school; other roles none (their
 *   scope is every school, so an assignment would be meaningless and misleading);
 * - a super_admin cannot demote or deactivate themselves (no lock-out by accident);
 * - changing a password, role, schools or deactivating ends the user's sessions.
 */
export function createUsersService(options: { db: Db; users: UsersRepository; auth: AuthRepository }) {
  const { db, users, auth } = options;

  async function checkSchools(trx: Tx, role: Role, schoolIds: readonly string[]): Promise<void> {
    if (role === 'guardian' && schoolIds.length > 0) {
      throw new AppError('BUSINESS_RULE_VIOLATION', 'a guardian sees their family’s school only; schoolIds must be empty', {
        errors: [{ field: 'schoolIds', message: 'must be empty for role guardian' }],
      });
    }
    if (role !== 'school_admin') {
      if (schoolIds.length > 0) {
        throw new AppError('BUSINESS_RULE_VIOLATION', `a ${role} sees every school; schoolIds must be empty`, {
          errors: [{ field: 'schoolIds', message: `must be empty for role ${role}` }],
        });
      }
      return;
    }
    if (schoolIds.length === 0) {
      throw new AppError('BUSINESS_RULE_VIOLATION', 'a school_admin needs at least one school', {
        errors: [{ field: 'schoolIds', message: 'must list at least one school for role school_admin' }],
      });
    }
    const existing = await users.existingSchoolIds(trx, schoolIds);
    const missing = schoolIds.filter((id) => !existing.has(id));
    if (missing.length > 0) {
      throw new AppError('REFERENCE_NOT_FOUND', `unknown school(s): ${missing.join(', ')}`, {
        errors: [{ field: 'schoolIds', message: `unknown school(s): ${missing.join(', ')}` }],
      });
    }
  }

  /** The guardian a new guardian user is, not deleted and without a user yet. */
  async function guardianForUser(trx: Tx, guardianId: string, scope: Scope | null): Promise<{ schoolId: string; id: string }> {
    // A school_admin names a guardian of their schools only (another school's is "no such guardian").
    const guardian = await trx
      .selectFrom('guardians')
      .select(['school_id as schoolId', 'id'])
      .where('id', '=', guardianId)
      .where('deleted_at', 'is', null)
      .$if(scope !== null, (qb) => qb.where((eb) => inScope(eb, 'school_id', scope ?? SYSTEM_SCOPE)))
      .executeTakeFirst();
    if (!guardian) {
      throw new AppError('REFERENCE_NOT_FOUND', 'no such guardian', { errors: [{ field: 'guardianId', in: 'body', message: 'no such guardian' }] });
    }
    const taken = await trx.selectFrom('users').select('id').where('guardian_school_id', '=', guardian.schoolId).where('guardian_id', '=', guardian.id).executeTakeFirst();
    if (taken) {
      throw new AppError('ALREADY_EXISTS', 'this guardian already has a user', { errors: [{ field: 'guardianId', in: 'body', message: 'already has a user' }] });
    }
    return guardian;
  }

  return {
    async list(query: { limit: number; cursor?: string }): Promise<Page<UserRecord>> {
      const afterId = query.cursor ? decodeCursorOf(query.cursor, [cursorPart.uuid])[0] : undefined;
      const rows = await users.list(db, { limit: query.limit, afterId });
      return toPage(rows, query.limit, (row) => [row.id]);
    },

    async get(id: string): Promise<UserRecord> {
      const user = await users.findById(db, id);
      if (!user) {
        throw notFound('user');
      }
      return user;
    },

    async create(input: CreateUserInput, actor: Actor): Promise<UserRecord> {
      const principal = actor.principal;
      if (principal && !roleAllows(principal.role, 'users:manage') && input.role !== 'guardian') {
        throw forbidden(`role ${principal.role} may only create guardian users (of a guardian of its schools)`);
      }
      const schoolIds = [...new Set(input.schoolIds ?? [])];
      if ((input.role === 'guardian') !== (input.guardianId !== undefined)) {
        const message = input.role === 'guardian' ? 'a guardian user names its guardian' : `only a guardian user has a guardianId (not a ${input.role})`;
        throw new AppError('VALIDATION_FAILED', message, { errors: [{ field: 'guardianId', in: 'body', message }] });
      }
      const passwordHash = await hashPassword(input.password);
      return db.transaction().execute(async (trx) => {
        await checkSchools(trx, input.role, schoolIds);
        const guardian = input.guardianId === undefined ? undefined : await guardianForUser(trx, input.guardianId, principal ?? null);
        const id = await users.insert(trx, { username: normaliseUsername(input.username), passwordHash, role: input.role, ...(guardian ? { guardian } : {}) });
        await users.replaceSchools(trx, id, schoolIds);
        const created = await users.findById(trx, id);
        if (!created) {
          throw new Error('user vanished inside its own transaction');
        }
        await recordAudit(trx, actor, {
          action: 'user.create',
          entityType: 'user',
          entityId: id,
          changes: { username: created.username, role: created.role, schoolIds, ...(guardian ? { guardianId: guardian.id } : {}) },
        });
        return created;
      });
    },

    async update(id: string, input: UpdateUserInput, actor: Actor): Promise<UserRecord> {
      const passwordHash = input.password === undefined ? undefined : await hashPassword(input.password);
      return db.transaction().execute(async (trx) => {
        const before = await users.findById(trx, id);
        if (!before) {
          throw notFound('user');
        }
        const self = actor.principal?.userId === id;
        if (self && input.role !== undefined && input.role !== before.role) {
          throw new AppError('BUSINESS_RULE_VIOLATION', 'you cannot change your own role', {
            errors: [{ field: 'role', message: 'cannot change your own role' }],
          });
        }
        if (self && input.isActive === false) {
          throw new AppError('BUSINESS_RULE_VIOLATION', 'you cannot deactivate yourself', {
            errors: [{ field: 'isActive', message: 'cannot deactivate yourself' }],
          });
        }
        const role = input.role ?? before.role;
        const roleChanged = role !== before.role;
        // A guardian user is its guardian: it is neither made from nor turned into a staff user.
        if (roleChanged && (role === 'guardian' || before.role === 'guardian')) {
          throw new AppError('BUSINESS_RULE_VIOLATION', 'a guardian user cannot change role (create a new user instead)', {
            errors: [{ field: 'role', message: role === 'guardian' ? 'create a guardian user with POST /users {role: "guardian", guardianId} or an invitation' : 'a guardian user stays a guardian' }],
          });
        }
        // Moving to a role without assigned schools clears them unless new ones are given.
        const schoolIds = [...new Set(input.schoolIds ?? (role === 'school_admin' ? before.schoolIds : []))];
        await checkSchools(trx, role, schoolIds);
        await users.update(trx, id, { role: input.role, passwordHash, isActive: input.isActive });
        const schoolsChanged =
          schoolIds.length !== before.schoolIds.length || schoolIds.some((schoolId) => !before.schoolIds.includes(schoolId));
        if (schoolsChanged) {
          await users.replaceSchools(trx, id, schoolIds);
        }
        if (passwordHash !== undefined || input.isActive === false || roleChanged || schoolsChanged) {
          await auth.revokeUserSessions(trx, id, 'user_changed');
        }
        const after = await users.findById(trx, id);
        if (!after) {
          throw new Error('user vanished inside its own transaction');
        }
        await recordAudit(trx, actor, {
          action: 'user.update',
          entityType: 'user',
          entityId: id,
          changes: {
            ...(roleChanged ? { role: { from: before.role, to: after.role } } : {}),
            ...(input.isActive !== undefined && input.isActive !== before.isActive
              ? { isActive: { from: before.isActive, to: after.isActive } }
              : {}),
            ...(schoolsChanged ? { schoolIds: { from: before.schoolIds, to: after.schoolIds } } : {}),
            ...(passwordHash !== undefined ? { passwordChanged: true } : {}),
          },
        });
        return after;
      });
    },
  };
}
