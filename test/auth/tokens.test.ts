import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createAccessTokens } from '../../src/modules/auth/tokens.js';

/**
 * Access tokens verified once and remembered (src/modules/auth/tokens.ts): a remembered
 * token still expires on time, and remembering one token lets no other string through.
 */
describe('access tokens, verified once', () => {
  const options = { secret: 'a-secret-of-enough-length-for-hs256-0123456789', issuer: 'bursar', audience: 'bursar-api' };

  test('a token verified and remembered is refused once it expires (TOKEN_EXPIRED)', async () => {
    // Time is moved by hand: a token signed at 10:00:00.999 with a 1 s life expires a
    // millisecond later by the clock's seconds, which a sleeping test cannot control.
    let now = Date.UTC(2026, 11, 7, 10, 0, 0, 0);
    const tokens = createAccessTokens({ ...options, ttlSeconds: 60, now: () => now });
    const token = await tokens.sign({ userId: 'u-1', sessionId: 's-1', role: 'school_admin' });
    assert.deepEqual(await tokens.verify(token), { userId: 'u-1', sessionId: 's-1' });
    assert.deepEqual(await tokens.verify(token), { userId: 'u-1', sessionId: 's-1' }, 'the second use, remembered');
    now += 59_999;
    assert.deepEqual(await tokens.verify(token), { userId: 'u-1', sessionId: 's-1' }, 'still valid a millisecond before its expiry');
    now += 1;
    await assert.rejects(tokens.verify(token), (error: { code?: string }) => error.code === 'TOKEN_EXPIRED');
    await assert.rejects(tokens.verify(token), (error: { code?: string }) => error.code === 'TOKEN_EXPIRED', 'and on every use after');
    const unseen = createAccessTokens({ ...options, ttlSeconds: 60, now: () => now });
    await assert.rejects(unseen.verify(token), (error: { code?: string }) => error.code === 'TOKEN_EXPIRED', 'one never remembered is refused by jose too');
  });

  test('a changed token, another secret’s token or garbage is refused after a good one was remembered', async () => {
    const tokens = createAccessTokens({ ...options, ttlSeconds: 600 });
    const token = await tokens.sign({ userId: 'u-2', sessionId: 's-2', role: 'school_admin' });
    assert.equal((await tokens.verify(token)).userId, 'u-2');
    const [header, payload, signature] = token.split('.');
    const claims = JSON.parse(Buffer.from(payload ?? '', 'base64url').toString()) as Record<string, unknown>;
    const forged = [header, Buffer.from(JSON.stringify({ ...claims, sub: 'u-admin' })).toString('base64url'), signature].join('.');
    const foreign = await createAccessTokens({ ...options, secret: 'another-secret-of-enough-length-0123456789', ttlSeconds: 600 }).sign({
      userId: 'u-2',
      sessionId: 's-2',
      role: 'school_admin',
    });
    for (const bad of [forged, foreign, `${token}x`, 'not.a.token']) {
      await assert.rejects(tokens.verify(bad), (error: { code?: string }) => error.code === 'UNAUTHENTICATED', bad);
    }
    assert.equal((await tokens.verify(token)).userId, 'u-2', 'the good one still passes');
  });
});
