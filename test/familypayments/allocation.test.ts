import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { createFamilyPaymentsRepository } from '../../src/modules/familypayments/familypayments.repository.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { createFamily, createInvoice, createSchool, creditOf, day, invoiceFigures } from './fixtures.js';

/**
 * The allocation rule of a family payment (SPEC §7) as record_family_payment (migration
 * 0019) applies it, on a real database: the family's open invoices oldest due date
 * first, each taking what it still owes until the money runs out; what is left is
 * family credit.
 */
describe('family payment allocation (oldest due first, the rest is credit)', () => {
  let t: TestApp;
  const repository = createFamilyPaymentsRepository();

  before(async () => {
    t = await createTestApp();
  });
  after(() => t.close());

  /** A family with one invoice per amount, due on consecutive days in that order; then a family payment of `amount`. */
  async function pay(amount: number, opens: readonly number[], extra?: (schoolId: string, family: { id: string; students: string[] }) => Promise<void>) {
    const schoolId = await createSchool(t.db);
    const family = await createFamily(t.db, schoolId);
    const student = family.students[0] ?? '';
    const ids: string[] = [];
    for (const [index, open] of opens.entries()) {
      ids.push(await createInvoice(t.db, { schoolId, studentId: student, familyId: family.id, amount: open, dueDate: day(index - 40) }));
    }
    await extra?.(schoolId, family);
    const result = await repository.record(t.db, {
      user: null,
      requestId: null,
      idempotency: null,
      schoolIds: [schoolId],
      familyId: family.id,
      amount,
      method: 'cash',
      reference: null,
      paidAt: new Date(),
      paidAtGiven: false,
      window: '366 days',
      payerGuardianId: null,
      demo: false,
    });
    return { ids, family, body: result.body };
  }

  test('fills invoices oldest due first, the last one partly, and credits what is left; cancelled invoices take nothing', async () => {
    const partly = await pay(6_000, [3_000, 5_000, 2_000]);
    assert.deepEqual(
      partly.body.allocations.map(({ invoiceId, amount }) => ({ invoiceId, amount })),
      [
        { invoiceId: partly.ids[0], amount: 3_000 },
        { invoiceId: partly.ids[1], amount: 3_000 },
      ],
    );
    assert.equal(partly.body.credited, 0);
    assert.deepEqual(await invoiceFigures(t.db, partly.ids[1] ?? ''), { amount: 5_000, paid: 3_000, open: 2_000 });
    assert.equal((await invoiceFigures(t.db, partly.ids[2] ?? '')).paid, 0);

    let cancelled = '';
    const over = await pay(12_500, [3_000, 5_000, 2_000], async (schoolId, family) => {
      cancelled = await createInvoice(t.db, { schoolId, studentId: family.students[0] ?? '', familyId: family.id, amount: 9_000, dueDate: day(-90), cancelled: true });
    });
    assert.deepEqual(
      over.body.allocations.map((a) => a.amount),
      [3_000, 5_000, 2_000],
    );
    assert.equal(over.body.credited, 2_500);
    assert.equal(await creditOf(t.db, over.family.id), 2_500);
    assert.equal((await invoiceFigures(t.db, cancelled)).paid, 0);

    const nothingOpen = await pay(700, []);
    assert.deepEqual(nothingOpen.body.allocations, []);
    assert.equal(nothingOpen.body.credited, 700);
  });

  test('property: Σ allocations + credited = amount, no invoice above what it owes, earlier invoices filled first', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 2_000_000 }), fc.array(fc.integer({ min: 1, max: 500_000 }), { maxLength: 6 }), async (amount, opens) => {
        const { ids, body } = await pay(amount, opens);
        const allocated = body.allocations.reduce((sum, a) => sum + a.amount, 0);
        assert.equal(allocated + body.credited, amount);
        assert.equal(body.allocated, allocated);
        assert.ok(body.credited >= 0);
        // Exactly the oldest-first fill: each invoice in due order takes min(left, open).
        let left = amount;
        const expected: { invoiceId: string; amount: number }[] = [];
        for (const [index, open] of opens.entries()) {
          if (left === 0) {
            break;
          }
          const share = Math.min(left, open);
          expected.push({ invoiceId: ids[index] ?? '', amount: share });
          left -= share;
        }
        assert.deepEqual(
          body.allocations.map(({ invoiceId, amount: share }) => ({ invoiceId, amount: share })),
          expected,
        );
        assert.equal(body.credited, left);
      }),
      { numRuns: 40 },
    );
  });
});
