import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { discountLines } from '../../src/modules/discounts/apply.js';
import { loadRulesForBilling } from '../../src/modules/discounts/discounts.repository.js';
import { problemOf } from '../helpers/app.js';
import { createPlansWorld, type PlansWorld } from '../feeplans/fixture.js';

interface Rule {
  id: string;
  schoolId: string;
  kind: string;
  basis: string;
  value: number;
  itemCodes: string[] | null;
  fromSiblingNumber: number | null;
  cap: number | null;
  stacking: string;
  validFrom: string | null;
  validTo: string | null;
  isActive: boolean;
}
interface Award {
  id: string;
  studentId: string;
  ruleId: string;
  ruleName: string;
  reason: string;
  createdBy: string | null;
  revokedAt: string | null;
  revokedBy: string | null;
}

describe('discount rules and awards', () => {
  let w: PlansWorld;
  before(async () => {
    w = await createPlansWorld();
  });
  after(() => w.t.close());

  const fields = (response: Parameters<typeof problemOf>[0]) => (problemOf(response).errors ?? []).map((e) => e.field);
  const rule = (over: Record<string, unknown> = {}) => ({ schoolId: w.schoolA, name: 'Beca 50 %', kind: 'scholarship', basis: 'percent', value: 50, ...over });
  const createRule = async (over: Record<string, unknown> = {}) => {
    const response = await w.as.admin.post('/discount-rules', rule(over));
    assert.equal(response.statusCode, 201, response.body);
    return response.json<Rule>();
  };

  test('create: percent as a number of percent (stored in basis points), fixed in minor units, sibling from the 2nd child by default', async () => {
    const percent = await createRule({ value: 12.5, itemCodes: ['TUITION'], cap: 50_000, stacking: 'best_only', validFrom: '2026-08-01', validTo: '2027-07-31' });
    assert.equal(percent.value, 12.5);
    assert.deepEqual(percent.itemCodes, ['TUITION']);
    assert.equal(percent.stacking, 'best_only');
    const stored = await w.t.db.selectFrom('discount_rules').select('value').where('id', '=', percent.id).executeTakeFirstOrThrow();
    assert.equal(stored.value, 1250);

    const fixed = await createRule({ name: 'Staff', kind: 'staff', basis: 'fixed', value: 25_000 });
    assert.equal(fixed.value, 25_000);
    assert.equal(fixed.stacking, 'stack');
    assert.equal(fixed.fromSiblingNumber, null);

    const sibling = await createRule({ name: 'Hermanos', kind: 'sibling', value: 10 });
    assert.equal(sibling.fromSiblingNumber, 2);
    const third = await createRule({ name: 'Tercer hermano', kind: 'sibling', value: 20, fromSiblingNumber: 3 });
    assert.equal(third.fromSiblingNumber, 3);

    const audit = await w.t.db.selectFrom('audit_log').select('action').where('entity_id', '=', percent.id).execute();
    assert.deepEqual(audit, [{ action: 'discount_rule.create' }]);

    const list = await w.as.analyst.get(`/discount-rules?schoolId=${w.schoolA}&kind=sibling`);
    assert.equal(list.statusCode, 200);
    assert.deepEqual(list.json<{ data: Rule[] }>().data.map((r) => r.id).sort(), [sibling.id, third.id].sort());
  });

  test('bad rules: 422 naming the field (above 100 %, three decimals, fractional cents, sibling number on another kind, dates reversed, codes twice)', async () => {
    const before = (await w.t.db.selectFrom('discount_rules').select('id').execute()).length;
    const cases: [Record<string, unknown>, string][] = [
      [{ value: 100.01 }, 'value'],
      [{ value: 150 }, 'value'],
      [{ value: 12.345 }, 'value'],
      [{ basis: 'fixed', value: 10.5 }, 'value'],
      [{ fromSiblingNumber: 2 }, 'fromSiblingNumber'],
      [{ validFrom: '2027-01-01', validTo: '2026-12-31' }, 'validTo'],
      [{ itemCodes: ['BUS', 'TUITION', 'BUS'] }, 'itemCodes.2'],
      [{ name: '   ' }, 'name'],
    ];
    for (const [over, name] of cases) {
      const response = await w.as.admin.post('/discount-rules', rule(over));
      assert.equal(response.statusCode, 422, `${JSON.stringify(over)}: ${response.body}`);
      assert.deepEqual(fields(response), [name], JSON.stringify(over));
    }
    const zero = await w.as.admin.post('/discount-rules', rule({ value: 0 }));
    assert.equal(zero.statusCode, 400);
    assert.deepEqual(fields(zero), ['value']);
    const lowSibling = await w.as.admin.post('/discount-rules', rule({ kind: 'sibling', fromSiblingNumber: 1 }));
    assert.equal(lowSibling.statusCode, 400);
    assert.ok(fields(lowSibling).includes('fromSiblingNumber'));
    assert.equal((await w.t.db.selectFrom('discount_rules').select('id').execute()).length, before);
  });

  test('PATCH: value in the rule’s basis; a new basis needs its value; audited from → to', async () => {
    const r = await createRule({ name: 'Promo', kind: 'custom', value: 10 });
    const up = await w.as.admin.patch(`/discount-rules/${r.id}`, { value: 15.25, cap: 10_000 });
    assert.equal(up.statusCode, 200, up.body);
    assert.equal(up.json<Rule>().value, 15.25);
    const tooMuch = await w.as.admin.patch(`/discount-rules/${r.id}`, { value: 101 });
    assert.equal(tooMuch.statusCode, 422);
    assert.deepEqual(fields(tooMuch), ['value']);
    const basisAlone = await w.as.admin.patch(`/discount-rules/${r.id}`, { basis: 'fixed' });
    assert.deepEqual(fields(basisAlone), ['value']);
    const toFixed = await w.as.admin.patch(`/discount-rules/${r.id}`, { basis: 'fixed', value: 5_000, isActive: false });
    assert.equal(toFixed.statusCode, 200);
    assert.deepEqual([toFixed.json<Rule>().basis, toFixed.json<Rule>().value, toFixed.json<Rule>().isActive], ['fixed', 5_000, false]);
    const kind = await w.as.admin.patch(`/discount-rules/${r.id}`, { kind: 'staff' });
    assert.equal(kind.statusCode, 400);
    const audits = await w.t.db.selectFrom('audit_log').select('changes').where('entity_id', '=', r.id).where('action', '=', 'discount_rule.update').orderBy('id').execute();
    assert.equal(audits.length, 2);
    assert.deepEqual((audits[0]?.changes as { value: unknown }).value, { from: 10, to: 15.25 });
  });

  test('awards: reason required and audited; sibling and inactive rules refused; one active award per rule; revoke keeps the row', async () => {
    const beca = await createRule({ name: 'Beca', kind: 'scholarship', value: 30 });
    const sibling = await createRule({ name: 'Hermanos 2', kind: 'sibling', value: 5 });
    const inactive = await createRule({ name: 'Old', kind: 'custom', value: 5 });
    await w.as.admin.patch(`/discount-rules/${inactive.id}`, { isActive: false });
    const ruleB = (await w.as.root.post('/discount-rules', rule({ schoolId: w.schoolB }))).json<Rule>();
    const award = (body: object, student = w.students.ana) => w.as.admin.post(`/students/${student}/awards`, body);

    const noReason = await award({ ruleId: beca.id });
    assert.equal(noReason.statusCode, 400);
    assert.deepEqual(fields(noReason), ['reason']);
    const blank = await award({ ruleId: beca.id, reason: '   ' });
    assert.equal(blank.statusCode, 422);
    assert.deepEqual(fields(blank), ['reason']);
    const siblingAward = await award({ ruleId: sibling.id, reason: 'x' });
    assert.equal(siblingAward.statusCode, 422);
    assert.deepEqual(fields(siblingAward), ['ruleId']);
    assert.deepEqual(fields(await award({ ruleId: inactive.id, reason: 'x' })), ['ruleId']);
    const otherSchool = await w.as.root.post(`/students/${w.students.ana}/awards`, { ruleId: ruleB.id, reason: 'x' });
    assert.equal(otherSchool.statusCode, 422);
    assert.deepEqual(fields(otherSchool), ['ruleId']);

    // Two identical requests at once: one award.
    const [first, second] = await Promise.all([award({ ruleId: beca.id, reason: ' Beca académica ' }), award({ ruleId: beca.id, reason: 'Beca académica' })]);
    assert.deepEqual([first?.statusCode, second?.statusCode].sort(), [201, 409]);
    const created = (first?.statusCode === 201 ? first : second)?.json<Award>();
    assert.ok(created);
    assert.equal(created.reason, 'Beca académica');
    assert.equal(created.createdBy, w.userIds.admin);
    const audit = await w.t.db.selectFrom('audit_log').select(['action', 'changes', 'actor_user_id']).where('entity_id', '=', created.id).execute();
    assert.deepEqual(audit.map((a) => [a.action, (a.changes as { reason: string }).reason, a.actor_user_id]), [['award.create', 'Beca académica', w.userIds.admin]]);

    assert.equal((await w.as.analyst.delete(`/awards/${created.id}`)).statusCode, 403);
    const revoked = await w.as.admin.delete(`/awards/${created.id}`);
    assert.equal(revoked.statusCode, 200, revoked.body);
    assert.notEqual(revoked.json<Award>().revokedAt, null);
    assert.equal(revoked.json<Award>().revokedBy, w.userIds.admin);
    const twice = await w.as.admin.delete(`/awards/${created.id}`);
    assert.equal(twice.json<Award>().revokedAt, revoked.json<Award>().revokedAt);
    assert.equal((await w.t.db.selectFrom('audit_log').select('id').where('entity_id', '=', created.id).where('action', '=', 'award.revoke').execute()).length, 1);

    // Revoked: the rule can be awarded again; lists filter by active.
    assert.equal((await award({ ruleId: beca.id, reason: 'again' })).statusCode, 201);
    const all = (await w.as.analyst.get(`/students/${w.students.ana}/awards`)).json<{ data: Award[] }>().data;
    const active = (await w.as.analyst.get(`/students/${w.students.ana}/awards?active=true`)).json<{ data: Award[] }>().data;
    assert.equal(all.length, 2);
    assert.equal(active.length, 1);
  });

  test('roles: school_admin 404 for other schools’ rules, students and awards; developer 403', async () => {
    const ruleB = (await w.as.root.post('/discount-rules', rule({ schoolId: w.schoolB, name: 'B rule' }))).json<Rule>();
    const awardB = (await w.as.root.post(`/students/${w.students.other}/awards`, { ruleId: ruleB.id, reason: 'b' })).json<Award>();
    assert.equal((await w.as.admin.get(`/discount-rules/${ruleB.id}`)).statusCode, 404);
    assert.equal((await w.as.admin.patch(`/discount-rules/${ruleB.id}`, { name: 'x' })).statusCode, 404);
    assert.equal((await w.as.admin.post('/discount-rules', rule({ schoolId: w.schoolB }))).statusCode, 404);
    assert.equal((await w.as.admin.get(`/discount-rules?schoolId=${w.schoolB}`)).statusCode, 404);
    assert.ok((await w.as.admin.get('/discount-rules?limit=500')).json<{ data: Rule[] }>().data.every((r) => r.schoolId === w.schoolA));
    assert.equal((await w.as.admin.delete(`/awards/${awardB.id}`)).statusCode, 404);
    assert.equal((await w.as.admin.get(`/students/${w.students.other}/awards`)).statusCode, 404);
    assert.equal((await w.as.analyst.post('/discount-rules', rule())).statusCode, 403);
    assert.equal((await w.as.developer.get('/discount-rules')).statusCode, 403);
    assert.equal((await w.as.developer.get(`/students/${w.students.ana}/awards`)).statusCode, 403);
    assert.equal((await w.as.anonymous.get('/discount-rules')).statusCode, 401);
  });

  test('loadRulesForBilling + discountLines: the school’s sibling rules and the student’s active awards of active rules', async () => {
    const schoolId = w.schoolA;
    const rules = await loadRulesForBilling(w.t.db, schoolId, [w.students.beto]);
    const siblingIds = (await w.t.db.selectFrom('discount_rules').select('id').where('school_id', '=', schoolId).where('kind', '=', 'sibling').where('is_active', '=', true).execute()).map((r) => r.id);
    assert.deepEqual(rules.siblingRules.map((r) => r.id).sort(), siblingIds.sort());
    assert.equal(rules.awardsByStudent.size, 0);

    const staff = await createRule({ name: 'Staff child', kind: 'staff', basis: 'fixed', value: 20_000, stacking: 'stack' });
    const awarded = (await w.as.admin.post(`/students/${w.students.beto}/awards`, { ruleId: staff.id, reason: 'hijo de docente' })).json<Award>();
    const loaded = await loadRulesForBilling(w.t.db, schoolId);
    const forBeto = loaded.rulesFor(w.students.beto);
    assert.ok(forBeto.some((r) => r.id === staff.id && r.awardId === awarded.id));
    const lines = discountLines({ itemCode: 'TUITION', amount: 350_000, dueDate: '2026-09-05', siblingNumber: 1, rules: forBeto });
    assert.deepEqual(lines, [{ ruleId: staff.id, awardId: awarded.id, code: 'staff', description: 'Staff child', amount: -20_000 }]);
    const asSecond = discountLines({ itemCode: 'TUITION', amount: 350_000, dueDate: '2026-09-05', siblingNumber: 2, rules: forBeto });
    assert.ok(asSecond.length > 1, 'the sibling rule adds to the stacked award for a second child');

    await w.as.admin.delete(`/awards/${awarded.id}`);
    assert.ok(!(await loadRulesForBilling(w.t.db, schoolId)).rulesFor(w.students.beto).some((r) => r.id === staff.id));
  });
});
