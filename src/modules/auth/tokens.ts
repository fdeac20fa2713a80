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
  /** Epoch milliseconds; the system clock unless a test moves time itself. */
  now?: () => number;
}

export type AccessTokens = ReturnType<typeof createAccessTokens>;

/** How many verified access tokens are remembered (about 0.5 kB each); the oldest is forgotten first. */
const VERIFIED_MAX = 10_000;

export function createAccessTokens(options: AccessTokenOptions) {
  const now = options.now ?? Date.now;
  // Imported once: given the raw bytes, jose imports the key again on every call.
  const key = crypto.subtle.importKey('raw', new TextEncoder().encode(options.secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
  // Tokens whose signature and claims were verified, with their expiry (seconds). A token
  // is the same bytes on every request of a session: its signature is checked once, not
  // on each request (HMAC through WebCrypto was a sixth of a payment's time in the API).
  // The expiry is checked on every use, as jose does; the session and the user are
  // re-read on every request by the caller (AuthService.authenticate), so a revoked
  // session or a deactivated user is refused at once either way.
  const verified = new Map<string, AccessClaims & { exp: number }>();
  return {
    ttlSeconds: options.ttlSeconds,

    async sign(claims: AccessClaims & { role: string }): Promise<string> {
      const issuedAt = Math.floor(now() / 1000);
      return new SignJWT({ sid: claims.sessionId, role: claims.role })
        .setProtectedHeader({ alg: ACCESS_TOKEN_ALG, typ: 'JWT' })
        .setSubject(claims.userId)
        .setIssuer(options.issuer)
        .setAudience(options.audience)
        .setIssuedAt(issuedAt)
        .setExpirationTime(issuedAt + options.ttlSeconds)
        .setJti(randomUUID())
        .sign(await key);
    },

    async verify(token: string): Promise<AccessClaims> {
      const known = verified.get(token);
      if (known !== undefined) {
        if (known.exp <= Math.floor(now() / 1000)) {
          verified.delete(token);
          throw expired();
        }
        return { userId: known.userId, sessionId: known.sessionId };
      }
      try {
        const { payload } = await jwtVerify(token, await key, {
          algorithms: [ACCESS_TOKEN_ALG],
          issuer: options.issuer,
          audience: options.audience,
          requiredClaims: ['sub', 'sid', 'exp', 'iat'],
          currentDate: new Date(now()),
        });
        if (typeof payload.sub !== 'string' || typeof payload.sid !== 'string' || typeof payload.exp !== 'number') {
          throw new AppError('UNAUTHENTICATED', 'access token is not valid');
        }
        if (verified.size >= VERIFIED_MAX) {
          verified.delete(verified.keys().next().value ?? '');
        }
        verified.set(token, { userId: payload.sub, sessionId: payload.sid, exp: payload.exp });
        return { userId: payload.sub, sessionId: payload.sid };
      } catch (error) {
        if (error instanceof AppError) {
          throw error;
        }
        if (error instanceof errors.JWTExpired) {
          throw expired();
        }
        throw new AppError('UNAUTHENTICATED', 'access token is not valid', {
          headers: { 'www-authenticate': 'Bearer error="invalid_token"' },
        });
      }
    },
  };
}

const expired = () =>
  new AppError('TOKEN_EXPIRED', 'access token has expired; refresh it', {
    headers: { 'www-authenticate': 'Bearer error="invalid_token", error_description="expired"' },
  });

export function newRefreshToken(): { token: string; hash: Buffer } {
  const token = randomBytes(32).toString('base64url');
  return { token, hash: hashRefreshToken(token) };
}

export function hashRefreshToken(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}
