import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { bearer, createTestApp, insertSchool, insertUser, login, PASSWORD, problemOf, type TestApp } from '../helpers/app.js';

interface UserBody {
  id: string;
  username: string;
  role: string;
  isActive: boolean;
  schoolIds: string[];
}

describe('users administration', () => {
  let t: TestApp;
  let admin: string;
  let adminId: string;
  let schoolA: string;
  let schoolB: string;

  before(async () => {
    t = await createTestApp();
    schoolA = await insertSchool(t.db, 'School A');
    schoolB = await insertSchool(t.db, 'School B');
    adminId = await insertUser(t.db, { username: 'boss', role: 'super_admin' });
    admin = (await login(t.app, 'boss')).accessToken;
  });
  after(() => t.close());

  const post = (payload: object, token = admin) => t.app.inject({ method: 'POST', url: '/api/v1/users', headers: bearer(token), payload });
  const patch = (id: string, payload: object, token = admin) =>
    t.app.inject({ method: 'PATCH', url: `/api/v1/users/${id}`, headers: bearer(token), payload });

  test('create a school_admin with schools; the password is not in the response', async () => {
    const response = await post({ username: 'Bursar.One', password: 'a-long-password', role: 'school_admin', schoolIds: [schoolA] });
    assert.equal(response.statusCode, 201);
    const user = response.json<UserBody>();
    assert.equal(user.username, 'bursar.one');
    assert.deepEqual(user.schoolIds, [schoolA]);
    assert.equal(user.isActive, true);
    assert.doesNotMatch(response.body, /password|argon/i);
    const tokens = await login(t.app, 'bursar.one', 'a-long-password');
    const me = await t.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: bearer(tokens.accessToken) });
    assert.deepEqual(me.json<{ schoolIds: string[] }>().schoolIds, [schoolA]);
  });

  test('school rules: a school_admin needs existing schools, other roles none', async () => {
    const none = await post({ username: 'no.schools', password: 'a-long-password', role: 'school_admin' });
    assert.equal(none.statusCode, 422);
    assert.equal(problemOf(none).errors?.[0]?.field, 'schoolIds');
    const unknown = await post({ username: 'ghost.school', password: 'a-long-password', role: 'school_admin', schoolIds: ['01890000-0000-7000-8000-000000000000'] });
    assert.equal(unknown.statusCode, 422);
    assert.equal(problemOf(unknown).code, 'REFERENCE_NOT_FOUND');
    const analyst = await post({ username: 'scoped.analyst', password: 'a-long-password', role: 'finance_analyst', schoolIds: [schoolA] });
    assert.equal(analyst.statusCode, 422);
    const users = await t.db.selectFrom('users').select('username').where('username', 'in', ['no.schools', 'ghost.school', 'scoped.analyst']).execute();
    assert.deepEqual(users, [], 'nothing half-written');
  });

  test('get one, 404 for an unknown id', async () => {
    const created = (await post({ username: 'lookup.me', password: 'a-long-password', role: 'developer' })).json<UserBody>();
    const found = await t.app.inject({ method: 'GET', url: `/api/v1/users/${created.id}`, headers: bearer(admin) });
    assert.equal(found.json<UserBody>().username, 'lookup.me');
    const missing = await t.app.inject({ method: 'GET', url: '/api/v1/users/01890000-0000-7000-8000-000000000000', headers: bearer(admin) });
    assert.equal(missing.statusCode, 404);
    assert.equal(problemOf(missing).code, 'NOT_FOUND');
  });

  test('keyset pagination walks every user exactly once', async () => {
    for (let i = 0; i < 5; i++) {
      await insertUser(t.db, { username: `page.user${i}`, role: 'developer' });
    }
    const total = Number((await t.db.selectFrom('users').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: string = cursor ? `?limit=2&cursor=${cursor}` : '?limit=2';
      const response = await t.app.inject({ method: 'GET', url: `/api/v1/users${query}`, headers: bearer(admin) });
      assert.equal(response.statusCode, 200);
      const page = response.json<{ data: UserBody[]; nextCursor: string | null }>();
      assert.ok(page.data.length <= 2);
      seen.push(...page.data.map((u) => u.id));
      cursor = page.nextCursor;
      pages++;
    } while (cursor && pages < 100);
    assert.equal(seen.length, total);
    assert.equal(new Set(seen).size, total);
    assert.deepEqual(seen, [...seen].sort());
  });

  test('deactivating a user ends their sessions and blocks login', async () => {
    const id = await insertUser(t.db, { username: 'leaver', role: 'developer' });
    const tokens = await login(t.app, 'leaver');
    const response = await patch(id, { isActive: false });
    assert.equal(response.statusCode, 200);
    assert.equal(response.json<UserBody>().isActive, false);
    const me = await t.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: bearer(tokens.accessToken) });
    assert.equal(me.statusCode, 401);
    const again = await t.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'leaver', password: PASSWORD } });
    assert.equal(again.statusCode, 401);
  });

  test('a password change ends sessions; the new password works', async () => {
    const id = await insertUser(t.db, { username: 'rotator', role: 'developer' });
    const tokens = await login(t.app, 'rotator');
    assert.equal((await patch(id, { password: 'a-brand-new-password' })).statusCode, 200);
    assert.equal((await t.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: bearer(tokens.accessToken) })).statusCode, 401);
    await login(t.app, 'rotator', 'a-brand-new-password');
  });

  test('a role change applies immediately', async () => {
    const id = await insertUser(t.db, { username: 'promoted', role: 'developer' });
    assert.equal((await patch(id, { role: 'school_admin', schoolIds: [schoolA, schoolB] })).json<UserBody>().role, 'school_admin');
    const tokens = await login(t.app, 'promoted');
    const me = await t.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: bearer(tokens.accessToken) });
    assert.deepEqual(me.json<{ schoolIds: string[] }>().schoolIds, [schoolA, schoolB].sort());
    // Back to a role that sees every school: assignments are cleared.
    const demoted = await patch(id, { role: 'finance_analyst' });
    assert.deepEqual(demoted.json<UserBody>().schoolIds, []);
  });

  test('a super_admin cannot demote or deactivate themselves', async () => {
    const demote = await patch(adminId, { role: 'developer' });
    assert.equal(demote.statusCode, 422);
    assert.equal(problemOf(demote).errors?.[0]?.field, 'role');
    const deactivate = await patch(adminId, { isActive: false });
    assert.equal(deactivate.statusCode, 422);
  });

  test('an empty patch is a 400', async () => {
    const response = await patch(adminId, {});
    assert.equal(response.statusCode, 400);
  });

  test('every write is audited with the actor and request id, never the password', async () => {
    const response = await t.app.inject({
      method: 'POST',
      url: '/api/v1/users',
      headers: { ...bearer(admin), 'x-request-id': 'audit-create-1' },
      payload: { username: 'audited', password: 'a-secret-password', role: 'developer' },
    });
    const { id } = response.json<UserBody>();
    await t.app.inject({
      method: 'PATCH',
      url: `/api/v1/users/${id}`,
      headers: { ...bearer(admin), 'x-request-id': 'audit-patch-1' },
      payload: { password: 'another-secret-password' },
    });
    const rows = await t.db.selectFrom('audit_log').selectAll().where('entity_id', '=', id).orderBy('occurred_at').execute();
    assert.deepEqual(rows.map((r) => [r.action, r.request_id, r.actor_user_id, r.actor_username]), [
      ['user.create', 'audit-create-1', adminId, 'boss'],
      ['user.update', 'audit-patch-1', adminId, 'boss'],
    ]);
    assert.deepEqual(rows[1]?.changes, { passwordChanged: true });
    assert.doesNotMatch(JSON.stringify(rows), /secret-password|argon2/);
  });
});
