import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { client, type Client } from '../helpers/api.js';
import { createTestApp, insertUser, login, problemOf, type TestApp } from '../helpers/app.js';

/**
 * Every role against every families route: a school_admin of school A gets 404 for
 * anything of school B (reads and writes alike) and lists only A; the finance analyst
 * reads everything with family names, guardians and students masked, cannot find a
 * family by a name it may not see, and writes nothing (403); the developer has no
 * billing access at all (403); no token is a 401.
 */
type Role = 'super_admin' | 'school_admin' | 'finance_analyst' | 'developer' | 'guardian' | 'anonymous';
const ROLES: Role[] = ['super_admin', 'school_admin', 'finance_analyst', 'developer', 'guardian', 'anonymous'];

interface Guardian {
  id: string;
  firstName: string;
  lastName: string;
  email: string | null;
  phone: string | null;
  relationship: string;
}
interface Family {
  id: string;
  schoolId: string;
  name: string;
  reference: string;
  guardians: Guardian[];
  students: { id: string; firstName: string; lastName: string }[];
}

describe('families access by role', () => {
  let t: TestApp;
  const as = {} as Record<Role, Client>;
  let schoolA = '';
  let schoolB = '';
  let familyA: Family;
  let familyB: Family;

  before(async () => {
    t = await createTestApp();
    schoolA = (await t.db.insertInto('schools').values({ name: 'Colegio Alfa' }).returning('id').executeTakeFirstOrThrow()).id;
    schoolB = (await t.db.insertInto('schools').values({ name: 'Beta Academy' }).returning('id').executeTakeFirstOrThrow()).id;
    for (const role of ROLES.filter((r): r is Exclude<Role, 'anonymous' | 'guardian'> => r !== 'anonymous' && r !== 'guardian')) {
      await insertUser(t.db, { username: `fam.${role}`, role, schoolIds: role === 'school_admin' ? [schoolA] : [] });
      as[role] = client(t.app, (await login(t.app, `fam.${role}`)).accessToken);
    }
    as.anonymous = client(t.app, null);
    const make = async (schoolId: string, name: string) => {
      const response = await as.super_admin.post('/families', {
        schoolId,
        name,
        guardians: [{ firstName: 'Juana', lastName: name, email: 'juana.perez@dominio.com', phone: '+52 55 1234 5678', relationship: 'mother' }],
      });
      assert.equal(response.statusCode, 201, response.body);
      const family = response.json<Family>();
      const kid = await as.super_admin.post('/students', { schoolId, firstName: 'Pablo', lastName: name, grade: '2', familyId: family.id });
      assert.equal(kid.statusCode, 201, kid.body);
      return (await as.super_admin.get(`/families/${family.id}`)).json<Family>();
    };
    familyA = await make(schoolA, 'Pérez');
    familyB = await make(schoolB, 'Quintana');
    // The guardian user is family A's own guardian: even its own family's staff routes refuse it.
    await insertUser(t.db, { username: 'fam.guardian', role: 'guardian', guardian: { schoolId: schoolA, id: familyA.guardians[0]?.id ?? '' } });
    as.guardian = client(t.app, (await login(t.app, 'fam.guardian')).accessToken);
  });
  after(() => t.close());

  const readExpect = (school: 'A' | 'B'): Record<Role, number> => ({
    super_admin: 200,
    school_admin: school === 'A' ? 200 : 404,
    finance_analyst: 200,
    developer: 403,
    // A guardian user sees their own family through the portal only: every staff route refuses it.
    guardian: 403,
    anonymous: 401,
  });

  test('reads: every role × the family, its guardian and its statement in school A and B', async () => {
    const reads = [
      { url: () => `/families/${familyA.id}`, school: 'A' as const },
      { url: () => `/families/${familyB.id}`, school: 'B' as const },
      { url: () => `/guardians/${familyA.guardians[0]?.id}`, school: 'A' as const },
      { url: () => `/guardians/${familyB.guardians[0]?.id}`, school: 'B' as const },
      { url: () => `/families/${familyA.id}/statement`, school: 'A' as const },
      { url: () => `/families/${familyB.id}/statement`, school: 'B' as const },
      { url: () => `/families/${familyB.id}/statement?format=csv`, school: 'B' as const },
      { url: () => `/families/${familyB.id}/statement?format=pdf`, school: 'B' as const },
      { url: () => `/families?schoolId=${schoolA}`, school: 'A' as const },
      { url: () => `/families?schoolId=${schoolB}`, school: 'B' as const },
    ];
    for (const { url, school } of reads) {
      for (const role of ROLES) {
        const response = await as[role].get(url());
        assert.equal(response.statusCode, readExpect(school)[role], `${role} GET ${url()}: ${response.body.slice(0, 200)}`);
        if (response.statusCode >= 400) {
          assert.match(String(response.headers['content-type']), /application\/problem\+json/);
        }
      }
    }
  });

  test('lists: a school_admin sees only its schools, even by reference; analyst and super_admin see both', async () => {
    const ids = async (role: Role, query = '') => (await as[role].get(`/families?limit=500${query}`)).json<{ data: Family[] }>().data.map((f) => f.id);
    assert.deepEqual(await ids('school_admin'), [familyA.id]);
    assert.deepEqual(await ids('school_admin', `&reference=${familyB.reference}`), []);
    for (const role of ['super_admin', 'finance_analyst'] as const) {
      const seen = await ids(role);
      assert.ok(seen.includes(familyA.id) && seen.includes(familyB.id), role);
      assert.deepEqual(await ids(role, `&reference=${familyB.reference}`), [familyB.id]);
    }
    assert.equal((await as.developer.get('/families')).statusCode, 403);
    assert.equal((await as.anonymous.get('/families')).statusCode, 401);
  });

  test('finance_analyst sees family names, guardians and students masked, and cannot search by name', async () => {
    const family = (await as.finance_analyst.get(`/families/${familyA.id}`)).json<Family>();
    assert.equal(family.name, 'P.');
    assert.equal(family.reference, familyA.reference, 'the reference is a code, not a person: kept');
    const [guardian] = family.guardians;
    assert.deepEqual([guardian?.firstName, guardian?.lastName, guardian?.email, guardian?.phone, guardian?.relationship], ['J.', 'P.', 'j***@d***.com', '***78', 'mother']);
    assert.deepEqual(family.students.map((s) => [s.firstName, s.lastName]), [['P.', 'P.']]);
    const alone = (await as.finance_analyst.get(`/guardians/${familyA.guardians[0]?.id}`)).json<Guardian>();
    assert.deepEqual([alone.firstName, alone.email, alone.phone], ['J.', 'j***@d***.com', '***78']);
    const listed = (await as.finance_analyst.get(`/families?schoolId=${schoolA}`)).json<{ data: Family[] }>().data;
    assert.deepEqual(listed.map((f) => f.name), ['P.']);
    const byName = (await as.finance_analyst.get('/families?q=P%C3%A9rez')).json<{ data: Family[] }>().data;
    assert.deepEqual(byName, [], 'a masked reader cannot confirm a name by searching it');
    const byReference = (await as.finance_analyst.get(`/families?q=${familyA.reference.slice(0, 6)}`)).json<{ data: Family[] }>().data;
    assert.ok(byReference.some((f) => f.id === familyA.id));
    const student = (await as.finance_analyst.get(`/students/${familyA.students[0]?.id}`)).json<{ familyId: string }>();
    assert.equal(student.familyId, familyA.id);

    // In clear for the admins.
    const clear = (await as.school_admin.get(`/families/${familyA.id}`)).json<Family>();
    assert.deepEqual([clear.name, clear.guardians[0]?.email, clear.guardians[0]?.phone], ['Pérez', 'juana.perez@dominio.com', '+52 55 1234 5678']);
    assert.deepEqual((await as.school_admin.get('/families?q=p%C3%A9r')).json<{ data: Family[] }>().data.map((f) => f.id), [familyA.id]);
  });

  test('writes: admins in scope succeed; another school is a 404; analyst and developer 403; anonymous 401', async () => {
    const fresh = async (schoolId: string) => {
      const family = (await as.super_admin.post('/families', { schoolId, name: 'W', guardians: [{ firstName: 'G', lastName: 'W' }] })).json<Family>();
      const student = (await as.super_admin.post('/students', { schoolId, firstName: 'S', lastName: 'W', grade: '1' })).json<{ id: string }>();
      return { family, guardianId: family.guardians[0]?.id ?? '', studentId: student.id, schoolId };
    };
    const expectFor = (role: Role, school: 'A' | 'B', ok: number) =>
      ({ super_admin: ok, school_admin: school === 'A' ? ok : 404, finance_analyst: 403, developer: 403, guardian: 403, anonymous: 401 })[role];

    for (const school of ['A', 'B'] as const) {
      for (const role of ROLES) {
        const target = await fresh(school === 'A' ? schoolA : schoolB);
        const writes: [string, () => ReturnType<Client['get']>, number][] = [
          ['POST /families', () => as[role].post('/families', { schoolId: target.schoolId, name: 'New' }), 201],
          ['PATCH /families/:id', () => as[role].patch(`/families/${target.family.id}`, { name: 'Renamed' }), 200],
          ['POST /families/:id/guardians', () => as[role].post(`/families/${target.family.id}/guardians`, { firstName: 'A', lastName: 'B' }), 201],
          ['PATCH /guardians/:id', () => as[role].patch(`/guardians/${target.guardianId}`, { phone: '55 5555 5555' }), 200],
          ['PATCH /students/:id {familyId}', () => as[role].patch(`/students/${target.studentId}`, { familyId: target.family.id }), 200],
          ['DELETE /guardians/:id', () => as[role].delete(`/guardians/${target.guardianId}`), 204],
        ];
        for (const [what, send, ok] of writes) {
          const response = await send();
          assert.equal(response.statusCode, expectFor(role, school, ok), `${role} ${what} in ${school}: ${response.body.slice(0, 200)}`);
          if (response.statusCode >= 400) {
            assert.match(String(response.headers['content-type']), /application\/problem\+json/);
          }
        }
        await as.super_admin.patch(`/students/${target.studentId}`, { familyId: null });
        const deleted = await as[role].delete(`/families/${target.family.id}`);
        assert.equal(deleted.statusCode, expectFor(role, school, 204), `${role} DELETE /families/:id in ${school}: ${deleted.body}`);
      }
    }
  });

  test('a school_admin cannot put a student of its school in another school’s family: 422 naming familyId, nothing said about the family', async () => {
    const student = (await as.school_admin.post('/students', { schoolId: schoolA, firstName: 'X', lastName: 'Y', grade: '1' })).json<{ id: string }>();
    const response = await as.school_admin.patch(`/students/${student.id}`, { familyId: familyB.id });
    assert.equal(response.statusCode, 422);
    assert.equal(problemOf(response).errors?.[0]?.field, 'familyId');
    const unknown = await as.school_admin.patch(`/students/${student.id}`, { familyId: '00000000-0000-7000-8000-000000000001' });
    assert.equal(problemOf(unknown).detail, problemOf(response).detail, 'the same answer as for a family that does not exist');
  });

  test('every write is audited with who did it', async () => {
    const { rows } = await t.db
      .selectFrom('audit_log')
      .select(['action', 'actor_username'])
      .where('action', 'in', ['family.create', 'family.update', 'family.delete', 'guardian.create', 'guardian.update', 'guardian.delete'])
      .where('actor_username', '=', 'fam.school_admin')
      .execute()
      .then((found) => ({ rows: found }));
    assert.deepEqual(new Set(rows.map((row) => row.action)), new Set(['family.create', 'family.update', 'family.delete', 'guardian.create', 'guardian.update', 'guardian.delete']));
  });
});
