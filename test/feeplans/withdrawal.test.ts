import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { problemOf } from '../helpers/app.js';
import { billInstalment, createPlansWorld, insertStudent, planBody, type PlansWorld } from './fixture.js';

interface Withdrawal {
  id: string;
  to: string | null;
  cancelled: number;
  kept: number;
  cancelledInvoiceIds: string[];
  keptInvoiceIds: string[];
}

describe('withdrawal (PATCH /enrolments/:id {to})', () => {
  let w: PlansWorld;
  let plan: string;
  before(async () => {
    w = await createPlansWorld();
    plan = (await w.as.root.post('/fee-plans', planBody(w.schoolA))).json<{ id: string }>().id;
  });
  after(() => w.t.close());

  const fields = (response: Parameters<typeof problemOf>[0]) => (problemOf(response).errors ?? []).map((e) => e.field);
  const enrol = async (studentId: string, feePlanId = plan) => {
    const response = await w.as.admin.post(`/students/${studentId}/enrolments`, { feePlanId, from: '2026-08-01' });
    assert.equal(response.statusCode, 201, response.body);
    return response.json<{ id: string }>().id;
  };
  const cancelledAt = async (id: string) => (await w.t.db.selectFrom('invoices').select('cancelled_at').where('id', '=', id).executeTakeFirstOrThrow()).cancelled_at;

  test('cancels the unpaid invoices due after `to`; keeps those with something settled, earlier ones and shared ones', async () => {
    const student = w.students.ana;
    const enrolment = await enrol(student);
    const bill = (dueDate: string, paid = 0) =>
      billInstalment(w.t.db, { schoolId: w.schoolA, studentId: student, enrolmentId: enrolment, itemCode: 'TUITION', dueDate, amount: 350_000, paid });
    const sep = await bill('2026-09-05', 350_000);
    const oct = await bill('2026-10-05');
    const nov = await bill('2026-11-05', 1_000); // partly paid: kept
    const dec = await bill('2026-12-05');
    const jan = await bill('2027-01-05');
    const alreadyCancelled = await bill('2027-03-05');
    await w.t.db.updateTable('invoices').set({ cancelled_at: new Date('2026-12-01T00:00:00Z') }).where('id', '=', alreadyCancelled).execute();
    // One invoice that also bills the student's other plan, due the same day: kept.
    const otherPlan = (await w.as.root.post('/fee-plans', planBody(w.schoolA, { name: 'Club' }))).json<{ id: string }>().id;
    const otherEnrolment = await enrol(student, otherPlan);
    const feb = await bill('2027-02-05');
    await w.t.db
      .insertInto('invoice_lines')
      .values({ school_id: w.schoolA, invoice_id: feb, kind: 'charge', code: 'CLUB', description: 'Club', amount: 1, enrolment_id: otherEnrolment, item_code: 'CLUB', due_date: '2027-02-05', billing_key: randomUUID() })
      .execute();

    const response = await w.as.admin.patch(`/enrolments/${enrolment}`, { to: '2026-10-31' });
    assert.equal(response.statusCode, 200, response.body);
    const result = response.json<Withdrawal>();
    assert.equal(result.to, '2026-10-31');
    assert.equal(result.cancelled, 2);
    assert.equal(result.kept, 2);
    assert.deepEqual(result.cancelledInvoiceIds, [dec, jan]);
    assert.deepEqual(result.keptInvoiceIds, [nov, feb]);
    for (const id of [dec, jan]) {
      assert.notEqual(await cancelledAt(id), null);
    }
    for (const id of [sep, oct, nov, feb]) {
      assert.equal(await cancelledAt(id), null);
    }
    const audit = await w.t.db.selectFrom('audit_log').select('changes').where('entity_id', '=', enrolment).where('action', '=', 'enrolment.withdraw').executeTakeFirstOrThrow();
    assert.deepEqual((audit.changes as { cancelledInvoiceIds: string[] }).cancelledInvoiceIds, [dec, jan]);

    // Withdrawing again, earlier: only what is still open after the new day.
    const again = await w.as.admin.patch(`/enrolments/${enrolment}`, { to: '2026-09-30' });
    assert.equal(again.statusCode, 200);
    assert.deepEqual(again.json<Withdrawal>().cancelledInvoiceIds, [oct]);

    // Extending over instalments already cancelled: 409 naming `to`.
    const extend = await w.as.admin.patch(`/enrolments/${enrolment}`, { to: '2027-06-30' });
    assert.equal(extend.statusCode, 409);
    assert.deepEqual(fields(extend), ['to']);
  });

  test('bad `to`: before from or after the academic year → 422 naming to; roles', async () => {
    const enrolment = await enrol(w.students.beto);
    const early = await w.as.admin.patch(`/enrolments/${enrolment}`, { to: '2026-07-31' });
    assert.equal(early.statusCode, 422);
    assert.deepEqual(fields(early), ['to']);
    const late = await w.as.admin.patch(`/enrolments/${enrolment}`, { to: '2027-08-01' });
    assert.deepEqual(fields(late), ['to']);
    assert.equal((await w.as.analyst.patch(`/enrolments/${enrolment}`, { to: '2026-12-31' })).statusCode, 403);
    assert.equal((await w.as.developer.patch(`/enrolments/${enrolment}`, { to: '2026-12-31' })).statusCode, 403);

    const planB = (await w.as.root.post('/fee-plans', planBody(w.schoolB))).json<{ id: string }>().id;
    const inB = await w.as.root.post(`/students/${w.students.other}/enrolments`, { feePlanId: planB, from: '2026-08-01' });
    assert.equal((await w.as.admin.patch(`/enrolments/${inB.json<{ id: string }>().id}`, { to: '2026-12-31' })).statusCode, 404);
  });

  test('a withdrawal racing payments on its invoices: a paid invoice is never cancelled, a cancelled one takes no payment', async () => {
    for (let round = 0; round < 5; round++) {
      const student = await insertStudent(w.t.db, w.schoolA, `Race${round}`, '4');
      const enrolment = await enrol(student);
      const invoices: string[] = [];
      for (const dueDate of ['2026-12-05', '2027-01-05', '2027-02-05']) {
        invoices.push(await billInstalment(w.t.db, { schoolId: w.schoolA, studentId: student, enrolmentId: enrolment, itemCode: 'TUITION', dueDate, amount: 350_000 }));
      }
      const answers = await Promise.all([
        ...invoices.map((invoiceId) => w.as.admin.pay({ invoiceId, amount: 100, method: 'cash' })),
        w.as.admin.patch(`/enrolments/${enrolment}`, { to: '2026-11-30' }),
      ]);
      assert.ok(answers.every((a) => a.statusCode < 500), answers.map((a) => a.body).join('\n'));
      const withdrawal = answers[3]?.json<Withdrawal>();
      assert.equal((withdrawal?.cancelled ?? 0) + (withdrawal?.kept ?? 0), 3);
      const rows = await w.t.db.selectFrom('invoices').select(['id', 'paid_amount', 'cancelled_at']).where('id', 'in', invoices).execute();
      for (const row of rows) {
        assert.ok(!(row.cancelled_at !== null && row.paid_amount > 0), 'a cancelled invoice with money on it');
        assert.equal(row.cancelled_at !== null, withdrawal?.cancelledInvoiceIds.includes(row.id));
      }
      answers.slice(0, 3).forEach((answer, i) => {
        assert.equal(answer.statusCode === 201, !withdrawal?.cancelledInvoiceIds.includes(invoices[i] ?? ''), answer.body);
      });
    }
  });
});
