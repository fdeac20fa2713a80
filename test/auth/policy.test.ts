import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Fastify from 'fastify';
import authGuard from '../../src/plugins/auth.js';
import { PERMISSIONS, ROLE_POLICY, ROLES, roleAllows } from '../../src/shared/policy.js';
import { bearer, createTestApp, insertSchool, insertUser, login, problemOf, type TestApp } from '../helpers/app.js';

describe('role policy', () => {
  let t: TestApp;
  const tokens: Record<string, string> = {};
  let schoolA: string;

  before(async () => {
    t = await createTestApp();
    schoolA = await insertSchool(t.db, 'A');
    for (const role of ROLES) {
      await insertUser(t.db, { username: `as.${role}`, role, schoolIds: role === 'school_admin' ? [schoolA] : [] });
      tokens[role] = (await login(t.app, `as.${role}`)).accessToken;
    }
  });
  after(() => t.close());

  test('every registered route declares a known policy', () => {
    assert.ok(t.app.routePolicies.length >= 10);
    for (const route of t.app.routePolicies) {
      assert.ok((PERMISSIONS as readonly string[]).includes(route.policy), `${route.method} ${route.url}`);
    }
    const byUrl = new Map(t.app.routePolicies.map((r) => [`${r.method} ${r.url}`, r.policy]));
    assert.equal(byUrl.get('GET /api/v1/users'), 'users:manage');
    assert.equal(byUrl.get('POST /api/v1/auth/login'), 'public');
    assert.equal(byUrl.get('GET /api/v1/auth/me'), 'authenticated');
  });

  test('registering a route without a policy fails at boot', async () => {
    const app = Fastify();
    await app.register(authGuard, { authenticate: () => Promise.reject(new Error('unused')) });
    assert.throws(() => app.get('/forgotten', () => 'oops'), /GET \/forgotten declares no access policy/);
    app.get('/declared', { config: { policy: 'public' } }, () => 'fine');
    await app.ready();
    assert.deepEqual(app.routePolicies.map((r) => `${r.method} ${r.url} ${r.policy}`), ['GET /declared public', 'HEAD /declared public']);
    await app.close();
  });

  test('the policy table matches SPEC §1', () => {
    assert.deepEqual(ROLE_POLICY.super_admin.permissions, new Set(PERMISSIONS));
    assert.equal(ROLE_POLICY.school_admin.schools, 'assigned');
    assert.equal(ROLE_POLICY.finance_analyst.pii, 'masked');
    assert.equal(roleAllows('finance_analyst', 'billing:write'), false);
    assert.equal(roleAllows('finance_analyst', 'reports:export'), true);
    for (const permission of ['billing:read', 'billing:write', 'reports:read', 'reports:export', 'accounts:read', 'users:manage'] as const) {
      assert.equal(roleAllows('developer', permission), false, `developer must not have ${permission}`);
    }
    assert.equal(roleAllows('developer', 'monitoring:read'), true);
    assert.equal(roleAllows('school_admin', 'users:manage'), false);
  });

  // Every role against every route registered so far. Extended as modules land.
  const matrix: { method: 'GET' | 'POST' | 'PATCH'; url: string; payload?: object; allowed: readonly string[] }[] = [
    { method: 'GET', url: '/api/v1/users', allowed: ['super_admin'] },
    { method: 'GET', url: '/api/v1/users/01890000-0000-7000-8000-000000000000', allowed: ['super_admin'] },
    { method: 'POST', url: '/api/v1/users', payload: { username: 'x-created', password: 'a-long-password', role: 'developer' }, allowed: ['super_admin'] },
    { method: 'PATCH', url: '/api/v1/users/01890000-0000-7000-8000-000000000000', payload: { isActive: true }, allowed: ['super_admin'] },
    { method: 'GET', url: '/api/v1/auth/me', allowed: ROLES },
  ];

  for (const route of matrix) {
    for (const role of ROLES) {
      const allowed = route.allowed.includes(role);
      test(`${role} ${allowed ? 'may' : 'may not'} ${route.method} ${route.url}`, async () => {
        const response = await t.app.inject({ method: route.method, url: route.url, headers: bearer(tokens[role] ?? ''), payload: route.payload });
        if (allowed) {
          assert.notEqual(response.statusCode, 403);
          assert.ok(response.statusCode < 500);
        } else {
          assert.equal(response.statusCode, 403);
          assert.equal(problemOf(response).code, 'FORBIDDEN');
        }
      });
    }
    test(`anonymous may not ${route.method} ${route.url}`, async () => {
      const response = await t.app.inject({ method: route.method, url: route.url, payload: route.payload });
      assert.equal(response.statusCode, 401);
    });
  }
});
