import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { MAX_GRADES, type GradeList } from '../../src/modules/reporting/grades.routes.js';
import { bearer, createTestApp, insertUser, login, problemOf, type TestApp } from '../helpers/app.js';
import { seedBillingFixture, type BillingFixture } from '../helpers/billing.js';

/**
 * GET /reports/grades: the grades that exist for the Grade filters, scoped like the
 * dashboard. Fixture: school A grades 3, 5; school B grades 3, 7; plus grades added
 * here (10, a deleted student's 99, a deleted school's 42).
 */
describe('GET /reports/grades', () => {
  let t: TestApp;
  let f: BillingFixture;
  const tokens = { super: '', admin: '', analyst: '', developer: '' };

  before(async () => {
    t = await createTestApp();
    f = await seedBillingFixture(t.db);
    await t.db.insertInto('students').values({ school_id: f.schoolA, first_name: 'Eva', last_name: 'Ebert', grade: '10' }).execute();
    await t.db.insertInto('students').values({ school_id: f.schoolA, first_name: 'Gone', last_name: 'Student', grade: '99', deleted_at: new Date() }).execute();
    const closed = (await t.db.insertInto('schools').values({ name: 'Closed School', deleted_at: new Date() }).returning('id').executeTakeFirstOrThrow()).id;
    await t.db.insertInto('students').values({ school_id: closed, first_name: 'Old', last_name: 'Pupil', grade: '42' }).execute();
    await insertUser(t.db, { username: 'gr.super', role: 'super_admin' });
    await insertUser(t.db, { username: 'gr.admin', role: 'school_admin', schoolIds: [f.schoolA] });
    await insertUser(t.db, { username: 'gr.analyst', role: 'finance_analyst' });
    await insertUser(t.db, { username: 'gr.developer', role: 'developer' });
    for (const role of ['super', 'admin', 'analyst', 'developer'] as const) {
      tokens[role] = (await login(t.app, `gr.${role}`)).accessToken;
    }
  });
  after(() => t.close());

  const get = (query: string, token: string | null) => t.app.inject({ method: 'GET', url: `/api/v1/reports/grades${query}`, headers: token ? bearer(token) : {} });
  async function grades(query: string, token: string): Promise<GradeList> {
    const response = await get(query, token);
    assert.equal(response.statusCode, 200, response.body);
    return response.json<GradeList>();
  }

  test('every visible school’s grades, in natural order, without deleted students or schools', async () => {
    assert.deepEqual(await grades('', tokens.super), { data: ['3', '5', '7', '10'], truncated: false });
    assert.deepEqual(await grades('', tokens.analyst), { data: ['3', '5', '7', '10'], truncated: false });
    assert.deepEqual(await grades(`?schoolId=${f.schoolB}`, tokens.super), { data: ['3', '7'], truncated: false });
  });

  test('a school admin sees their schools’ grades only; another school is a 404', async () => {
    assert.deepEqual(await grades('', tokens.admin), { data: ['3', '5', '10'], truncated: false });
    assert.deepEqual(await grades(`?schoolId=${f.schoolA}`, tokens.admin), { data: ['3', '5', '10'], truncated: false });
    const other = await get(`?schoolId=${f.schoolB}`, tokens.admin);
    assert.equal(other.statusCode, 404);
    assert.equal(problemOf(other).code, 'NOT_FOUND');
  });

  test('roles and input: developer 403, anonymous 401, a bad schoolId 400 naming it', async () => {
    assert.equal((await get('', tokens.developer)).statusCode, 403);
    assert.equal((await get('', null)).statusCode, 401);
    const bad = await get('?schoolId=nope', tokens.super);
    assert.equal(bad.statusCode, 400);
    assert.ok(problemOf(bad).errors?.some((error) => error.field === 'schoolId'), bad.body);
    assert.equal((await get('?grade=3', tokens.super)).statusCode, 400);
  });

  test(`at most ${MAX_GRADES} grades, and the answer says it was cut`, async () => {
    const school = (await t.db.insertInto('schools').values({ name: 'Many Grades' }).returning('id').executeTakeFirstOrThrow()).id;
    await t.db
      .insertInto('students')
      .values(Array.from({ length: MAX_GRADES + 5 }, (_, i) => ({ school_id: school, first_name: 'S', last_name: String(i), grade: `G${String(i).padStart(3, '0')}` })))
      .execute();
    const body = await grades(`?schoolId=${school}`, tokens.super);
    assert.equal(body.data.length, MAX_GRADES);
    assert.equal(body.truncated, true);
    assert.equal(body.data[0], 'G000');
  });
});
