import { sql } from 'kysely';
import { PREPARED, type DbOrTx } from '../../db/database.js';
import type { GuardianLink } from '../../shared/policy.js';
import type { Role } from '../../db/types.js';

/** Sessions (refresh-token families), refresh tokens and the failed-login throttle. */
export function createAuthRepository() {
  return {
    async createSession(
      db: DbOrTx,
      session: { userId: string; expiresAt: Date; ip: string | null; userAgent: string | null },
    ): Promise<string> {
      const row = await db
        .insertInto('auth_sessions')
        .values({ user_id: session.userId, expires_at: session.expiresAt, ip: session.ip, user_agent: session.userAgent })
        .returning('id')
        .executeTakeFirstOrThrow();
      return row.id;
    },

    async insertRefreshToken(db: DbOrTx, token: { sessionId: string; hash: Buffer; expiresAt: Date }): Promise<void> {
      await db
        .insertInto('refresh_tokens')
        .values({ session_id: token.sessionId, token_hash: token.hash, expires_at: token.expiresAt })
        .execute();
    },

    /** The token and its session, row-locked: concurrent refreshes of one token serialise here. */
    findRefreshTokenForUpdate(db: DbOrTx, hash: Buffer) {
      return db
        .selectFrom('refresh_tokens as rt')
        .innerJoin('auth_sessions as s', 's.id', 'rt.session_id')
        .innerJoin('users as u', 'u.id', 's.user_id')
        .select([
          'rt.id',
          'rt.session_id as sessionId',
          'rt.expires_at as expiresAt',
          'rt.used_at as usedAt',
          's.revoked_at as sessionRevokedAt',
          'u.id as userId',
          'u.role',
          'u.is_active as userActive',
        ])
        .where('rt.token_hash', '=', hash)
        .forUpdate()
        .executeTakeFirst();
    },

    async markRefreshTokenUsed(db: DbOrTx, id: string): Promise<void> {
      await db.updateTable('refresh_tokens').set({ used_at: sql<Date>`now()` }).where('id', '=', id).execute();
    },

    async extendSession(db: DbOrTx, sessionId: string, expiresAt: Date): Promise<void> {
      await db.updateTable('auth_sessions').set({ expires_at: expiresAt }).where('id', '=', sessionId).execute();
    },

    async revokeSession(db: DbOrTx, sessionId: string, reason: string): Promise<void> {
      await db
        .updateTable('auth_sessions')
        .set({ revoked_at: sql<Date>`now()`, revoked_reason: reason })
        .where('id', '=', sessionId)
        .where('revoked_at', 'is', null)
        .execute();
    },

    async revokeUserSessions(db: DbOrTx, userId: string, reason: string): Promise<void> {
      await db
        .updateTable('auth_sessions')
        .set({ revoked_at: sql<Date>`now()`, revoked_reason: reason })
        .where('user_id', '=', userId)
        .where('revoked_at', 'is', null)
        .execute();
    },

    async sessionOfRefreshToken(db: DbOrTx, hash: Buffer): Promise<{ sessionId: string; userId: string } | undefined> {
      return db
        .selectFrom('refresh_tokens as rt')
        .innerJoin('auth_sessions as s', 's.id', 'rt.session_id')
        .select(['s.id as sessionId', 's.user_id as userId'])
        .where('rt.token_hash', '=', hash)
        .executeTakeFirst();
    },

    /**
     * Everything the guard needs per request, in one round trip: the user, their
     * schools and whether this access token's session is still live.
     */
    findCaller(db: DbOrTx, userId: string, sessionId: string) {
      return db
        .selectFrom('users')
        .modifyFront(PREPARED)
        .innerJoin('auth_sessions as s', 's.user_id', 'users.id')
        .select([
          'users.id',
          'users.username',
          'users.role',
          'users.is_active as isActive',
          sql<string[]>`array(select us.school_id::text from user_schools us where us.user_id = users.id order by 1)`.as(
            'schoolIds',
          ),
          sql<boolean>`s.revoked_at is null and s.expires_at > now()`.as('sessionLive'),
          // A guardian user's guardian and family; null when the guardian was deleted (the user then sees nothing).
          sql<GuardianLink | null>`(select json_build_object('schoolId', g.school_id, 'guardianId', g.id, 'familyId', g.family_id)
                                     from guardians g
                                    where g.school_id = users.guardian_school_id and g.id = users.guardian_id and g.deleted_at is null)`.as('guardian'),
        ])
        .where('users.id', '=', userId)
        .where('s.id', '=', sessionId)
        .executeTakeFirst() as Promise<
        { id: string; username: string; role: Role; isActive: boolean; schoolIds: string[]; sessionLive: boolean; guardian: GuardianLink | null } | undefined
      >;
    },

    /** Seconds until the first of these keys is unlocked, or 0 if none is locked. */
    async lockedFor(db: DbOrTx, keys: string[]): Promise<number> {
      const row = await db
        .selectFrom('login_throttle')
        .select(sql<number>`coalesce(ceil(extract(epoch from max(locked_until) - now())), 0)::int`.as('seconds'))
        .where('key', 'in', keys)
        .where('locked_until', '>', sql<Date>`now()`)
        .executeTakeFirst();
      return Math.max(0, row?.seconds ?? 0);
    },

    /**
     * Counts one failure for `key` in a fixed window; reaching `max` locks the key
     * until the window's length has passed. One statement, so concurrent failures from
     * several instances are all counted.
     */
    async recordFailure(db: DbOrTx, key: string, max: number, windowSeconds: number): Promise<void> {
      const window = sql`make_interval(secs => ${windowSeconds})`;
      await sql`
        insert into login_throttle as t (key, failures, window_start, locked_until)
        values (${key}, 1, now(), case when 1 >= ${max} then now() + ${window} end)
        on conflict (key) do update set
          failures     = case when t.window_start < now() - ${window} then 1 else t.failures + 1 end,
          window_start = case when t.window_start < now() - ${window} then now() else t.window_start end,
          locked_until = case
                           when (case when t.window_start < now() - ${window} then 1 else t.failures + 1 end) >= ${max}
                           then now() + ${window}
                           else t.locked_until
                         end`.execute(db);
    },

    async clearFailures(db: DbOrTx, key: string): Promise<void> {
      await db.deleteFrom('login_throttle').where('key', '=', key).execute();
    },
  };
}

export type AuthRepository = ReturnType<typeof createAuthRepository>;
