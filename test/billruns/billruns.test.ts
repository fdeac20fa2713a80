import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { client, type Client } from '../helpers/api.js';
import { createTestApp, insertUser, login, problemOf, type TestApp } from '../helpers/app.js';
import {
  insertAward,
  insertEnrolment,
  insertFamily,
  insertGuardian,
  insertPlan,
  insertRule,
  insertSchool,
  insertStudent,
  setFamilyCredit,
  TEN_MONTHS,
} from './fixtures.js';

interface Run {
  id: string | null;
  schoolId: string;
  through: string;
  dryRun: boolean;
  status: string;
  invoicesCreated: number;
  linesCreated: number;
  skipped: number;
  totals: { itemCode: string; currency: string; lines: number; charges: number; discounts: number; amount: number }[];
  progress: { done: number; total: number };
  startedAt: string | null;
  finishedAt: string | null;
  preview?: {
    invoices: number;
    lines: number;
    totals: Run['totals'];
    firstRows: { studentId: string; studentName: string; dueDate: string; description: string; amount: number; payerGuardianId: string | null; lines: { kind: string; code: string; amount: number }[] }[];
  };
}

describe('bill runs over HTTP', () => {
  let t: TestApp;
  let root: Client;
  let school: string;
  let other: string;

  const invoicesOf = (schoolId: string) =>
    t.db
      .selectFrom('invoices')
      .select(['id', 'student_id', 'family_id', 'payer_guardian_id', 'bill_run_id', 'due_date', 'amount', 'paid_amount', 'description'])
      .where('school_id', '=', schoolId)
      .orderBy('due_date')
      .orderBy('number')
      .execute();
  const linesOf = (invoiceId: string) =>
    t.db.selectFrom('invoice_lines').select(['kind', 'code', 'amount', 'billing_key', 'rule_id', 'award_id']).where('invoice_id', '=', invoiceId).orderBy('id').execute();
  const count = async (table: 'invoices' | 'invoice_lines' | 'bill_runs', schoolId: string) =>
    Number((await t.db.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).where('school_id', '=', schoolId).executeTakeFirstOrThrow()).n);

  before(async () => {
    t = await createTestApp();
    school = await insertSchool(t.db, { name: 'Colegio Plan' });
    other = await insertSchool(t.db, { name: 'Other School' });
    await insertUser(t.db, { username: 'root', role: 'super_admin' });
    await insertUser(t.db, { username: 'bursar', role: 'school_admin', schoolIds: [school] });
    await insertUser(t.db, { username: 'analyst', role: 'finance_analyst' });
    await insertUser(t.db, { username: 'dev', role: 'developer' });
    root = client(t.app, (await login(t.app, 'root')).accessToken);
  });
  after(() => t.close());

  test('a dry run previews the invoices, lines and totals and writes nothing, not even the run', async () => {
    const s = await insertSchool(t.db);
    const plan = await insertPlan(t.db, s, [{ code: 'tuition', description: 'Tuition', amount: 100_000, schedule: TEN_MONTHS }]);
    const family = await insertFamily(t.db, s);
    const ana = await insertStudent(t.db, s, { familyId: family, firstName: 'Ana' });
    await insertEnrolment(t.db, s, { studentId: ana, planId: plan, from: '2026-08-01' });
    const before_ = await t.db.selectFrom('audit_log').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();

    const response = await root.post('/bill-runs', { schoolId: s, through: '2026-11-30', dryRun: true });
    assert.equal(response.statusCode, 200, response.body);
    const run = response.json<Run>();
    assert.equal(run.id, null);
    assert.equal(run.dryRun, true);
    assert.equal(run.preview?.invoices, 3);
    assert.equal(run.preview?.lines, 3);
    assert.deepEqual(run.preview?.totals, [{ itemCode: 'tuition', currency: 'MXN', lines: 3, charges: 300_000, discounts: 0, amount: 300_000 }]);
    assert.equal(run.preview?.firstRows.length, 3);
    assert.equal(run.preview?.firstRows[0]?.description, 'Tuition · sep 2026', 'the month in the school’s language (MXN: Spanish)');
    assert.equal(run.preview?.firstRows[0]?.studentName, 'Ana Test');
    assert.equal(await count('invoices', s), 0);
    assert.equal(await count('invoice_lines', s), 0);
    assert.equal(await count('bill_runs', s), 0);
    const after_ = await t.db.selectFrom('audit_log').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    assert.equal(Number(after_.n), Number(before_.n));
  });

  test('a run bills every due instalment once: one invoice per student and due date, lines, family, run id, description; a re-run is a no-op', async () => {
    const s = await insertSchool(t.db);
    const plan = await insertPlan(t.db, s, [
      { code: 'tuition', description: 'Tuition', amount: 100_000, schedule: TEN_MONTHS },
      { code: 'enrol', description: 'Enrolment', amount: 50_000, schedule: { kind: 'once', dueDate: '2026-09-05' } },
      { code: 'bus', description: 'Transport', amount: 20_000, optional: true, schedule: TEN_MONTHS },
    ]);
    const family = await insertFamily(t.db, s);
    const ana = await insertStudent(t.db, s, { familyId: family });
    const beto = await insertStudent(t.db, s);
    const late = await insertStudent(t.db, s);
    const gone = await insertStudent(t.db, s);
    await insertEnrolment(t.db, s, { studentId: ana, planId: plan, from: '2026-08-01', optionalItems: ['bus'] });
    await insertEnrolment(t.db, s, { studentId: beto, planId: plan, from: '2026-08-01' });
    await insertEnrolment(t.db, s, { studentId: late, planId: plan, from: '2026-10-01' }); // joins mid-year: from October
    await insertEnrolment(t.db, s, { studentId: gone, planId: plan, from: '2026-08-01', to: '2026-09-30' }); // withdrawn after September

    const response = await root.post('/bill-runs', { schoolId: s, through: '2026-10-31' });
    assert.equal(response.statusCode, 201, response.body);
    const run = response.json<Run>();
    assert.equal(run.status, 'finished');
    assert.ok(run.id);
    // ana: Sep (tuition+enrol+bus), Oct (tuition+bus); beto: Sep (tuition+enrol), Oct; late: Oct; gone: Sep (tuition+enrol)
    assert.equal(run.invoicesCreated, 6);
    assert.equal(run.linesCreated, 11);
    assert.deepEqual(run.progress, { done: 4, total: 4 }, 'billing units walked: a family and three students');
    assert.equal(run.skipped, 0);
    const invoices = await invoicesOf(s);
    assert.equal(invoices.length, 6);
    assert.ok(invoices.every((i) => i.bill_run_id === run.id));
    const anaSep = invoices.find((i) => i.student_id === ana && i.due_date === '2026-09-05');
    assert.equal(anaSep?.family_id, family);
    assert.equal(anaSep?.amount, 170_000);
    assert.equal(anaSep?.description, 'Tuition, Enrolment, Transport · sep 2026');
    const lines = await linesOf(anaSep?.id ?? '');
    assert.deepEqual(lines.map((l) => [l.kind, l.code, l.amount]).sort(), [['charge', 'bus', 20_000], ['charge', 'enrol', 50_000], ['charge', 'tuition', 100_000]]);
    assert.ok(lines.every((l) => l.billing_key?.startsWith('bill:') && l.billing_key.endsWith(':2026-09-05:-')));
    assert.ok(invoices.filter((i) => i.student_id === beto).every((i) => i.family_id === null));
    assert.deepEqual(invoices.filter((i) => i.student_id === late).map((i) => i.due_date), ['2026-10-05']);
    assert.deepEqual(invoices.filter((i) => i.student_id === gone).map((i) => i.due_date), ['2026-09-05']);
    const sum = invoices.reduce((a, i) => a + i.amount, 0);
    assert.equal(run.totals.reduce((a, x) => a + x.amount, 0), sum);

    const again = (await root.post('/bill-runs', { schoolId: s, through: '2026-10-31' })).json<Run>();
    assert.equal(again.status, 'finished');
    assert.equal(again.invoicesCreated, 0);
    assert.equal(again.linesCreated, 0);
    assert.equal(again.skipped, 11);
    assert.equal(await count('invoices', s), 6);

    // Later: only what fell due since.
    const later = (await root.post('/bill-runs', { schoolId: s, through: '2026-11-30' })).json<Run>();
    assert.equal(later.invoicesCreated, 3);
    assert.equal(await count('invoices', s), 9);
  });

  test('payers split each instalment by share (remainder to the first), one invoice per payer; a change of payers never bills an instalment again', async () => {
    const s = await insertSchool(t.db);
    const plan = await insertPlan(t.db, s, [{ code: 'tuition', description: 'Tuition', amount: 100_001, schedule: TEN_MONTHS }]);
    const family = await insertFamily(t.db, s);
    const mum = await insertGuardian(t.db, s, family, 'Mum');
    const dad = await insertGuardian(t.db, s, family, 'Dad');
    const kid = await insertStudent(t.db, s, { familyId: family });
    const enrolment = await insertEnrolment(t.db, s, { studentId: kid, planId: plan, from: '2026-08-01', payers: [{ guardianId: mum, share: 0.5 }, { guardianId: dad, share: 0.5 }] });
    const run = (await root.post('/bill-runs', { schoolId: s, through: '2026-09-30' })).json<Run>();
    assert.equal(run.invoicesCreated, 2);
    const invoices = await invoicesOf(s);
    assert.deepEqual(invoices.map((i) => [i.payer_guardian_id, i.amount]).sort(), [[dad, 50_000], [mum, 50_001]].sort());
    const keys = (await t.db.selectFrom('invoice_lines').select('billing_key').where('school_id', '=', s).execute()).map((l) => l.billing_key).sort();
    assert.deepEqual(keys, [`bill:${enrolment}:tuition:2026-09-05:${dad}`, `bill:${enrolment}:tuition:2026-09-05:${mum}`].sort());

    // Mum alone pays from now on: September stays as billed, October is hers in full.
    await t.db.deleteFrom('enrolment_payers').where('enrolment_id', '=', enrolment).execute();
    await t.db.insertInto('enrolment_payers').values({ school_id: s, enrolment_id: enrolment, guardian_id: mum, share: 1, position: 0 }).execute();
    const next = (await root.post('/bill-runs', { schoolId: s, through: '2026-10-31' })).json<Run>();
    assert.equal(next.invoicesCreated, 1);
    assert.equal(next.skipped, 1);
    const october = (await invoicesOf(s)).filter((i) => i.due_date === '2026-10-05');
    assert.deepEqual(october.map((i) => [i.payer_guardian_id, i.amount]), [[mum, 100_001]]);
  });

  test('discounts: sibling rules by family order (earliest enrolment, then creation), awards (not revoked), as negative lines', async () => {
    const s = await insertSchool(t.db);
    const plan = await insertPlan(t.db, s, [
      { code: 'tuition', description: 'Tuition', amount: 100_000, schedule: TEN_MONTHS },
      { code: 'enrol', description: 'Enrolment', amount: 50_000, schedule: { kind: 'once', dueDate: '2026-09-05' } },
    ]);
    const sibling = await insertRule(t.db, s, { kind: 'sibling', basis: 'percent', value: 1000, itemCodes: ['tuition'], name: 'Sibling 10 %' });
    const scholarship = await insertRule(t.db, s, { kind: 'scholarship', basis: 'fixed', value: 30_000, name: 'Scholarship' });
    const staff = await insertRule(t.db, s, { kind: 'staff', basis: 'percent', value: 10_000, name: 'Staff' });
    const family = await insertFamily(t.db, s);
    // Created first but enrolled later: the younger sibling in billing order.
    const second = await insertStudent(t.db, s, { familyId: family, createdAt: '2020-01-01T00:00:00Z' });
    const first = await insertStudent(t.db, s, { familyId: family, createdAt: '2021-01-01T00:00:00Z' });
    await insertEnrolment(t.db, s, { studentId: first, planId: plan, from: '2026-08-01' });
    await insertEnrolment(t.db, s, { studentId: second, planId: plan, from: '2026-08-15' });
    const award = await insertAward(t.db, s, first, scholarship);
    await insertAward(t.db, s, second, staff, true); // revoked: no discount

    const run = (await root.post('/bill-runs', { schoolId: s, through: '2026-09-30' })).json<Run>();
    assert.equal(run.invoicesCreated, 2);
    const invoices = await invoicesOf(s);
    const firstInvoice = invoices.find((i) => i.student_id === first);
    const secondInvoice = invoices.find((i) => i.student_id === second);
    const firstLines = await linesOf(firstInvoice?.id ?? '');
    const secondLines = await linesOf(secondInvoice?.id ?? '');
    assert.deepEqual(
      firstLines.filter((l) => l.kind === 'discount').map((l) => [l.rule_id, l.award_id, l.amount]).sort(),
      [[scholarship, award, -30_000], [scholarship, award, -30_000]],
    );
    assert.deepEqual(secondLines.filter((l) => l.kind === 'discount').map((l) => [l.rule_id, l.amount]), [[sibling, -10_000]]);
    assert.equal(firstInvoice?.amount, 150_000 - 60_000);
    assert.equal(secondInvoice?.amount, 150_000 - 10_000);
    const tuition = run.totals.find((x) => x.itemCode === 'tuition');
    assert.deepEqual(tuition, { itemCode: 'tuition', currency: 'MXN', lines: 4, charges: 200_000, discounts: -40_000, amount: 160_000 });
  });

  test('family credit is applied to the new invoices, oldest due first, and only up to the credit', async () => {
    const s = await insertSchool(t.db);
    const plan = await insertPlan(t.db, s, [{ code: 'tuition', description: 'Tuition', amount: 100_000, schedule: TEN_MONTHS }]);
    const family = await insertFamily(t.db, s);
    const a = await insertStudent(t.db, s, { familyId: family });
    const b = await insertStudent(t.db, s, { familyId: family });
    await insertEnrolment(t.db, s, { studentId: a, planId: plan, from: '2026-08-01' });
    await insertEnrolment(t.db, s, { studentId: b, planId: plan, from: '2026-10-01' });
    await setFamilyCredit(t.db, s, family, 250_000);
    const run = (await root.post('/bill-runs', { schoolId: s, through: '2026-11-30' })).json<Run>();
    assert.equal(run.invoicesCreated, 5);
    const invoices = await invoicesOf(s);
    // Sep a (100 000), Oct a + b (200 000): Sep in full, then 150 000 over October's two, by due date then id.
    const paid = invoices.map((i) => [i.due_date, i.paid_amount]);
    assert.equal(invoices.filter((i) => i.due_date === '2026-09-05')[0]?.paid_amount, 100_000);
    assert.equal(invoices.filter((i) => i.due_date === '2026-10-05').reduce((x, i) => x + i.paid_amount, 0), 150_000, JSON.stringify(paid));
    assert.equal(invoices.filter((i) => i.due_date === '2026-11-05').reduce((x, i) => x + i.paid_amount, 0), 0);
    const credit = await t.db.selectFrom('families').select('credit_balance').where('id', '=', family).executeTakeFirstOrThrow();
    assert.equal(credit.credit_balance, 0);
    const applied = await t.db.selectFrom('credit_applications').select((eb) => eb.fn.sum<number>('amount').as('s')).where('family_id', '=', family).executeTakeFirstOrThrow();
    assert.equal(Number(applied.s), 250_000);
  });

  test('inactive and deleted students are not billed; a school without plans bills nothing', async () => {
    const s = await insertSchool(t.db);
    const plan = await insertPlan(t.db, s, [{ code: 'tuition', description: 'Tuition', amount: 100_000, schedule: TEN_MONTHS }]);
    const inactive = await insertStudent(t.db, s, { isActive: false });
    const deleted = await insertStudent(t.db, s);
    await insertEnrolment(t.db, s, { studentId: inactive, planId: plan, from: '2026-08-01' });
    await insertEnrolment(t.db, s, { studentId: deleted, planId: plan, from: '2026-08-01' });
    await t.db.updateTable('students').set({ deleted_at: sql<Date>`now()` }).where('id', '=', deleted).execute();
    const run = (await root.post('/bill-runs', { schoolId: s, through: '2027-07-31' })).json<Run>();
    assert.equal(run.invoicesCreated, 0);
    const empty = await insertSchool(t.db);
    const none = await root.post('/bill-runs', { schoolId: empty, through: '2027-07-31' });
    assert.equal(none.statusCode, 201, none.body);
    assert.equal(none.json<Run>().invoicesCreated, 0);
  });

  test('roles: school_admin only in its schools (404 elsewhere), finance_analyst reads but may not start (403), developer 403; runs are audited', async () => {
    const plan = await insertPlan(t.db, school, [{ code: 'tuition', description: 'Tuition', amount: 10_000, schedule: TEN_MONTHS }]);
    await insertEnrolment(t.db, school, { studentId: await insertStudent(t.db, school, { firstName: 'Rosa' }), planId: plan, from: '2026-08-01' });
    await insertEnrolment(t.db, other, { studentId: await insertStudent(t.db, other), planId: await insertPlan(t.db, other, [{ code: 'tuition', description: 'Tuition', amount: 10_000, schedule: TEN_MONTHS }]), from: '2026-08-01' });
    const bursar = client(t.app, (await login(t.app, 'bursar')).accessToken);
    const analyst = client(t.app, (await login(t.app, 'analyst')).accessToken);
    const dev = client(t.app, (await login(t.app, 'dev')).accessToken);

    const mine = await bursar.post('/bill-runs', { schoolId: school, through: '2026-09-30' });
    assert.equal(mine.statusCode, 201, mine.body);
    const run = mine.json<Run>();
    const elsewhere = await bursar.post('/bill-runs', { schoolId: other, through: '2026-09-30' });
    assert.equal(elsewhere.statusCode, 404);
    assert.deepEqual(problemOf(elsewhere).errors?.map((e) => e.field), ['schoolId']);
    assert.equal(await count('invoices', other), 0);
    const otherRun = (await root.post('/bill-runs', { schoolId: other, through: '2026-09-30' })).json<Run>();
    assert.equal((await bursar.get(`/bill-runs/${otherRun.id}`)).statusCode, 404);
    assert.equal((await bursar.get(`/bill-runs?schoolId=${other}`)).statusCode, 404);
    const listed = (await bursar.get('/bill-runs')).json<{ data: Run[] }>();
    assert.ok(listed.data.every((r) => r.schoolId === school));

    assert.equal((await analyst.post('/bill-runs', { schoolId: school, through: '2026-09-30' })).statusCode, 403);
    assert.equal((await analyst.post('/bill-runs', { schoolId: school, through: '2026-09-30', dryRun: true })).statusCode, 403);
    const read = await analyst.get(`/bill-runs/${run.id}`);
    assert.equal(read.statusCode, 200);
    assert.equal(read.json<Run>().invoicesCreated, 1);
    assert.equal((await analyst.get(`/bill-runs?schoolId=${other}`)).statusCode, 200);
    assert.equal((await dev.get(`/bill-runs/${run.id}`)).statusCode, 403);
    assert.equal((await dev.get('/bill-runs')).statusCode, 403);
    assert.equal((await dev.post('/bill-runs', { schoolId: school, through: '2026-09-30' })).statusCode, 403);

    const audit = await t.db.selectFrom('audit_log').select(['action', 'actor_username', 'school_id']).where('entity_id', '=', run.id ?? '').execute();
    assert.deepEqual(audit, [{ action: 'bill_run.run', actor_username: 'bursar', school_id: school }]);
  });

  test('GET /bill-runs lists newest first, bounded, with a cursor', async () => {
    const s = await insertSchool(t.db);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      ids.push((await root.post('/bill-runs', { schoolId: s, through: '2026-09-30' })).json<Run>().id ?? '');
    }
    const first = (await root.get(`/bill-runs?schoolId=${s}&limit=2`)).json<{ data: Run[]; nextCursor: string | null }>();
    assert.deepEqual(first.data.map((r) => r.id), [ids[2], ids[1]]);
    assert.ok(first.nextCursor);
    const second = (await root.get(`/bill-runs?schoolId=${s}&limit=2&cursor=${first.nextCursor}`)).json<{ data: Run[]; nextCursor: string | null }>();
    assert.deepEqual(second.data.map((r) => r.id), [ids[0]]);
    assert.equal(second.nextCursor, null);
    const one = (await root.get(`/bill-runs/${ids[0]}`)).json<Run>();
    assert.equal(one.schoolId, s);
    assert.equal(one.through, '2026-09-30');
    assert.ok(one.startedAt && one.finishedAt);
  });

  test('bad input: problem+json naming the field, never a 500, nothing written', async () => {
    const cases: [object, string, number][] = [
      [{ schoolId: school, through: 'tomorrow' }, 'through', 400],
      [{ schoolId: school, through: '2026-02-30' }, 'through', 400],
      [{ schoolId: school, through: '1999-12-31' }, 'through', 400],
      [{ schoolId: school, through: 20260930 }, 'through', 400],
      [{ schoolId: school }, 'through', 400],
      [{ schoolId: 'not-a-uuid', through: '2026-09-30' }, 'schoolId', 400],
      [{ schoolId: '00000000-0000-7000-8000-000000000000', through: '2026-09-30' }, 'schoolId', 404],
      [{ schoolId: school, through: '2026-09-30', dryRun: 'yes' }, 'dryRun', 400],
      [{ schoolId: school, through: '2026-09-30', extra: 1 }, 'extra', 400],
    ];
    const runs = await count('bill_runs', school);
    for (const [body, field, status] of cases) {
      const response = await root.post('/bill-runs', body);
      assert.equal(response.statusCode, status, `${JSON.stringify(body)}: ${response.body}`);
      const problem = problemOf(response);
      assert.ok(problem.errors?.some((e) => e.field === field) || problem.detail.includes(field), `${JSON.stringify(body)}: ${response.body}`);
    }
    assert.equal(await count('bill_runs', school), runs);
    assert.equal((await root.get('/bill-runs/not-a-uuid')).statusCode, 400);
    assert.equal((await root.get('/bill-runs?cursor=garbage')).statusCode, 400);
    assert.equal((await root.get('/bill-runs/00000000-0000-7000-8000-000000000000')).statusCode, 404);
  });
});
