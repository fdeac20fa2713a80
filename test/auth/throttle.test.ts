import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createTestApp, insertUser, PASSWORD, problemOf, type TestApp } from '../helpers/app.js';

describe('login throttling', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp({ env: { LOGIN_MAX_FAILURES_PER_USER: '3', LOGIN_MAX_FAILURES_PER_IP: '6', LOGIN_THROTTLE_WINDOW_SECONDS: '600' } });
    for (const name of ['target', 'lucky', 'user1', 'user2', 'user3', 'user4', 'user5', 'user6']) {
      await insertUser(t.db, { username: name, role: 'developer' });
    }
  });
  after(() => t.close());

  const attempt = (username: string, password: string, ip: string) =>
    t.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username, password }, remoteAddress: ip });

  test('per username: after the limit, even the right password gets 429 with Retry-After', async () => {
    for (let i = 0; i < 3; i++) {
      assert.equal((await attempt('target', 'wrong-password', `10.0.0.${i + 1}`)).statusCode, 401);
    }
    const blocked = await attempt('target', PASSWORD, '10.0.0.99');
    assert.equal(blocked.statusCode, 429);
    assert.equal(problemOf(blocked).code, 'LOGIN_THROTTLED');
    const retryAfter = Number(blocked.headers['retry-after']);
    assert.ok(retryAfter > 500 && retryAfter <= 600, `Retry-After ${retryAfter}`);
  });

  test('per IP: many usernames from one address are throttled', async () => {
    const ip = '10.1.1.1';
    for (let i = 1; i <= 6; i++) {
      assert.equal((await attempt(`user${i}`, 'wrong-password', ip)).statusCode, 401);
    }
    const blocked = await attempt('lucky', PASSWORD, ip);
    assert.equal(blocked.statusCode, 429);
    // The same account from elsewhere is fine: the lock is on the address.
    assert.equal((await attempt('lucky', PASSWORD, '10.2.2.2')).statusCode, 200);
  });

  test('a success resets the username counter', async () => {
    await insertUser(t.db, { username: 'forgetful', role: 'developer' });
    const ip = '10.3.3.3';
    await attempt('forgetful', 'wrong-password', ip);
    await attempt('forgetful', 'wrong-password', ip);
    assert.equal((await attempt('forgetful', PASSWORD, ip)).statusCode, 200);
    await attempt('forgetful', 'wrong-password', '10.3.3.4');
    await attempt('forgetful', 'wrong-password', '10.3.3.5');
    assert.equal((await attempt('forgetful', PASSWORD, '10.3.3.6')).statusCode, 200);
  });

  test('the lock expires with its window', async () => {
    await t.db.updateTable('login_throttle').set({ locked_until: new Date(Date.now() - 1000), window_start: new Date(Date.now() - 700_000) }).where('key', '=', 'user:target').execute();
    assert.equal((await attempt('target', PASSWORD, '10.9.9.9')).statusCode, 200);
  });
});
