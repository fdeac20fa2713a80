import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import type { Db, DbOrTx } from '../../db/database.js';
import type { Role } from '../../db/types.js';
import { hashPassword } from './passwords.js';

/** A user as the rest of the app sees it: never the password hash. */
export interface UserRecord {
  id: string;
  username: string;
  role: Role;
  isActive: boolean;
  schoolIds: string[];
  /** Role guardian: the guardian this user is. */
  guardianId: string | null;
  createdAt: Date;
  updatedAt: Date;
  lastLoginAt: Date | null;
}

/** Sorted ids of the schools a user is assigned to, as one array column. */
const schoolIdsOf = sql<string[]>`array(select us.school_id::text from user_schools us where us.user_id = users.id order by 1)`;

const userColumns = [
  'users.id',
  'users.username',
  'users.role',
  'users.is_active as isActive',
  schoolIdsOf.as('schoolIds'),
  'users.guardian_id as guardianId',
  'users.created_at as createdAt',
  'users.updated_at as updatedAt',
  'users.last_login_at as lastLoginAt',
] as const;

export function createUsersRepository() {
  return {
    findById(db: DbOrTx, id: string): Promise<UserRecord | undefined> {
      return db.selectFrom('users').select(userColumns).where('users.id', '=', id).executeTakeFirst();
    },

    /** For login only: the one place the hash is read. */
    findCredentials(db: DbOrTx, username: string) {
      return db
        .selectFrom('users')
        .select(['id', 'username', 'role', 'password_hash as passwordHash', 'is_active as isActive'])
        .where('username', '=', username)
        .executeTakeFirst();
    },

    /** Keyset page in creation order (ids are UUIDv7). Fetches limit + 1 rows. */
    list(db: DbOrTx, page: { limit: number; afterId?: string }): Promise<UserRecord[]> {
      return db
        .selectFrom('users')
        .select(userColumns)
        .$if(page.afterId !== undefined, (qb) => qb.where('users.id', '>', page.afterId ?? ''))
        .orderBy('users.id')
        .limit(page.limit + 1)
        .execute();
    },

    async insert(db: DbOrTx, user: { username: string; passwordHash: string; role: Role; guardian?: { schoolId: string; id: string } }): Promise<string> {
      const row = await db
        .insertInto('users')
        .values({
          username: user.username,
          password_hash: user.passwordHash,
          role: user.role,
          guardian_school_id: user.guardian?.schoolId ?? null,
          guardian_id: user.guardian?.id ?? null,
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      return row.id;
    },

    async update(
      db: DbOrTx,
      id: string,
      changes: { role?: Role; passwordHash?: string; isActive?: boolean },
    ): Promise<void> {
      await db
        .updateTable('users')
        .set({
          ...(changes.role !== undefined ? { role: changes.role } : {}),
          ...(changes.passwordHash !== undefined ? { password_hash: changes.passwordHash } : {}),
          ...(changes.isActive !== undefined ? { is_active: changes.isActive } : {}),
          updated_at: sql<Date>`now()`,
        })
        .where('id', '=', id)
        .execute();
    },

    async replaceSchools(db: DbOrTx, userId: string, schoolIds: readonly string[]): Promise<void> {
      await db.deleteFrom('user_schools').where('user_id', '=', userId).execute();
      if (schoolIds.length > 0) {
        await db
          .insertInto('user_schools')
          .values(schoolIds.map((schoolId) => ({ user_id: userId, school_id: schoolId })))
          .execute();
      }
    },

    /** Which of these ids are live (not deleted) schools. */
    async existingSchoolIds(db: DbOrTx, ids: readonly string[]): Promise<Set<string>> {
      if (ids.length === 0) {
        return new Set();
      }
      const rows = await db
        .selectFrom('schools')
        .select('id')
        .where('id', 'in', ids)
        .where('deleted_at', 'is', null)
        .execute();
      return new Set(rows.map((row) => row.id));
    },

    async touchLastLogin(db: DbOrTx, id: string): Promise<void> {
      await db.updateTable('users').set({ last_login_at: sql<Date>`now()` }).where('id', '=', id).execute();
    },
  };
}

export type UsersRepository = ReturnType<typeof createUsersRepository>;

/**
 * A system user (the demo simulator, the payment gateway): the author of what it writes,
 * inactive so it cannot log in, with a password no one knows; created once, by whichever
 * process asks first.
 */
export async function ensureSystemUser(db: Db, username: string): Promise<string> {
  const existing = await db.selectFrom('users').select('id').where('username', '=', username).executeTakeFirst();
  if (existing) {
    return existing.id;
  }
  const passwordHash = await hashPassword(randomBytes(32).toString('base64url'));
  await db
    .insertInto('users')
    .values({ username, password_hash: passwordHash, role: 'super_admin', is_active: false })
    .onConflict((oc) => oc.column('username').doNothing())
    .execute();
  return (await db.selectFrom('users').select('id').where('username', '=', username).executeTakeFirstOrThrow()).id;
}
