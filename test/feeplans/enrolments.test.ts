import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { problemOf } from '../helpers/app.js';
import { createPlansWorld, insertStudent, planBody, type PlansWorld } from './fixture.js';

interface Enrolment {
  id: string;
  schoolId: string;
  studentId: string;
  feePlanId: string;
  feePlanName: string;
  from: string;
  to: string | null;
  optionalItems: string[];
  payers: { guardianId: string; share: number }[];
}

describe('enrolments', () => {
  let w: PlansWorld;
  let plan: string;
  let planB: string;
  before(async () => {
    w = await createPlansWorld();
    plan = (await w.as.root.post('/fee-plans', planBody(w.schoolA))).json<{ id: string }>().id;
    planB = (await w.as.root.post('/fee-plans', planBody(w.schoolB))).json<{ id: string }>().id;
  });
  after(() => w.t.close());

  const fields = (response: Parameters<typeof problemOf>[0]) => (problemOf(response).errors ?? []).map((e) => e.field);
  const enrolmentCount = async () =>
    Number((await w.t.db.selectFrom('enrolments').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);

  test('enrol a student with an optional item and two payers; read it back; audited', async () => {
    const response = await w.as.admin.post(`/students/${w.students.ana}/enrolments`, {
      feePlanId: plan,
      from: '2026-08-01',
      optionalItems: ['BUS'],
      payers: [
        { guardianId: w.guardians.mother, share: 1 / 3 },
        { guardianId: w.guardians.father, share: 2 / 3 },
      ],
    });
    assert.equal(response.statusCode, 201, response.body);
    const enrolment = response.json<Enrolment>();
    assert.equal(enrolment.feePlanName, 'Primaria 2026-2027');
    assert.deepEqual(enrolment.optionalItems, ['BUS']);
    assert.equal(enrolment.to, null);
    assert.deepEqual(enrolment.payers, [
      { guardianId: w.guardians.mother, share: 0.333333 },
      { guardianId: w.guardians.father, share: 0.666667 },
    ]);

    const list = await w.as.analyst.get(`/students/${w.students.ana}/enrolments`);
    assert.equal(list.statusCode, 200);
    assert.deepEqual(list.json<{ data: Enrolment[] }>().data.map((e) => e.id), [enrolment.id]);
    const audit = await w.t.db.selectFrom('audit_log').select(['action', 'school_id']).where('entity_id', '=', enrolment.id).execute();
    assert.deepEqual(audit, [{ action: 'enrolment.create', school_id: w.schoolA }]);

    // The same plan again for an overlapping period: 409; a later period after a set `to` is fine.
    const again = await w.as.admin.post(`/students/${w.students.ana}/enrolments`, { feePlanId: plan, from: '2027-01-01' });
    assert.equal(again.statusCode, 409);
    assert.deepEqual(fields(again), ['feePlanId']);
  });

  test('bad enrolments: 422 naming the field, nothing written', async () => {
    const before = await enrolmentCount();
    const post = (body: object, student = w.students.beto) => w.as.admin.post(`/students/${student}/enrolments`, { feePlanId: plan, from: '2026-08-01', ...body });

    const sum = await post({ payers: [{ guardianId: w.guardians.mother, share: 0.5 }, { guardianId: w.guardians.father, share: 0.4 }] });
    assert.equal(sum.statusCode, 422);
    assert.deepEqual(fields(sum), ['payers']);

    const stranger = await post({ payers: [{ guardianId: w.guardians.mother, share: 0.5 }, { guardianId: w.guardians.stranger, share: 0.5 }] });
    assert.equal(stranger.statusCode, 422);
    assert.deepEqual(fields(stranger), ['payers.1.guardianId']);

    const twice = await post({ payers: [{ guardianId: w.guardians.mother, share: 0.5 }, { guardianId: w.guardians.mother, share: 0.5 }] });
    assert.deepEqual(fields(twice), ['payers.1.guardianId']);

    const noFamily = await post({ payers: [{ guardianId: w.guardians.mother, share: 1 }] }, w.students.dani);
    assert.equal(noFamily.statusCode, 422);
    assert.deepEqual(fields(noFamily), ['payers.0.guardianId']);

    const unknownOptional = await post({ optionalItems: ['BUS', 'SWIM', 'TUITION'] });
    assert.equal(unknownOptional.statusCode, 422);
    assert.deepEqual(fields(unknownOptional), ['optionalItems.1', 'optionalItems.2']);

    const otherSchool = await w.as.root.post(`/students/${w.students.beto}/enrolments`, { feePlanId: planB, from: '2026-08-01' });
    assert.equal(otherSchool.statusCode, 422);
    assert.deepEqual(fields(otherSchool), ['feePlanId']);

    const early = await post({ from: '2026-07-31' });
    assert.deepEqual(fields(early), ['from']);
    const late = await post({ to: '2027-08-01' });
    assert.deepEqual(fields(late), ['to']);
    const reversed = await post({ from: '2026-10-01', to: '2026-09-01' });
    assert.deepEqual(fields(reversed), ['to']);

    const inactive = await post({}, w.students.inactive);
    assert.equal(inactive.statusCode, 422);
    assert.deepEqual(fields(inactive), ['id']);

    const badShare = await post({ payers: [{ guardianId: w.guardians.mother, share: 0 }] });
    assert.equal(badShare.statusCode, 400);
    assert.ok(fields(badShare).includes('payers.0.share'));

    assert.equal(await enrolmentCount(), before);
  });

  test('shares: within 1e-6 of 1 after rounding to six decimals is accepted', async () => {
    const third = await w.as.admin.post(`/students/${w.students.beto}/enrolments`, {
      feePlanId: plan,
      from: '2026-08-01',
      to: '2026-12-31',
      payers: [
        { guardianId: w.guardians.mother, share: 0.333333 },
        { guardianId: w.guardians.father, share: 0.666666 },
      ],
    });
    assert.equal(third.statusCode, 201, third.body);
    const off = await w.as.admin.post(`/students/${w.students.beto}/enrolments`, {
      feePlanId: plan,
      from: '2027-01-01',
      payers: [
        { guardianId: w.guardians.mother, share: 0.333333 },
        { guardianId: w.guardians.father, share: 0.666665 },
      ],
    });
    assert.equal(off.statusCode, 422);
    assert.deepEqual(fields(off), ['payers']);
  });

  test('roles: school_admin 404 for another school’s student; analyst read only; developer 403', async () => {
    assert.equal((await w.as.admin.post(`/students/${w.students.other}/enrolments`, { feePlanId: planB, from: '2026-08-01' })).statusCode, 404);
    assert.equal((await w.as.admin.get(`/students/${w.students.other}/enrolments`)).statusCode, 404);
    assert.equal((await w.as.analyst.post(`/students/${w.students.caro}/enrolments`, { feePlanId: plan, from: '2026-08-01' })).statusCode, 403);
    assert.equal((await w.as.developer.get(`/students/${w.students.ana}/enrolments`)).statusCode, 403);
    assert.equal((await w.as.admin.post(`/fee-plans/${planB}/enrolments`, { grade: '3', from: '2026-08-01' })).statusCode, 404);
    assert.equal((await w.as.analyst.post(`/fee-plans/${plan}/enrolments`, { grade: '3', from: '2026-08-01' })).statusCode, 403);
  });

  test('bulk by grade: every active student of the grade not yet enrolled; skipped counted; a re-run enrols nobody', async () => {
    const bulkPlan = (await w.as.root.post('/fee-plans', planBody(w.schoolA, { name: 'Bulk plan' }))).json<{ id: string }>().id;
    // 200 more third-graders, and one already enrolled in this plan.
    for (let i = 0; i < 200; i++) {
      await insertStudent(w.t.db, w.schoolA, `G${i}`, '3');
    }
    const pre = await w.as.admin.post(`/students/${w.students.dani}/enrolments`, { feePlanId: bulkPlan, from: '2026-08-01' });
    assert.equal(pre.statusCode, 201);
    const grade3 = Number(
      (await w.t.db.selectFrom('students').select((eb) => eb.fn.countAll<number>().as('n')).where('school_id', '=', w.schoolA).where('grade', '=', '3').where('is_active', '=', true).executeTakeFirstOrThrow()).n,
    );

    const response = await w.as.admin.post(`/fee-plans/${bulkPlan}/enrolments`, { grade: '3', from: '2026-09-01', optionalItems: ['BUS'] });
    assert.equal(response.statusCode, 200, response.body);
    assert.deepEqual(response.json(), { enrolled: grade3 - 1, skipped: 1 });
    const rows = await w.t.db.selectFrom('enrolments').select(['student_id', 'from_date', 'optional_items']).where('fee_plan_id', '=', bulkPlan).execute();
    assert.equal(rows.length, grade3);
    assert.equal(new Set(rows.map((r) => r.student_id)).size, grade3);
    assert.ok(!rows.some((r) => r.student_id === w.students.inactive));
    assert.ok(rows.filter((r) => r.student_id !== w.students.dani).every((r) => r.from_date === '2026-09-01' && r.optional_items[0] === 'BUS'));

    const rerun = await w.as.admin.post(`/fee-plans/${bulkPlan}/enrolments`, { grade: '3', from: '2026-09-01' });
    assert.deepEqual(rerun.json(), { enrolled: 0, skipped: grade3 });
    const audit = await w.t.db.selectFrom('audit_log').select('changes').where('entity_id', '=', bulkPlan).where('action', '=', 'enrolment.bulk_create').execute();
    assert.equal(audit.length, 2);
  });

  test('bulk by list: unknown or other-school students are 422 naming studentIds.N; inactive ones skipped', async () => {
    const listPlan = (await w.as.root.post('/fee-plans', planBody(w.schoolA, { name: 'List plan' }))).json<{ id: string }>().id;
    const bad = await w.as.admin.post(`/fee-plans/${listPlan}/enrolments`, { studentIds: [w.students.ana, w.students.other], from: '2026-08-01' });
    assert.equal(bad.statusCode, 422);
    assert.deepEqual(fields(bad), ['studentIds.1']);
    const neither = await w.as.admin.post(`/fee-plans/${listPlan}/enrolments`, { from: '2026-08-01' });
    assert.equal(neither.statusCode, 422);
    assert.deepEqual(fields(neither), ['studentIds']);
    const both = await w.as.admin.post(`/fee-plans/${listPlan}/enrolments`, { studentIds: [w.students.ana], grade: '3', from: '2026-08-01' });
    assert.deepEqual(fields(both), ['grade']);
    const outside = await w.as.admin.post(`/fee-plans/${listPlan}/enrolments`, { studentIds: [w.students.ana], from: '2027-08-01' });
    assert.deepEqual(fields(outside), ['from']);
    const badOptional = await w.as.admin.post(`/fee-plans/${listPlan}/enrolments`, { studentIds: [w.students.ana], from: '2026-08-01', optionalItems: ['ENROL'] });
    assert.deepEqual(fields(badOptional), ['optionalItems.0']);
    assert.equal(Number((await w.t.db.selectFrom('enrolments').select((eb) => eb.fn.countAll<number>().as('n')).where('fee_plan_id', '=', listPlan).executeTakeFirstOrThrow()).n), 0);

    const ok = await w.as.admin.post(`/fee-plans/${listPlan}/enrolments`, {
      studentIds: [w.students.ana, w.students.beto, w.students.inactive, w.students.ana],
      from: '2026-08-01',
      to: '2027-06-30',
    });
    assert.equal(ok.statusCode, 200, ok.body);
    assert.deepEqual(ok.json(), { enrolled: 2, skipped: 1 });
  });

  test('bulk: a list of thousands is one request and one transaction', async () => {
    const bigPlan = (await w.as.root.post('/fee-plans', planBody(w.schoolA, { name: 'Big list plan' }))).json<{ id: string }>().id;
    const { rows } = await sql<{ id: string }>`
      insert into students (school_id, first_name, last_name, grade)
      select ${w.schoolA}, 'Bulk' || n, 'Student', '9' from generate_series(1, 3000) n
      returning id`.execute(w.t.db);
    const response = await w.as.admin.post(`/fee-plans/${bigPlan}/enrolments`, { studentIds: rows.map((r) => r.id), from: '2026-08-01' });
    assert.equal(response.statusCode, 200, response.body);
    assert.deepEqual(response.json(), { enrolled: 3000, skipped: 0 });
    const byGrade = await w.as.admin.post(`/fee-plans/${bigPlan}/enrolments`, { grade: '9', from: '2026-08-01' });
    assert.deepEqual(byGrade.json(), { enrolled: 0, skipped: 3000 });
  });

  test('concurrent bulk and single enrolments of one plan never enrol a student twice', async () => {
    const racePlan = (await w.as.root.post('/fee-plans', planBody(w.schoolA, { name: 'Race plan' }))).json<{ id: string }>().id;
    const answers = await Promise.all([
      w.as.admin.post(`/fee-plans/${racePlan}/enrolments`, { grade: '5', from: '2026-08-01' }),
      w.as.admin.post(`/fee-plans/${racePlan}/enrolments`, { grade: '5', from: '2026-08-01' }),
      w.as.admin.post(`/fee-plans/${racePlan}/enrolments`, { studentIds: [w.students.caro], from: '2026-08-01' }),
      w.as.admin.post(`/students/${w.students.caro}/enrolments`, { feePlanId: racePlan, from: '2026-08-01' }),
      w.as.admin.post(`/students/${w.students.caro}/enrolments`, { feePlanId: racePlan, from: '2026-08-01' }),
    ]);
    assert.ok(answers.every((a) => a.statusCode < 500), answers.map((a) => a.body).join('\n'));
    const rows = await w.t.db.selectFrom('enrolments').select('student_id').where('fee_plan_id', '=', racePlan).execute();
    assert.equal(rows.length, 1);
    const created = answers.filter((a) => a.statusCode === 201).length + answers.reduce((sum, a) => sum + (a.statusCode === 200 ? a.json<{ enrolled: number }>().enrolled : 0), 0);
    assert.equal(created, 1);
  });

  test('a guardian who pays a running enrolment is kept (409 GUARDIAN_IS_PAYER); once it is withdrawn before today, deleted', async () => {
    const payer = (await w.as.admin.post(`/families/${w.families.mora}/guardians`, { firstName: 'Tía', lastName: 'Mora' })).json<{ id: string }>().id;
    const student = await insertStudent(w.t.db, w.schoolA, 'Payer', '3', { familyId: w.families.mora });
    const enrolment = (
      await w.as.admin.post(`/students/${student}/enrolments`, { feePlanId: plan, from: '2026-08-01', payers: [{ guardianId: payer, share: 1 }] })
    ).json<Enrolment>();
    const refused = await w.as.admin.delete(`/guardians/${payer}`);
    assert.equal(refused.statusCode, 409, refused.body);
    assert.equal(problemOf(refused).code, 'GUARDIAN_IS_PAYER');
    assert.deepEqual(fields(refused), ['id']);
    assert.match(problemOf(refused).errors?.[0]?.message ?? '', new RegExp(enrolment.id));
    assert.equal((await w.as.admin.get(`/guardians/${payer}`)).statusCode, 200);
    // Withdrawn from a day in the past: nothing more will be billed to them.
    await sql`update enrolments set to_date = current_date - 1 where id = ${enrolment.id}`.execute(w.t.db);
    assert.equal((await w.as.admin.delete(`/guardians/${payer}`)).statusCode, 204);
  });

  test('an enrolment naming a guardian and the guardian’s deletion, at once: never a running enrolment paid by a deleted guardian', async () => {
    for (let round = 0; round < 6; round++) {
      const payer = (await w.as.admin.post(`/families/${w.families.mora}/guardians`, { firstName: `Race ${round}`, lastName: 'Mora' })).json<{ id: string }>().id;
      const student = await insertStudent(w.t.db, w.schoolA, `Race ${round}`, '3', { familyId: w.families.mora });
      const [enrolled, deleted] = await Promise.all([
        w.as.admin.post(`/students/${student}/enrolments`, { feePlanId: plan, from: '2026-08-01', payers: [{ guardianId: payer, share: 1 }] }),
        w.as.admin.delete(`/guardians/${payer}`),
      ]);
      // Exactly one wins: enrolled then 409, or deleted then 422 naming the payer.
      assert.deepEqual([enrolled.statusCode, deleted.statusCode].sort(), enrolled.statusCode === 201 ? [201, 409] : [204, 422], `${enrolled.body} ${deleted.body}`);
      if (enrolled.statusCode === 422) {
        assert.deepEqual(fields(enrolled), ['payers.0.guardianId']);
      }
    }
  });
});
