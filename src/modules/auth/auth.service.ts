import type { Db } from '../../db/database.js';
import { AppError } from '../../shared/errors.js';
import type { Actor } from '../../shared/context.js';
import { principalFor, type Principal } from '../../shared/policy.js';
import { recordAudit } from '../audit/audit.repository.js';
import type { AuthRepository } from './auth.repository.js';
import { burnPasswordCheck, verifyPassword } from './passwords.js';
import { hashRefreshToken, newRefreshToken, type AccessTokens } from './tokens.js';
import type { UsersRepository } from './users.repository.js';

export interface TokenPair {
  accessToken: string;
  refreshToken: string;
  tokenType: 'Bearer';
  expiresIn: number;
}

export interface AuthServiceOptions {
  db: Db;
  tokens: AccessTokens;
  auth: AuthRepository;
  users: UsersRepository;
  refreshTokenTtlSeconds: number;
  throttle: { maxPerUser: number; maxPerIp: number; windowSeconds: number };
}

export type AuthService = ReturnType<typeof createAuthService>;

const invalidCredentials = () => new AppError('INVALID_CREDENTIALS', 'username or password is incorrect');
const invalidRefresh = () => new AppError('UNAUTHENTICATED', 'refresh token is not valid');

export function normaliseUsername(username: string): string {
  return username.trim().toLowerCase();
}

export function createAuthService(options: AuthServiceOptions) {
  const { db, tokens, auth, users, throttle } = options;
  const refreshExpiry = () => new Date(Date.now() + options.refreshTokenTtlSeconds * 1000);

  async function issue(sessionId: string, user: { id: string; role: string }): Promise<TokenPair> {
    const refresh = newRefreshToken();
    await auth.insertRefreshToken(db, { sessionId, hash: refresh.hash, expiresAt: refreshExpiry() });
    return {
      accessToken: await tokens.sign({ userId: user.id, sessionId, role: user.role }),
      refreshToken: refresh.token,
      tokenType: 'Bearer',
      expiresIn: tokens.ttlSeconds,
    };
  }

  return {
    /**
     * Checks the throttle before the password (a locked username costs no hashing),
     * counts failures per username and per client IP, and clears the username's
     * counter on success. Unknown usernames take as long as known ones.
     */
    async login(input: { username: string; password: string }, actor: Actor): Promise<TokenPair> {
      const username = normaliseUsername(input.username);
      const userKey = `user:${username}`;
      const ipKey = `ip:${actor.ip ?? 'unknown'}`;
      const wait = await auth.lockedFor(db, [userKey, ipKey]);
      if (wait > 0) {
        throw new AppError('LOGIN_THROTTLED', `too many failed logins; try again in ${wait} s`, {
          headers: { 'retry-after': String(wait) },
        });
      }
      const user = await users.findCredentials(db, username);
      const valid = user ? await verifyPassword(user.passwordHash, input.password) : (await burnPasswordCheck(input.password), false);
      if (!user || !valid || !user.isActive) {
        await auth.recordFailure(db, userKey, throttle.maxPerUser, throttle.windowSeconds);
        await auth.recordFailure(db, ipKey, throttle.maxPerIp, throttle.windowSeconds);
        throw invalidCredentials();
      }
      return db.transaction().execute(async (trx) => {
        await auth.clearFailures(trx, userKey);
        await users.touchLastLogin(trx, user.id);
        const sessionId = await auth.createSession(trx, {
          userId: user.id,
          expiresAt: refreshExpiry(),
          ip: actor.ip ?? null,
          userAgent: actor.userAgent?.slice(0, 300) ?? null,
        });
        const refresh = newRefreshToken();
        await auth.insertRefreshToken(trx, { sessionId, hash: refresh.hash, expiresAt: refreshExpiry() });
        await recordAudit(trx, { ...actor, principal: null }, {
          action: 'auth.login',
          entityType: 'user',
          entityId: user.id,
          changes: { sessionId },
        });
        return {
          accessToken: await tokens.sign({ userId: user.id, sessionId, role: user.role }),
          refreshToken: refresh.token,
          tokenType: 'Bearer' as const,
          expiresIn: tokens.ttlSeconds,
        };
      });
    },

    /**
     * Rotation: a refresh token works once and yields a new pair in the same session.
     * Presenting a used token again means it leaked (or a client raced itself): the
     * whole session is revoked, which also ends its access tokens, and that revocation
     * is committed before the 401 is returned.
     */
    async refresh(refreshToken: string, actor: Actor): Promise<TokenPair> {
      const hash = hashRefreshToken(refreshToken);
      const outcome = await db.transaction().execute(async (trx) => {
        const row = await auth.findRefreshTokenForUpdate(trx, hash);
        if (!row || row.sessionRevokedAt !== null || !row.userActive) {
          return { kind: 'invalid' } as const;
        }
        if (row.usedAt !== null) {
          await auth.revokeSession(trx, row.sessionId, 'refresh_token_reuse');
          await recordAudit(trx, actor, {
            action: 'auth.refresh_token_reused',
            entityType: 'user',
            entityId: row.userId,
            changes: { sessionId: row.sessionId },
          });
          return { kind: 'reused' } as const;
        }
        if (row.expiresAt.getTime() <= Date.now()) {
          return { kind: 'invalid' } as const;
        }
        await auth.markRefreshTokenUsed(trx, row.id);
        await auth.extendSession(trx, row.sessionId, refreshExpiry());
        return { kind: 'ok', sessionId: row.sessionId, user: { id: row.userId, role: row.role } } as const;
      });
      switch (outcome.kind) {
        case 'invalid':
          throw invalidRefresh();
        case 'reused':
          throw new AppError('REFRESH_TOKEN_REUSED', 'refresh token was already used; the session has been revoked, log in again');
        case 'ok':
          return issue(outcome.sessionId, outcome.user);
      }
    },

    /**
     * Ends the caller's current session (its refresh tokens and access tokens), or the
     * session of the refresh token given, if it is the caller's; `all` ends every session.
     */
    async logout(principal: Principal, input: { refreshToken?: string; all?: boolean }, actor: Actor): Promise<void> {
      await db.transaction().execute(async (trx) => {
        if (input.all) {
          await auth.revokeUserSessions(trx, principal.userId, 'logout_all');
        } else {
          let sessionId = principal.sessionId;
          if (input.refreshToken) {
            const owner = await auth.sessionOfRefreshToken(trx, hashRefreshToken(input.refreshToken));
            if (owner?.userId !== principal.userId) {
              throw invalidRefresh();
            }
            sessionId = owner.sessionId;
          }
          await auth.revokeSession(trx, sessionId, 'logout');
        }
        await recordAudit(trx, actor, {
          action: input.all ? 'auth.logout_all' : 'auth.logout',
          entityType: 'user',
          entityId: principal.userId,
        });
      });
    },

    /** Access token → Principal; the user and session are re-read so revocation and role changes apply at once. */
    async authenticate(accessToken: string): Promise<Principal> {
      const claims = await tokens.verify(accessToken);
      const caller = await auth.findCaller(db, claims.userId, claims.sessionId);
      if (!caller?.isActive || !caller.sessionLive) {
        throw new AppError('UNAUTHENTICATED', 'the session has ended; log in again', {
          headers: { 'www-authenticate': 'Bearer error="invalid_token"' },
        });
      }
      return principalFor(caller, claims.sessionId);
    },
  };
}
