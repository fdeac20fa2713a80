import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { createTestApp, insertUser, login, type TestApp } from '../helpers/app.js';
import { client, type Client } from '../helpers/api.js';
import { createFamily, createInvoice, createSchool, day } from '../familypayments/fixtures.js';

/**
 * Gapless receipt numbers (SPEC §7, issue 16 point 7): every money received in a school —
 * a direct payment or a family payment — takes the school's next number in its own
 * transaction. Real concurrent requests, mixed, with some that fail and roll back:
 * the numbers are exactly 1..N, no gap, no duplicate, and every one belongs to money
 * that was received.
 */
describe('receipt numbers under concurrency', () => {
  let t: TestApp;
  let admin: Client;
  let schoolId = '';
  let otherSchool = '';

  before(async () => {
    t = await createTestApp();
    schoolId = await createSchool(t.db, { name: 'Numeros School' });
    otherSchool = await createSchool(t.db, { name: 'Other School' });
    await insertUser(t.db, { username: 'num.admin', role: 'school_admin', schoolIds: [schoolId, otherSchool] });
    admin = client(t.app, (await login(t.app, 'num.admin')).accessToken);
  });
  after(() => t.close());

  /** The receipts of a school as sequence numbers, and the numbers' NNNNNN parts. */
  async function receiptsOf(school: string) {
    const rows = await t.db.selectFrom('receipts').select(['seq', 'number', 'payment_id', 'family_payment_id']).where('school_id', '=', school).orderBy('seq').execute();
    return rows.map((row) => ({ ...row, seq: Number(row.seq), tail: Number(row.number.split('-').at(-1)) }));
  }

  test('50 concurrent payments, direct and family mixed, with failures in between: numbers 1..N, no gap, no duplicate', async () => {
    const families = await Promise.all(Array.from({ length: 5 }, () => createFamily(t.db, schoolId)));
    const invoices: string[] = [];
    for (const [index, family] of families.entries()) {
      for (let i = 0; i < 4; i++) {
        invoices.push(
          await createInvoice(t.db, { schoolId, familyId: family.id, studentId: family.students[0] ?? '', amount: 20_000, dueDate: day(-30 + index * 4 + i) }),
        );
      }
    }
    // Another school's payments at the same time: its own numbering, untouched by these.
    const elsewhere = await createFamily(t.db, otherSchool);

    type Outcome = { kind: 'direct' | 'family' | 'fail' | 'other'; status: number; body: string };
    const work: Promise<Outcome>[] = [];
    for (let i = 0; i < 50; i++) {
      if (i % 2 === 0) {
        const family = families[i % families.length];
        work.push(
          admin
            .post(`/families/${family?.id ?? ''}/payments`, { amount: 3_000 + i, method: 'bank_transfer' }, { 'idempotency-key': randomUUID() })
            .then((r) => ({ kind: 'family', status: r.statusCode, body: r.body })),
        );
      } else {
        work.push(admin.pay({ invoiceId: invoices[i % invoices.length] ?? '', amount: 1_000, method: 'card' }).then((r) => ({ kind: 'direct', status: r.statusCode, body: r.body })));
      }
      // Interleaved failures: an overpayment (422) and a bad payer (422) roll back inside their transactions.
      if (i % 5 === 0) {
        work.push(admin.pay({ invoiceId: invoices[(i + 3) % invoices.length] ?? '', amount: 999_999, method: 'cash' }).then((r) => ({ kind: 'fail', status: r.statusCode, body: r.body })));
        work.push(
          admin
            .post(`/families/${families[0]?.id ?? ''}/payments`, { amount: 500, method: 'cash', payerGuardianId: elsewhere.guardians[0] }, { 'idempotency-key': randomUUID() })
            .then((r) => ({ kind: 'fail', status: r.statusCode, body: r.body })),
        );
      }
      if (i % 10 === 0) {
        work.push(
          admin
            .post(`/families/${elsewhere.id}/payments`, { amount: 700, method: 'cash' }, { 'idempotency-key': randomUUID() })
            .then((r) => ({ kind: 'other', status: r.statusCode, body: r.body })),
        );
      }
    }
    const outcomes = await Promise.all(work);
    for (const outcome of outcomes) {
      assert.equal(outcome.status, outcome.kind === 'fail' ? 422 : 201, `${outcome.kind}: ${outcome.body}`);
    }
    const made = outcomes.filter((outcome) => outcome.kind === 'direct' || outcome.kind === 'family');
    assert.equal(made.length, 50);

    const receipts = await receiptsOf(schoolId);
    assert.deepEqual(
      receipts.map((receipt) => receipt.seq),
      Array.from({ length: 50 }, (_, i) => i + 1),
      'sequence 1..50: no gap, no duplicate',
    );
    assert.deepEqual(
      receipts.map((receipt) => receipt.tail),
      receipts.map((receipt) => receipt.seq),
      'the printed number is the sequence',
    );
    assert.equal(new Set(receipts.map((receipt) => receipt.number)).size, 50);
    // Each receipt belongs to one answer that was given, and each answer has its receipt.
    const answered = new Set(
      made.map((outcome) => {
        const body = JSON.parse(outcome.body) as { id: string; receiptNumber?: string };
        return body.id;
      }),
    );
    assert.deepEqual(new Set(receipts.map((receipt) => receipt.family_payment_id ?? receipt.payment_id)), answered);
    const familyAnswers = made.filter((outcome) => outcome.kind === 'family').map((outcome) => JSON.parse(outcome.body) as { receiptNumber: string });
    for (const answer of familyAnswers) {
      assert.ok(receipts.some((receipt) => receipt.number === answer.receiptNumber), answer.receiptNumber);
    }
    // The other school counted on its own.
    assert.deepEqual((await receiptsOf(otherSchool)).map((receipt) => receipt.seq), [1, 2, 3, 4, 5]);
  });

  test('a failed payment leaves no hole: the next receipt follows the last one', async () => {
    const before = await receiptsOf(schoolId);
    const last = before.at(-1)?.seq ?? 0;
    const family = await createFamily(t.db, schoolId);
    const invoice = await createInvoice(t.db, { schoolId, familyId: family.id, studentId: family.students[0] ?? '', amount: 5_000, dueDate: day(1) });
    const refused = await admin.pay({ invoiceId: invoice, amount: 5_001, method: 'cash' });
    assert.equal(refused.statusCode, 422);
    const ok = await admin.pay({ invoiceId: invoice, amount: 5_000, method: 'cash' });
    assert.equal(ok.statusCode, 201, ok.body);
    const afterwards = await receiptsOf(schoolId);
    assert.deepEqual(afterwards.map((receipt) => receipt.seq).slice(-1), [last + 1]);
    assert.equal(afterwards.at(-1)?.payment_id, ok.json<{ id: string }>().id);
  });
});
