import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { problemOf } from '../helpers/app.js';
import { billInstalment, createPlansWorld, planBody, type PlansWorld } from './fixture.js';

interface Item {
  code: string;
  description: string;
  amount: number;
  optional: boolean;
  accountCode: string | null;
  schedule: Record<string, unknown>;
  dueDates: string[];
  billedDueDates?: string[];
}
interface Plan {
  id: string;
  schoolId: string;
  name: string;
  yearStart: string;
  yearEnd: string;
  items: Item[];
}

describe('fee plans', () => {
  let w: PlansWorld;
  before(async () => {
    w = await createPlansWorld();
  });
  after(() => w.t.close());

  const fields = (response: Parameters<typeof problemOf>[0]) => (problemOf(response).errors ?? []).map((e) => e.field);

  test('create, read and list: items in order, due dates computed, optional and account code kept', async () => {
    const created = await w.as.admin.post('/fee-plans', planBody(w.schoolA));
    assert.equal(created.statusCode, 201, created.body);
    const plan = created.json<Plan>();
    assert.deepEqual(plan.items.map((i) => i.code), ['TUITION', 'ENROL', 'BUS']);
    assert.equal(plan.items[0]?.dueDates.length, 10);
    assert.equal(plan.items[0]?.dueDates[9], '2027-06-05');
    assert.deepEqual(plan.items[2]?.dueDates, ['2026-09-01', '2027-01-10', '2027-04-05']);
    assert.equal(plan.items[2]?.optional, true);
    assert.equal(plan.items[1]?.accountCode, '4100');

    const read = await w.as.analyst.get(`/fee-plans/${plan.id}`);
    assert.equal(read.statusCode, 200);
    assert.deepEqual(read.json<Plan>().items.map((i) => i.billedDueDates), [[], [], []]);

    const list = await w.as.root.get(`/fee-plans?schoolId=${w.schoolA}&limit=1`);
    assert.equal(list.statusCode, 200);
    const page = list.json<{ data: Plan[]; nextCursor: string | null }>();
    assert.equal(page.data.length, 1);

    const audit = await w.t.db.selectFrom('audit_log').select(['action', 'school_id']).where('entity_id', '=', plan.id).execute();
    assert.deepEqual(audit, [{ action: 'fee_plan.create', school_id: w.schoolA }]);
  });

  test('bad plans: 422 naming the field; nothing written', async () => {
    const before = await w.t.db.selectFrom('fee_plans').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    const noDates = await w.as.root.post('/fee-plans', planBody(w.schoolA, {
      items: [{ code: 'X', description: 'x', amount: 1, schedule: { kind: 'custom', dueDates: [] } }],
    }));
    assert.equal(noDates.statusCode, 422, noDates.body);
    assert.deepEqual(fields(noDates), ['items.0.schedule.dueDates']);

    const outside = await w.as.root.post('/fee-plans', planBody(w.schoolA, {
      items: [
        { code: 'A', description: 'a', amount: 1, schedule: { kind: 'once', dueDate: '2026-09-01' } },
        { code: 'B', description: 'b', amount: 1, schedule: { kind: 'termly', dueDates: ['2026-09-01', '2026-10-01', '2027-08-01'] } },
        { code: 'C', description: 'c', amount: 1, schedule: { kind: 'monthly', firstDue: '2027-01-05', count: 12 } },
      ],
    }));
    assert.equal(outside.statusCode, 422);
    assert.deepEqual(fields(outside), ['items.1.schedule.dueDates.2', 'items.2.schedule.count']);

    const duplicate = await w.as.root.post('/fee-plans', planBody(w.schoolA, {
      items: [
        { code: 'A', description: 'a', amount: 1, schedule: { kind: 'once', dueDate: '2026-09-01' } },
        { code: 'A', description: 'b', amount: 1, schedule: { kind: 'once', dueDate: '2026-10-01' } },
      ],
    }));
    assert.equal(duplicate.statusCode, 422);
    assert.deepEqual(fields(duplicate), ['items.1.code']);

    const zero = await w.as.root.post('/fee-plans', planBody(w.schoolA, {
      items: [{ code: 'A', description: 'a', amount: 0, schedule: { kind: 'once', dueDate: '2026-09-01' } }],
    }));
    assert.equal(zero.statusCode, 400);
    assert.ok(fields(zero).includes('items.0.amount'), zero.body);

    const reversed = await w.as.root.post('/fee-plans', planBody(w.schoolA, { yearStart: '2027-08-01', yearEnd: '2026-07-31' }));
    assert.equal(reversed.statusCode, 422);
    assert.deepEqual(fields(reversed), ['yearEnd']);

    const badDate = await w.as.root.post('/fee-plans', planBody(w.schoolA, {
      items: [{ code: 'A', description: 'a', amount: 1, schedule: { kind: 'once', dueDate: '2026-02-30' } }],
    }));
    assert.equal(badDate.statusCode, 400);
    assert.ok(fields(badDate).some((f) => f.startsWith('items.0.schedule')), badDate.body);

    const after = await w.t.db.selectFrom('fee_plans').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    assert.equal(Number(after.n), Number(before.n));
  });

  test('roles: school_admin only its schools (404 elsewhere), analyst reads only, developer 403, anonymous 401', async () => {
    const planB = (await w.as.root.post('/fee-plans', planBody(w.schoolB))).json<Plan>();
    assert.equal((await w.as.admin.get(`/fee-plans/${planB.id}`)).statusCode, 404);
    assert.equal((await w.as.admin.patch(`/fee-plans/${planB.id}`, { name: 'x' })).statusCode, 404);
    const elsewhere = await w.as.admin.post('/fee-plans', planBody(w.schoolB));
    assert.equal(elsewhere.statusCode, 404);
    assert.deepEqual(fields(elsewhere), ['schoolId']);
    assert.equal((await w.as.admin.get(`/fee-plans?schoolId=${w.schoolB}`)).statusCode, 404);
    const mine = (await w.as.admin.get('/fee-plans?limit=500')).json<{ data: Plan[] }>();
    assert.ok(mine.data.length > 0 && mine.data.every((p) => p.schoolId === w.schoolA));
    assert.equal((await w.as.analyst.get(`/fee-plans/${planB.id}`)).statusCode, 200);
    assert.equal((await w.as.analyst.post('/fee-plans', planBody(w.schoolA))).statusCode, 403);
    assert.equal((await w.as.analyst.patch(`/fee-plans/${planB.id}`, { name: 'x' })).statusCode, 403);
    assert.equal((await w.as.developer.get('/fee-plans')).statusCode, 403);
    assert.equal((await w.as.developer.get(`/fee-plans/${planB.id}`)).statusCode, 403);
    assert.equal((await w.as.anonymous.get('/fee-plans')).statusCode, 401);
  });

  test('PATCH before anything is billed: rename, add, change (amount too) and remove items', async () => {
    const plan = (await w.as.admin.post('/fee-plans', planBody(w.schoolA))).json<Plan>();
    const response = await w.as.admin.patch(`/fee-plans/${plan.id}`, {
      name: 'Primaria (nueva)',
      items: [
        { code: 'TUITION', description: 'Colegiatura', amount: 360_000, schedule: { kind: 'monthly', firstDue: '2026-09-10', count: 10 } },
        { code: 'LUNCH', description: 'Comedor', amount: 40_000, optional: true, schedule: { kind: 'monthly', firstDue: '2026-09-01', count: 10 } },
      ],
    });
    assert.equal(response.statusCode, 200, response.body);
    const after = response.json<Plan>();
    assert.equal(after.name, 'Primaria (nueva)');
    assert.deepEqual(after.items.map((i) => [i.code, i.amount]), [['TUITION', 360_000], ['LUNCH', 40_000]]);
    assert.equal(after.items[0]?.dueDates[0], '2026-09-10');
    const audit = await w.t.db.selectFrom('audit_log').select('changes').where('entity_id', '=', plan.id).where('action', '=', 'fee_plan.update').executeTakeFirstOrThrow();
    const changes = audit.changes as { items: { added: string[]; removed: string[]; changed: { code: string }[] } };
    assert.deepEqual(changes.items.added, ['LUNCH']);
    assert.deepEqual(changes.items.removed.sort(), ['BUS', 'ENROL']);
    assert.deepEqual(changes.items.changed.map((c) => c.code), ['TUITION']);

    const bad = await w.as.admin.patch(`/fee-plans/${plan.id}`, {
      items: [{ code: 'TUITION', description: 'x', amount: 1, schedule: { kind: 'once', dueDate: '2025-01-01' } }],
    });
    assert.equal(bad.statusCode, 422);
    assert.deepEqual(fields(bad), ['items.0.schedule.dueDate']);
  });

  test('PATCH after billing: billed instalments cannot change (409 INSTALMENT_BILLED naming the field); the unbilled rest can, and a split carries a new price', async () => {
    const plan = (await w.as.admin.post('/fee-plans', planBody(w.schoolA))).json<Plan>();
    const enrolment = await w.t.db
      .insertInto('enrolments')
      .values({ school_id: w.schoolA, student_id: w.students.ana, fee_plan_id: plan.id, from_date: '2026-08-01' })
      .returning('id')
      .executeTakeFirstOrThrow();
    const bill = (itemCode: string, dueDate: string, amount: number) =>
      billInstalment(w.t.db, { schoolId: w.schoolA, studentId: w.students.ana, enrolmentId: enrolment.id, itemCode, dueDate, amount });
    await bill('TUITION', '2026-09-05', 350_000);
    await bill('TUITION', '2026-10-05', 350_000);
    await bill('ENROL', '2026-08-15', 120_000);
    // A cancelled invoice bills nothing: BUS's instalment on it stays changeable.
    const cancelled = await bill('BUS', '2026-09-01', 90_000);
    await w.t.db.updateTable('invoices').set({ cancelled_at: new Date() }).where('id', '=', cancelled).execute();

    const read = (await w.as.admin.get(`/fee-plans/${plan.id}`)).json<Plan>();
    assert.deepEqual(read.items.map((i) => i.billedDueDates), [['2026-09-05', '2026-10-05'], ['2026-08-15'], []]);

    const items = planBody(w.schoolA).items;
    const [tuition, enrol, bus] = items as [typeof items[0], typeof items[0], typeof items[0]];

    const newAmount = await w.as.admin.patch(`/fee-plans/${plan.id}`, { items: [{ ...tuition, amount: 370_000 }, enrol, bus] });
    assert.equal(newAmount.statusCode, 409, newAmount.body);
    assert.equal(problemOf(newAmount).code, 'INSTALMENT_BILLED');
    assert.deepEqual(fields(newAmount), ['items.0.amount']);

    const moved = await w.as.admin.patch(`/fee-plans/${plan.id}`, {
      items: [{ ...tuition, schedule: { kind: 'monthly', firstDue: '2026-09-06', count: 10 } }, enrol, bus],
    });
    assert.equal(moved.statusCode, 409);
    assert.deepEqual(fields(moved), ['items.0.schedule']);

    const removed = await w.as.admin.patch(`/fee-plans/${plan.id}`, { items: [tuition, bus] });
    assert.equal(removed.statusCode, 409);
    assert.deepEqual(fields(removed), ['items']);
    assert.match(problemOf(removed).detail, /ENROL/);

    // What is not billed yet may change: fewer tuition months (the billed two kept),
    // ENROL's description, BUS entirely (its only billed invoice was cancelled).
    const ok = await w.as.admin.patch(`/fee-plans/${plan.id}`, {
      items: [
        { ...tuition, schedule: { kind: 'monthly', firstDue: '2026-09-05', count: 8 } },
        { ...enrol, description: 'Inscripción anual' },
        { ...bus, amount: 95_000, schedule: { kind: 'termly', dueDates: ['2026-09-02', '2027-01-10'] } },
      ],
    });
    assert.equal(ok.statusCode, 200, ok.body);
    assert.equal(ok.json<Plan>().items[0]?.dueDates.length, 8);

    // The documented way to a new price from now on: keep the billed dates on the item,
    // add a new code for the rest.
    const split = await w.as.admin.patch(`/fee-plans/${plan.id}`, {
      items: [
        { ...tuition, schedule: { kind: 'custom', dueDates: ['2026-09-05', '2026-10-05'] } },
        { code: 'TUITION-B', description: 'Colegiatura (nuevo precio)', amount: 370_000, schedule: { kind: 'monthly', firstDue: '2026-11-05', count: 8 } },
        enrol,
        bus,
      ],
    });
    assert.equal(split.statusCode, 200, split.body);
    const after = split.json<Plan>();
    assert.deepEqual(after.items.map((i) => [i.code, i.amount, i.dueDates.length, i.billedDueDates?.length]), [
      ['TUITION', 350_000, 2, 2],
      ['TUITION-B', 370_000, 8, 0],
      ['ENROL', 120_000, 1, 1],
      ['BUS', 90_000, 3, 0],
    ]);
    // Nothing billed changed.
    const lines = await w.t.db.selectFrom('invoice_lines').select(['item_code', 'amount']).where('enrolment_id', '=', enrolment.id).orderBy('due_date').execute();
    assert.deepEqual(lines.map((l) => [l.item_code, l.amount]), [['ENROL', 120_000], ['BUS', 90_000], ['TUITION', 350_000], ['TUITION', 350_000]]);
  });

  test('PATCH: concurrent changes of one plan serialise (each answer is a plan that was really saved)', async () => {
    const plan = (await w.as.admin.post('/fee-plans', planBody(w.schoolA))).json<Plan>();
    const names = Array.from({ length: 8 }, (_, i) => `Plan ${i}`);
    const answers = await Promise.all(names.map((name) => w.as.admin.patch(`/fee-plans/${plan.id}`, { name })));
    assert.ok(answers.every((a) => a.statusCode === 200));
    const final = (await w.as.admin.get(`/fee-plans/${plan.id}`)).json<Plan>();
    assert.ok(names.includes(final.name));
    const audits = await w.t.db.selectFrom('audit_log').select('id').where('entity_id', '=', plan.id).where('action', '=', 'fee_plan.update').execute();
    assert.equal(audits.length, names.length);
  });
});
