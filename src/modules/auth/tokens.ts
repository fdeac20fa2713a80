import { randomBytes, randomUUID } from 'node:crypto';
import { createHash } from 'node:crypto';
import { errors, jwtVerify, SignJWT } from 'jose';
import { AppError } from '../../shared/errors.js';

/**
 * Access tokens: short-lived JWTs, HS256 only (the algorithm is pinned on verify, so
 * `alg: none` or a switched algorithm is rejected), with issuer, audience, expiry and
 * the session id they belong to. Refresh tokens: opaque random strings; only their
 * SHA-256 is stored.
 */
export const ACCESS_TOKEN_ALG = 'HS256';

export interface AccessClaims {
  userId: string;
  sessionId: string;
}

export interface AccessTokenOptions {
  secret: string;
  issuer: string;
  audience: string;
  ttlSeconds: number;
}

export type AccessTokens = ReturnType<typeof createAccessTokens>;

export function createAccessTokens(options: AccessTokenOptions) {
  const key = new TextEncoder().encode(options.secret);
  return {
    ttlSeconds: options.ttlSeconds,

    sign(claims: AccessClaims & { role: string }): Promise<string> {
      return new SignJWT({ sid: claims.sessionId, role: claims.role })
        .setProtectedHeader({ alg: ACCESS_TOKEN_ALG, typ: 'JWT' })
        .setSubject(claims.userId)
        .setIssuer(options.issuer)
        .setAudience(options.audience)
        .setIssuedAt()
        .setExpirationTime(`${options.ttlSeconds}s`)
        .setJti(randomUUID())
        .sign(key);
    },

    async verify(token: string): Promise<AccessClaims> {
      try {
        const { payload } = await jwtVerify(token, key, {
          algorithms: [ACCESS_TOKEN_ALG],
          issuer: options.issuer,
          audience: options.audience,
          requiredClaims: ['sub', 'sid', 'exp', 'iat'],
        });
        if (typeof payload.sub !== 'string' || typeof payload.sid !== 'string') {
          throw new AppError('UNAUTHENTICATED', 'access token is not valid');
        }
        return { userId: payload.sub, sessionId: payload.sid };
      } catch (error) {
        if (error instanceof AppError) {
          throw error;
        }
        if (error instanceof errors.JWTExpired) {
          throw new AppError('TOKEN_EXPIRED', 'access token has expired; refresh it', {
            headers: { 'www-authenticate': 'Bearer error="invalid_token", error_description="expired"' },
          });
        }
        throw new AppError('UNAUTHENTICATED', 'access token is not valid', {
          headers: { 'www-authenticate': 'Bearer error="invalid_token"' },
        });
      }
    },
  };
}

export function newRefreshToken(): { token: string; hash: Buffer } {
  const token = randomBytes(32).toString('base64url');
  return { token, hash: hashRefreshToken(token) };
}

export function hashRefreshToken(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}
