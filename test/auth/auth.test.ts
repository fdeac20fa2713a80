import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SignJWT, UnsecuredJWT } from 'jose';
import { bearer, createTestApp, insertUser, login, PASSWORD, problemOf, TEST_JWT_SECRET, type TestApp } from '../helpers/app.js';

describe('auth', () => {
  let t: TestApp;
  let userId: string;

  before(async () => {
    t = await createTestApp({ env: { LOGIN_MAX_FAILURES_PER_USER: '100', LOGIN_MAX_FAILURES_PER_IP: '100' } });
    userId = await insertUser(t.db, { username: 'alice', role: 'finance_analyst' });
    await insertUser(t.db, { username: 'dormant', role: 'developer', isActive: false });
  });
  after(() => t.close());

  const me = (token: string) => t.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: bearer(token) });
  const refresh = (refreshToken: string) => t.app.inject({ method: 'POST', url: '/api/v1/auth/refresh', payload: { refreshToken } });

  describe('login', () => {
    test('returns a bearer token pair', async () => {
      const response = await t.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'alice', password: PASSWORD } });
      assert.equal(response.statusCode, 200);
      const body = response.json<{ accessToken: string; refreshToken: string; tokenType: string; expiresIn: number }>();
      assert.equal(body.tokenType, 'Bearer');
      assert.equal(body.expiresIn, t.config.auth.accessTokenTtlSeconds);
      assert.equal(body.accessToken.split('.').length, 3);
      assert.ok(body.refreshToken.length >= 40);
    });

    test('usernames are case-insensitive', async () => {
      const tokens = await login(t.app, 'ALICE');
      assert.equal((await me(tokens.accessToken)).statusCode, 200);
    });

    test('usernames are compared case-insensitively and after trimming, and created users are stored in lower case', async () => {
      const tokens = await login(t.app, '  Alice ');
      assert.equal((await me(tokens.accessToken)).statusCode, 200);
      await insertUser(t.db, { username: 'case.root', role: 'super_admin' });
      const root = await login(t.app, 'case.root');
      const created = await t.app.inject({
        method: 'POST',
        url: '/api/v1/users',
        headers: bearer(root.accessToken),
        payload: { username: 'Mixed.Case', password: 'a-long-password', role: 'developer' },
      });
      assert.equal(created.statusCode, 201, created.body);
      assert.equal(created.json<{ username: string }>().username, 'mixed.case');
      const again = await t.app.inject({
        method: 'POST',
        url: '/api/v1/users',
        headers: bearer(root.accessToken),
        payload: { username: 'MIXED.case', password: 'a-long-password', role: 'developer' },
      });
      assert.equal(again.statusCode, 409, 'one user whatever the case');
      assert.equal((await login(t.app, 'MIXED.CASE', 'a-long-password')).accessToken.split('.').length, 3);
    });

    test('anonymous login with a NUL byte or a lone surrogate is a 400 naming the field, never a 500', async () => {
      for (const payload of [
        { username: 'a\u0000b', password: PASSWORD },
        { username: 'alice', password: 'pass\u0000word' },
        { username: '\ud800alice', password: PASSWORD },
      ]) {
        const response = await t.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload });
        assert.equal(response.statusCode, 400, JSON.stringify(payload));
        const field = payload.username === 'alice' ? 'password' : 'username';
        assert.deepEqual(problemOf(response).errors?.map((e) => [e.field, e.in]), [[field, 'body']]);
      }
    });

    test('login fields are never coerced: a number or a boolean is a 400 naming it', async () => {
      const response = await t.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 1000, password: true } });
      assert.equal(response.statusCode, 400);
      assert.deepEqual(problemOf(response).errors?.map((e) => e.field).sort(), ['password', 'username']);
    });

    test('wrong password, unknown user and inactive user all get the same 401', async () => {
      const attempts = [
        { username: 'alice', password: 'wrong-password' },
        { username: 'nobody', password: PASSWORD },
        { username: 'dormant', password: PASSWORD },
      ];
      const details = new Set<string>();
      for (const payload of attempts) {
        const response = await t.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload });
        assert.equal(response.statusCode, 401);
        const problem = problemOf(response);
        assert.equal(problem.code, 'INVALID_CREDENTIALS');
        details.add(problem.detail);
      }
      assert.equal(details.size, 1, 'no hint of which part was wrong');
    });

    test('the password is stored as an argon2id hash with OWASP parameters', async () => {
      const row = await t.db.selectFrom('users').select('password_hash').where('id', '=', userId).executeTakeFirstOrThrow();
      assert.match(row.password_hash, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    });

    test('a successful login is audited', async () => {
      await login(t.app, 'alice');
      const rows = await t.db.selectFrom('audit_log').select(['action', 'request_id']).where('entity_id', '=', userId).where('action', '=', 'auth.login').execute();
      assert.ok(rows.length > 0);
      assert.ok(rows.every((row) => typeof row.request_id === 'string'));
    });
  });

  describe('me', () => {
    test('describes the caller', async () => {
      const tokens = await login(t.app, 'alice');
      const response = await me(tokens.accessToken);
      const body = response.json<{ id: string; username: string; role: string; schoolIds: unknown; pii: string; permissions: string[] }>();
      assert.equal(body.id, userId);
      assert.equal(body.username, 'alice');
      assert.equal(body.role, 'finance_analyst');
      assert.equal(body.schoolIds, 'all');
      assert.equal(body.pii, 'masked');
      assert.ok(body.permissions.includes('reports:export'));
      assert.ok(!body.permissions.includes('billing:write'));
    });

    test('needs a token', async () => {
      const response = await t.app.inject({ method: 'GET', url: '/api/v1/auth/me' });
      assert.equal(response.statusCode, 401);
      assert.equal(problemOf(response).code, 'UNAUTHENTICATED');
      assert.equal(response.headers['www-authenticate'], 'Bearer');
    });
  });

  describe('access tokens', () => {
    const sign = (claims: Record<string, unknown>, options: { secret?: string; alg?: string; exp?: number | string; iss?: string; aud?: string } = {}) =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: options.alg ?? 'HS256' })
        .setSubject(typeof claims.sub === 'string' ? claims.sub : userId)
        .setIssuer(options.iss ?? t.config.auth.issuer)
        .setAudience(options.aud ?? t.config.auth.audience)
        .setIssuedAt()
        .setExpirationTime(options.exp ?? '5m')
        .sign(new TextEncoder().encode(options.secret ?? TEST_JWT_SECRET));

    const sessionOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as { sid: string };

    test('a well-formed token made here is accepted (control for the cases below)', async () => {
      const { accessToken } = await login(t.app, 'alice');
      const { sid } = sessionOf(accessToken);
      assert.equal((await me(await sign({ sid }))).statusCode, 200);
    });

    test('an expired token is 401 TOKEN_EXPIRED', async () => {
      const { accessToken } = await login(t.app, 'alice');
      const { sid } = sessionOf(accessToken);
      const expired = await sign({ sid }, { exp: Math.floor(Date.now() / 1000) - 10 });
      const response = await me(expired);
      assert.equal(response.statusCode, 401);
      assert.equal(problemOf(response).code, 'TOKEN_EXPIRED');
    });

    test('a tampered token is rejected', async () => {
      const { accessToken } = await login(t.app, 'alice');
      const [header, payload, signature] = accessToken.split('.') as [string, string, string];
      const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
      const forgedPayload = Buffer.from(JSON.stringify({ ...claims, role: 'super_admin' })).toString('base64url');
      const forged = await me(`${header}.${forgedPayload}.${signature}`);
      assert.equal(forged.statusCode, 401);
      const flipped = signature.startsWith('A') ? `B${signature.slice(1)}` : `A${signature.slice(1)}`;
      assert.equal((await me(`${header}.${payload}.${flipped}`)).statusCode, 401);
      assert.equal((await me('not.a.jwt')).statusCode, 401);
    });

    test('alg: none is rejected', async () => {
      const { accessToken } = await login(t.app, 'alice');
      const { sid } = sessionOf(accessToken);
      const unsigned = new UnsecuredJWT({ sid })
        .setSubject(userId)
        .setIssuer(t.config.auth.issuer)
        .setAudience(t.config.auth.audience)
        .setIssuedAt()
        .setExpirationTime('5m')
        .encode();
      assert.match(unsigned, /\.$/);
      const response = await me(unsigned);
      assert.equal(response.statusCode, 401);
      assert.equal(problemOf(response).code, 'UNAUTHENTICATED');
    });

    test('another algorithm with the same secret is rejected (algorithm pinned)', async () => {
      const { accessToken } = await login(t.app, 'alice');
      const { sid } = sessionOf(accessToken);
      assert.equal((await me(await sign({ sid }, { alg: 'HS512' }))).statusCode, 401);
    });

    test('wrong issuer, audience or secret is rejected', async () => {
      const { accessToken } = await login(t.app, 'alice');
      const { sid } = sessionOf(accessToken);
      assert.equal((await me(await sign({ sid }, { iss: 'someone-else' }))).statusCode, 401);
      assert.equal((await me(await sign({ sid }, { aud: 'another-api' }))).statusCode, 401);
      assert.equal((await me(await sign({ sid }, { secret: 'a-different-secret-of-sufficient-length!!' }))).statusCode, 401);
    });

    test('a token without a session claim is rejected', async () => {
      assert.equal((await me(await sign({}))).statusCode, 401);
    });
  });

  describe('refresh', () => {
    test('rotates: the new pair works and the old refresh token is spent', async () => {
      const first = await login(t.app, 'alice');
      const response = await refresh(first.refreshToken);
      assert.equal(response.statusCode, 200);
      const second = response.json<{ accessToken: string; refreshToken: string }>();
      assert.notEqual(second.refreshToken, first.refreshToken);
      assert.equal((await me(second.accessToken)).statusCode, 200);
    });

    test('reusing a rotated token revokes the whole family, including its access tokens', async () => {
      const first = await login(t.app, 'alice');
      const second = (await refresh(first.refreshToken)).json<{ accessToken: string; refreshToken: string }>();
      const third = (await refresh(second.refreshToken)).json<{ accessToken: string; refreshToken: string }>();
      assert.equal((await me(third.accessToken)).statusCode, 200);

      const replay = await refresh(first.refreshToken);
      assert.equal(replay.statusCode, 401);
      assert.equal(problemOf(replay).code, 'REFRESH_TOKEN_REUSED');

      assert.equal((await refresh(third.refreshToken)).statusCode, 401, 'the newest refresh token is dead too');
      assert.equal((await me(third.accessToken)).statusCode, 401, 'and so are the access tokens of the family');
      const audit = await t.db.selectFrom('audit_log').select('action').where('action', '=', 'auth.refresh_token_reused').execute();
      assert.ok(audit.length > 0);
    });

    test('other sessions of the same user survive a family revocation', async () => {
      const other = await login(t.app, 'alice');
      const victim = await login(t.app, 'alice');
      await refresh(victim.refreshToken);
      await refresh(victim.refreshToken); // reuse
      assert.equal((await me(other.accessToken)).statusCode, 200);
    });

    test('concurrent use of one refresh token yields at most one new pair', async () => {
      const tokens = await login(t.app, 'alice');
      const responses = await Promise.all(Array.from({ length: 5 }, () => refresh(tokens.refreshToken)));
      const ok = responses.filter((r) => r.statusCode === 200);
      assert.ok(ok.length <= 1);
      assert.ok(responses.every((r) => r.statusCode === 200 || r.statusCode === 401));
    });

    test('unknown and expired refresh tokens are 401', async () => {
      assert.equal((await refresh('not-a-real-token')).statusCode, 401);
      const tokens = await login(t.app, 'alice');
      await t.db.updateTable('refresh_tokens').set({ expires_at: new Date(Date.now() - 1000) }).where('used_at', 'is', null).execute();
      const response = await refresh(tokens.refreshToken);
      assert.equal(response.statusCode, 401);
      assert.equal(problemOf(response).code, 'UNAUTHENTICATED');
    });
  });

  describe('logout', () => {
    test('ends the session: its access and refresh tokens stop working at once', async () => {
      const tokens = await login(t.app, 'alice');
      const response = await t.app.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: bearer(tokens.accessToken) });
      assert.equal(response.statusCode, 204);
      assert.equal((await me(tokens.accessToken)).statusCode, 401);
      assert.equal((await refresh(tokens.refreshToken)).statusCode, 401);
    });

    test('all: true ends every session of the caller', async () => {
      const a = await login(t.app, 'alice');
      const b = await login(t.app, 'alice');
      const response = await t.app.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: bearer(a.accessToken), payload: { all: true } });
      assert.equal(response.statusCode, 204);
      assert.equal((await me(b.accessToken)).statusCode, 401);
    });

    test("cannot end someone else's session", async () => {
      await insertUser(t.db, { username: 'mallory', role: 'developer' });
      const mallory = await login(t.app, 'mallory');
      const victim = await login(t.app, 'alice');
      const response = await t.app.inject({
        method: 'POST',
        url: '/api/v1/auth/logout',
        headers: bearer(mallory.accessToken),
        payload: { refreshToken: victim.refreshToken },
      });
      assert.equal(response.statusCode, 401);
      assert.equal((await me(victim.accessToken)).statusCode, 200);
    });
  });
});
