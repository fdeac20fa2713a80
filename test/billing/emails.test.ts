import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { client, type Client } from '../helpers/api.js';
import { createTestApp, insertUser, login, problemOf, type TestApp } from '../helpers/app.js';

/**
 * E-mail addresses are case-insensitive (issue 15, point 12): `User@Example.COM` and
 * `user@example.com` are one person, so every e-mail field is stored trimmed and in
 * lower case, on every write path, and the database refuses any other form.
 */
describe('e-mail addresses', () => {
  let t: TestApp;
  let api: Client;

  before(async () => {
    t = await createTestApp();
    await insertUser(t.db, { username: 'root', role: 'super_admin' });
    api = client(t.app, (await login(t.app, 'root')).accessToken);
  });
  after(() => t.close());

  const stored = async (table: 'schools' | 'students', id: string) =>
    (await t.db.selectFrom(table).select('email').where('id', '=', id).executeTakeFirstOrThrow()).email;

  test('a school’s e-mail is stored trimmed and lower-cased on create, replace and patch', async () => {
    const created = await api.post('/schools', { name: 'Colegio Mayúsculas', email: '  Cobranza@Colegio.EXAMPLE.mx ' });
    assert.equal(created.statusCode, 201, created.body);
    const school = created.json<{ id: string; email: string }>();
    assert.equal(school.email, 'cobranza@colegio.example.mx');
    assert.equal(await stored('schools', school.id), 'cobranza@colegio.example.mx');

    const replaced = await api.put(`/schools/${school.id}`, { name: 'Colegio Mayúsculas', email: 'Tesoreria@Colegio.Example.MX' });
    assert.equal(replaced.json<{ email: string }>().email, 'tesoreria@colegio.example.mx');
    const patched = await api.patch(`/schools/${school.id}`, { email: 'BURSAR@COLEGIO.EXAMPLE.MX' });
    assert.equal(patched.json<{ email: string }>().email, 'bursar@colegio.example.mx');
    assert.equal(await stored('schools', school.id), 'bursar@colegio.example.mx');
  });

  test('a student’s e-mail too; two spellings of one address are the same stored value', async () => {
    const school = (await api.post('/schools', { name: 'Escuela Correo' })).json<{ id: string }>();
    const first = (await api.post('/students', { schoolId: school.id, firstName: 'Ana', lastName: 'Ruiz', grade: '3', email: 'Ana.Ruiz@Families.Example' })).json<{ id: string; email: string }>();
    const second = (await api.post('/students', { schoolId: school.id, firstName: 'Ana', lastName: 'Ruiz', grade: '3', email: 'ana.ruiz@families.example' })).json<{ id: string; email: string }>();
    assert.equal(first.email, 'ana.ruiz@families.example');
    assert.equal(await stored('students', first.id), await stored('students', second.id));
    const patched = await api.patch(`/students/${first.id}`, { email: ' ANA@FAMILIES.EXAMPLE' });
    assert.equal(patched.statusCode, 200, patched.body);
    assert.equal(await stored('students', first.id), 'ana@families.example');
    const cleared = await api.patch(`/students/${first.id}`, { email: null });
    assert.equal(cleared.json<{ email: string | null }>().email, null);
  });

  test('an empty or blank e-mail is a 400 naming email, not a silent null', async () => {
    for (const email of ['', '   ']) {
      const response = await api.post('/schools', { name: 'Escuela Vacía', email });
      assert.equal(response.statusCode, 400, JSON.stringify(email));
      assert.deepEqual(problemOf(response).errors?.map((e) => [e.field, e.in]), [['email', 'body']]);
    }
  });

  test('the database refuses an e-mail that is not normalised, whoever writes it', async () => {
    const school = (await api.post('/schools', { name: 'Escuela Directa' })).json<{ id: string }>();
    await assert.rejects(
      t.db.updateTable('schools').set({ email: 'Mixed@Case.example' }).where('id', '=', school.id).execute(),
      (error: { code?: string }) => error.code === '23514',
    );
    await assert.rejects(
      t.db.insertInto('students').values({ school_id: school.id, first_name: 'B', last_name: 'C', grade: '1', email: ' padded@example.com' }).execute(),
      (error: { code?: string }) => error.code === '23514',
    );
  });
});
