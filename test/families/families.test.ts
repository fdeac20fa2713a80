import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { client, type Client } from '../helpers/api.js';
import { createTestApp, insertUser, login, problemOf, type TestApp } from '../helpers/app.js';
import { formatReference, hasValidCheckDigit } from '../../src/modules/families/reference.js';

interface Guardian {
  id: string;
  familyId: string;
  firstName: string;
  lastName: string;
  email: string | null;
  phone: string | null;
  relationship: string;
  preferredLanguage: 'es' | 'en';
  isPrimary: boolean;
  remindersOptOut: boolean;
}
interface Family {
  id: string;
  schoolId: string;
  name: string;
  reference: string;
  preferredLanguage: 'es' | 'en';
  currency: string;
  guardians: Guardian[];
  students: { id: string; firstName: string; lastName: string; grade: string; isActive: boolean }[];
  balance: { owed: number; credit: number };
}
interface Page<T> {
  data: T[];
  nextCursor: string | null;
}

const REFERENCE = /^([A-Z0-9]{2,6})-([0-9]{6})-([0-9])$/;

describe('families and guardians', () => {
  let t: TestApp;
  let api: Client;
  let schoolId = '';
  let otherSchoolId = '';

  before(async () => {
    t = await createTestApp();
    schoolId = (await t.db.insertInto('schools').values({ name: 'Colegio Miraflores', currency: 'MXN' }).returning('id').executeTakeFirstOrThrow()).id;
    otherSchoolId = (await t.db.insertInto('schools').values({ name: 'Ñandú Academy', currency: 'USD' }).returning('id').executeTakeFirstOrThrow()).id;
    await insertUser(t.db, { username: 'fam.root', role: 'super_admin' });
    api = client(t.app, (await login(t.app, 'fam.root')).accessToken);
  });
  after(() => t.close());

  const createFamily = async (payload: object) => {
    const response = await api.post('/families', payload);
    assert.equal(response.statusCode, 201, response.body);
    return response.json<Family>();
  };
  const student = async (school: string, firstName: string, familyId?: string | null) => {
    const response = await api.post('/students', { schoolId: school, firstName, lastName: 'Pérez', grade: '3', ...(familyId !== undefined ? { familyId } : {}) });
    assert.equal(response.statusCode, 201, response.body);
    return response.json<{ id: string; familyId: string | null }>();
  };
  const audits = async (entityId: string) =>
    (await sql<{ action: string }>`select action from audit_log where entity_id = ${entityId} order by id`.execute(t.db)).rows.map((row) => row.action);

  test('POST /families creates the family and its guardians in one call, with a checked reference', async () => {
    const family = await createFamily({
      schoolId,
      name: '  Pérez García ',
      preferredLanguage: 'en',
      guardians: [
        { firstName: 'Ana', lastName: 'García', email: '  Ana.Garcia@Example.COM ', phone: '+52 55 1234 5678', relationship: 'mother' },
        { firstName: 'Luis', lastName: 'Pérez', preferredLanguage: 'es', remindersOptOut: true },
      ],
    });
    assert.equal(family.name, 'Pérez García');
    assert.equal(family.preferredLanguage, 'en');
    assert.equal(family.currency, 'MXN');
    const match = REFERENCE.exec(family.reference);
    assert.ok(match, family.reference);
    assert.equal(match[1], 'COL');
    assert.ok(hasValidCheckDigit(`${match[2]}${match[3]}`));
    assert.deepEqual(family.balance, { owed: 0, credit: 0 });
    assert.deepEqual(family.students, []);
    assert.equal(family.guardians.length, 2);
    const [ana, luis] = family.guardians;
    // No guardian marked primary: the first is; e-mails are stored trimmed and lower-cased; languages default to the family's.
    assert.deepEqual(
      [ana?.firstName, ana?.isPrimary, ana?.email, ana?.phone, ana?.relationship, ana?.preferredLanguage, ana?.remindersOptOut],
      ['Ana', true, 'ana.garcia@example.com', '+52 55 1234 5678', 'mother', 'en', false],
    );
    assert.deepEqual([luis?.firstName, luis?.isPrimary, luis?.relationship, luis?.preferredLanguage, luis?.remindersOptOut], ['Luis', false, 'guardian', 'es', true]);
    assert.deepEqual((await api.get(`/families/${family.id}`)).json<Family>(), family);
    assert.deepEqual(await audits(family.id), ['family.create']);
    assert.deepEqual(await audits(ana?.id ?? ''), ['guardian.create']);
  });

  test('references count up per school, from the school’s own counter and prefix', async () => {
    const first = await createFamily({ schoolId: otherSchoolId, name: 'Smith' });
    const second = await createFamily({ schoolId: otherSchoolId, name: 'Jones' });
    assert.equal(first.reference, formatReference('NAN', 1));
    assert.equal(second.reference, formatReference('NAN', 2));
    assert.equal(first.currency, 'USD');
    assert.equal(first.preferredLanguage, 'es');
  });

  test('concurrent creations get distinct, consecutive references', async () => {
    const school = (await t.db.insertInto('schools').values({ name: 'Concurrent School' }).returning('id').executeTakeFirstOrThrow()).id;
    const responses = await Promise.all(Array.from({ length: 20 }, (_, i) => api.post('/families', { schoolId: school, name: `Family ${i}`, guardians: [{ firstName: 'G', lastName: `${i}` }] })));
    assert.deepEqual(responses.map((r) => r.statusCode), Array(20).fill(201));
    const numbers = responses.map((r) => Number(REFERENCE.exec(r.json<Family>().reference)?.[2])).sort((a, b) => a - b);
    assert.deepEqual(numbers, Array.from({ length: 20 }, (_, i) => i + 1));
  });

  test('two primary guardians in one call: 422 naming the second, nothing written', async () => {
    const before = await t.db.selectFrom('families').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
    const response = await api.post('/families', {
      schoolId,
      name: 'Twice',
      guardians: [
        { firstName: 'A', lastName: 'B', isPrimary: true },
        { firstName: 'C', lastName: 'D' },
        { firstName: 'E', lastName: 'F', isPrimary: true },
      ],
    });
    assert.equal(response.statusCode, 422);
    assert.deepEqual(problemOf(response).errors?.map((e) => e.field), ['guardians.2.isPrimary']);
    const after = await t.db.selectFrom('families').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
    assert.equal(after.n, before.n);
  });

  test('bad input names the field (400), never a 500', async () => {
    const cases: [object, string][] = [
      [{ schoolId, name: '   ' }, 'name'],
      [{ schoolId, name: 'x'.repeat(201) }, 'name'],
      [{ schoolId, name: 'A', preferredLanguage: 'fr' }, 'preferredLanguage'],
      [{ schoolId, name: 'A', guardians: [{ firstName: 'A', lastName: 'B', email: 'not-an-email' }] }, 'guardians.0.email'],
      [{ schoolId, name: 'A', guardians: [{ firstName: 'A', lastName: 'B', phone: 'call me' }] }, 'guardians.0.phone'],
      [{ schoolId, name: 'A', guardians: [{ firstName: ' ', lastName: 'B' }] }, 'guardians.0.firstName'],
      [{ schoolId, name: 'A', guardians: [{ firstName: 'A' }] }, 'guardians.0.lastName'],
      [{ schoolId, name: 'A', guardians: [{ firstName: 'A', lastName: 'B', isPrimary: 'yes' }] }, 'guardians.0.isPrimary'],
      [{ schoolId, name: 'A', creditBalance: 100 }, 'creditBalance'],
      [{ schoolId: 'nope', name: 'A' }, 'schoolId'],
    ];
    for (const [payload, field] of cases) {
      const response = await api.post('/families', payload);
      assert.equal(response.statusCode, 400, `${field}: ${response.body}`);
      assert.ok(problemOf(response).errors?.some((e) => e.field === field), `${field}: ${response.body}`);
    }
    const unknownSchool = await api.post('/families', { schoolId: '00000000-0000-7000-8000-000000000000', name: 'A' });
    assert.equal(unknownSchool.statusCode, 404);
  });

  test('GET /families: by school and name, searched by name or reference, paged with a cursor that holds no name', async () => {
    const school = (await t.db.insertInto('schools').values({ name: 'Lista School' }).returning('id').executeTakeFirstOrThrow()).id;
    const names = ['Zapata', 'Álvarez', 'Mora', 'Bravo', 'Mora'];
    const created: Family[] = [];
    for (const name of names) {
      created.push(await createFamily({ schoolId: school, name }));
    }
    const rows: Family[] = [];
    let cursor: string | null = null;
    do {
      const response = await api.get(`/families?schoolId=${school}&limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      assert.equal(response.statusCode, 200, response.body);
      const page = response.json<Page<Family>>();
      rows.push(...page.data);
      cursor = page.nextCursor;
      if (cursor) {
        assert.doesNotMatch(Buffer.from(cursor, 'base64url').toString(), /Mora|Bravo|Zapata|lvarez/);
      }
    } while (cursor);
    const expected = (
      await sql<{ id: string }>`select id from families where school_id = ${school} and deleted_at is null order by name, id`.execute(t.db)
    ).rows.map((row) => row.id);
    assert.deepEqual(rows.map((row) => row.id), expected);
    assert.equal(rows.length, 5);
    assert.ok(rows.every((row) => !('guardians' in row)));

    const byName = (await api.get(`/families?schoolId=${school}&q=mor`)).json<Page<Family>>();
    assert.deepEqual(byName.data.map((f) => f.name), ['Mora', 'Mora']);
    const target = created[3];
    assert.ok(target);
    const byPrefix = (await api.get(`/families?schoolId=${school}&q=${target.reference.slice(0, 9).toLowerCase()}`)).json<Page<Family>>();
    assert.ok(byPrefix.data.some((f) => f.id === target.id));
    const likeChars = (await api.get(`/families?schoolId=${school}&q=%25`)).json<Page<Family>>();
    assert.deepEqual(likeChars.data, []);

    const exact = await api.get(`/families?reference=${target.reference.toLowerCase()}`);
    assert.equal(exact.statusCode, 200);
    assert.deepEqual(exact.json<Page<Family>>().data.map((f) => f.id), [target.id]);

    // A mistyped reference (one digit wrong, or two neighbours swapped) is a 422 naming reference; a malformed one a 400.
    const digits = target.reference.slice(-8).replace('-', '');
    const swapped = `${digits.slice(0, 4)}${digits[5]}${digits[4]}${digits.slice(6)}`;
    const typos = [
      `${target.reference.slice(0, -1)}${(Number(target.reference.slice(-1)) + 1) % 10}`,
      ...(digits[4] !== digits[5] ? [`${target.reference.slice(0, 4)}${swapped.slice(0, 6)}-${swapped.slice(6)}`] : []),
    ];
    for (const typo of typos) {
      const response = await api.get(`/families?reference=${typo}`);
      assert.equal(response.statusCode, 422, `${typo}: ${response.body}`);
      assert.equal(problemOf(response).errors?.[0]?.field, 'reference');
    }
    const malformed = await api.get('/families?reference=LIS-12-3');
    assert.equal(malformed.statusCode, 400);
    assert.equal(problemOf(malformed).errors?.[0]?.field, 'reference');
    const unknown = await api.get(`/families?reference=${formatReference('LIS', 999_999)}`);
    assert.deepEqual(unknown.json<Page<Family>>().data, []);
  });

  test('PATCH /families/:id changes name and language, audited with before and after', async () => {
    const family = await createFamily({ schoolId, name: 'Old Name' });
    const response = await api.patch(`/families/${family.id}`, { name: ' New Name ', preferredLanguage: 'en' });
    assert.equal(response.statusCode, 200, response.body);
    const changed = response.json<Family>();
    assert.deepEqual([changed.name, changed.preferredLanguage, changed.reference], ['New Name', 'en', family.reference]);
    const entry = await sql<{ changes: { name: { from: string; to: string } } }>`
      select changes from audit_log where entity_id = ${family.id} and action = 'family.update'`.execute(t.db);
    assert.deepEqual(entry.rows[0]?.changes.name, { from: 'Old Name', to: ' New Name ' });
    const empty = await api.patch(`/families/${family.id}`, {});
    assert.equal(empty.statusCode, 400);
    const reference = await api.patch(`/families/${family.id}`, { reference: 'COL-000001-0' });
    assert.equal(reference.statusCode, 400);
    assert.equal(problemOf(reference).errors?.[0]?.field, 'reference');
  });

  test('guardians: add, change, make primary (the previous one is not), delete', async () => {
    const family = await createFamily({ schoolId, name: 'Guardians', guardians: [{ firstName: 'First', lastName: 'G' }] });
    const first = family.guardians[0];
    assert.ok(first?.isPrimary);
    const added = await api.post(`/families/${family.id}/guardians`, { firstName: 'Second', lastName: 'G', email: 'SECOND@G.example', isPrimary: true });
    assert.equal(added.statusCode, 201, added.body);
    const second = added.json<Guardian>();
    assert.deepEqual([second.isPrimary, second.email, second.familyId], [true, 'second@g.example', family.id]);
    let now = (await api.get(`/families/${family.id}`)).json<Family>();
    assert.deepEqual(now.guardians.map((g) => [g.firstName, g.isPrimary]), [['Second', true], ['First', false]]);

    const third = (await api.post(`/families/${family.id}/guardians`, { firstName: 'Third', lastName: 'G' })).json<Guardian>();
    assert.equal(third.isPrimary, false, 'a family with a primary keeps it');

    const patched = await api.patch(`/guardians/${first?.id}`, { isPrimary: true, phone: '55 1234 5678', email: null, remindersOptOut: true });
    assert.equal(patched.statusCode, 200, patched.body);
    assert.deepEqual(
      [patched.json<Guardian>().isPrimary, patched.json<Guardian>().phone, patched.json<Guardian>().email, patched.json<Guardian>().remindersOptOut],
      [true, '55 1234 5678', null, true],
    );
    now = (await api.get(`/families/${family.id}`)).json<Family>();
    assert.deepEqual(now.guardians.filter((g) => g.isPrimary).map((g) => g.id), [first?.id]);

    const removed = await api.delete(`/guardians/${first?.id}`);
    assert.equal(removed.statusCode, 204);
    assert.equal((await api.get(`/guardians/${first?.id}`)).statusCode, 404);
    assert.equal((await api.patch(`/guardians/${first?.id}`, { firstName: 'X' })).statusCode, 404);
    now = (await api.get(`/families/${family.id}`)).json<Family>();
    assert.deepEqual(now.guardians.map((g) => g.firstName).sort(), ['Second', 'Third']);
    assert.deepEqual(await audits(first?.id ?? ''), ['guardian.create', 'guardian.update', 'guardian.delete']);

    const bad = await api.patch(`/guardians/${second.id}`, { email: 'nope' });
    assert.equal(bad.statusCode, 400);
    assert.equal(problemOf(bad).errors?.[0]?.field, 'email');
  });

  test('concurrent "make primary" requests leave exactly one primary guardian', async () => {
    const family = await createFamily({
      schoolId,
      name: 'Race',
      guardians: Array.from({ length: 6 }, (_, i) => ({ firstName: `G${i}`, lastName: 'Race' })),
    });
    const responses = await Promise.all(family.guardians.map((g) => api.patch(`/guardians/${g.id}`, { isPrimary: true })));
    assert.deepEqual(responses.map((r) => r.statusCode), Array(6).fill(200));
    const primaries = await t.db.selectFrom('guardians').select('id').where('family_id', '=', family.id).where('is_primary', '=', true).where('deleted_at', 'is', null).execute();
    assert.equal(primaries.length, 1);
  });

  test('familyId on students: set on create and patch, removed with null, refused for another school’s family', async () => {
    const family = await createFamily({ schoolId, name: 'Siblings' });
    const foreign = await createFamily({ schoolId: otherSchoolId, name: 'Foreign' });
    const ana = await student(schoolId, 'Ana', family.id);
    assert.equal(ana.familyId, family.id);
    const beto = await student(schoolId, 'Beto');
    assert.equal(beto.familyId, null);
    const joined = await api.patch(`/students/${beto.id}`, { familyId: family.id });
    assert.equal(joined.statusCode, 200, joined.body);
    assert.equal(joined.json<{ familyId: string }>().familyId, family.id);
    const detail = (await api.get(`/families/${family.id}`)).json<Family>();
    assert.deepEqual(detail.students.map((s) => s.firstName).sort(), ['Ana', 'Beto']);
    assert.equal((await api.get(`/students/${ana.id}`)).json<{ familyId: string }>().familyId, family.id);

    for (const familyId of [foreign.id, '00000000-0000-7000-8000-000000000000']) {
      const patched = await api.patch(`/students/${beto.id}`, { familyId });
      assert.equal(patched.statusCode, 422, patched.body);
      assert.equal(problemOf(patched).errors?.[0]?.field, 'familyId');
      const created = await api.post('/students', { schoolId, firstName: 'C', lastName: 'D', grade: '1', familyId });
      assert.equal(created.statusCode, 422);
      assert.equal(problemOf(created).errors?.[0]?.field, 'familyId');
    }
    assert.equal((await api.get(`/students/${beto.id}`)).json<{ familyId: string }>().familyId, family.id, 'unchanged after a refusal');

    // PUT replaces a student's details and leaves the family alone (it does not take familyId).
    const put = await api.put(`/students/${beto.id}`, { firstName: 'Beto', lastName: 'Pérez', grade: '4' });
    assert.equal(put.statusCode, 200);
    assert.equal(put.json<{ familyId: string }>().familyId, family.id);
    const putFamily = await api.put(`/students/${beto.id}`, { firstName: 'Beto', lastName: 'Pérez', grade: '4', familyId: null });
    assert.equal(putFamily.statusCode, 400);

    const left = await api.patch(`/students/${beto.id}`, { familyId: null });
    assert.equal(left.json<{ familyId: string | null }>().familyId, null);
    assert.deepEqual((await api.get(`/families/${family.id}`)).json<Family>().students.map((s) => s.id), [ana.id]);
    const bad = await api.patch(`/students/${beto.id}`, { familyId: 'not-a-uuid' });
    assert.equal(bad.statusCode, 400);
    assert.equal(problemOf(bad).errors?.[0]?.field, 'familyId');
  });

  test('balance: owed over the family’s invoices and its students’ unbilled-to-a-family ones; credit from the family', async () => {
    const family = await createFamily({ schoolId, name: 'Balance' });
    const other = await createFamily({ schoolId, name: 'Elsewhere' });
    const ana = await student(schoolId, 'Ana', family.id);
    const outsider = await student(schoolId, 'Out');
    let n = 0;
    const invoice = (values: { studentId: string; amount: number; paid: number; familyId?: string | null; cancelled?: boolean }) =>
      t.db
        .insertInto('invoices')
        .values({
          school_id: schoolId,
          student_id: values.studentId,
          number: `BAL-${++n}`,
          amount: values.amount,
          paid_amount: values.paid,
          due_date: '2026-09-10',
          family_id: values.familyId ?? null,
          cancelled_at: values.cancelled ? new Date() : null,
        })
        .execute();
    await invoice({ studentId: ana.id, amount: 10_000, paid: 2_500 }); // 7 500 (the student's, no family on it)
    await invoice({ studentId: ana.id, amount: 5_000, paid: 0, cancelled: true }); // cancelled: nothing
    await invoice({ studentId: outsider.id, amount: 4_000, paid: 1_000, familyId: family.id }); // 3 000 (billed to the family)
    await invoice({ studentId: ana.id, amount: 9_000, paid: 0, familyId: other.id }); // another family's bill for Ana: not this one's
    await invoice({ studentId: outsider.id, amount: 6_000, paid: 0 }); // not this family's
    await t.db.updateTable('families').set({ credit_balance: 1_234 }).where('id', '=', family.id).execute();
    const detail = (await api.get(`/families/${family.id}`)).json<Family>();
    assert.deepEqual(detail.balance, { owed: 10_500, credit: 1_234 });
    assert.deepEqual((await api.get(`/families/${other.id}`)).json<Family>().balance, { owed: 9_000, credit: 0 });
  });

  test('DELETE /families/:id: refused while it has students, owes or holds credit; then soft, guardians with it', async () => {
    const family = await createFamily({ schoolId, name: 'Leaving', guardians: [{ firstName: 'G', lastName: 'L' }] });
    const kid = await student(schoolId, 'Kid', family.id);
    const refusedStudents = await api.delete(`/families/${family.id}`);
    assert.equal(refusedStudents.statusCode, 409);
    assert.match(problemOf(refusedStudents).detail, /student/);
    await api.patch(`/students/${kid.id}`, { familyId: null });

    const invoiceId = (
      await t.db
        .insertInto('invoices')
        .values({ school_id: schoolId, student_id: kid.id, number: 'LEAVE-1', amount: 1_000, paid_amount: 0, due_date: '2026-09-10', family_id: family.id })
        .returning('id')
        .executeTakeFirstOrThrow()
    ).id;
    const refusedOwed = await api.delete(`/families/${family.id}`);
    assert.equal(refusedOwed.statusCode, 409);
    assert.match(problemOf(refusedOwed).detail, /owes/);
    await t.db.updateTable('invoices').set({ paid_amount: 1_000 }).where('id', '=', invoiceId).execute();
    await t.db.updateTable('families').set({ credit_balance: 50 }).where('id', '=', family.id).execute();
    const refusedCredit = await api.delete(`/families/${family.id}`);
    assert.equal(refusedCredit.statusCode, 409);
    assert.match(problemOf(refusedCredit).detail, /credit/);
    await t.db.updateTable('families').set({ credit_balance: 0 }).where('id', '=', family.id).execute();

    const deleted = await api.delete(`/families/${family.id}`);
    assert.equal(deleted.statusCode, 204, deleted.body);
    assert.equal((await api.get(`/families/${family.id}`)).statusCode, 404);
    assert.equal((await api.get(`/guardians/${family.guardians[0]?.id}`)).statusCode, 404);
    assert.equal((await api.delete(`/families/${family.id}`)).statusCode, 404);
    const joined = await api.patch(`/students/${kid.id}`, { familyId: family.id });
    assert.equal(joined.statusCode, 422, 'a deleted family takes no students');
    assert.ok(!(await api.get(`/families?schoolId=${schoolId}&limit=500`)).json<Page<Family>>().data.some((f) => f.id === family.id));
    assert.deepEqual((await audits(family.id)).at(-1), 'family.delete');
  });

  test('a student joining while its family is deleted: one of the two wins, never both', async () => {
    for (let round = 0; round < 5; round++) {
      const family = await createFamily({ schoolId, name: `Race ${round}` });
      const kid = await student(schoolId, `Racer ${round}`);
      const [joined, deleted] = await Promise.all([api.patch(`/students/${kid.id}`, { familyId: family.id }), api.delete(`/families/${family.id}`)]);
      const live = await t.db.selectFrom('families').select('deleted_at').where('id', '=', family.id).executeTakeFirstOrThrow();
      const member = await t.db.selectFrom('students').select('family_id').where('id', '=', kid.id).executeTakeFirstOrThrow();
      if (joined.statusCode === 200) {
        assert.equal(deleted.statusCode, 409, deleted.body);
        assert.equal(live.deleted_at, null);
        assert.equal(member.family_id, family.id);
      } else {
        assert.equal(joined.statusCode, 422, joined.body);
        assert.equal(deleted.statusCode, 204);
        assert.equal(member.family_id, null);
      }
    }
  });

  test('a family caps its guardians', async () => {
    const family = await createFamily({
      schoolId,
      name: 'Big',
      guardians: Array.from({ length: 10 }, (_, i) => ({ firstName: `G${i}`, lastName: 'Big' })),
    });
    const more = await Promise.all(Array.from({ length: 12 }, (_, i) => api.post(`/families/${family.id}/guardians`, { firstName: `H${i}`, lastName: 'Big' })));
    assert.equal(more.filter((r) => r.statusCode === 201).length, 10);
    assert.ok(more.filter((r) => r.statusCode !== 201).every((r) => r.statusCode === 409));
    assert.equal((await api.get(`/families/${family.id}`)).json<Family>().guardians.length, 20);
    const tooMany = await api.post('/families', { schoolId, name: 'X', guardians: Array.from({ length: 11 }, () => ({ firstName: 'A', lastName: 'B' })) });
    assert.equal(tooMany.statusCode, 400);
    assert.equal(problemOf(tooMany).errors?.[0]?.field, 'guardians');
  });
});
