import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { allocate } from '../../src/modules/familypayments/allocation.js';

describe('family payment allocation (oldest due first, the rest is credit)', () => {
  test('fills invoices in the order given, the last one partly, and credits what is left', () => {
    const invoices = [
      { id: 'a', open: 3_000 },
      { id: 'b', open: 5_000 },
      { id: 'c', open: 2_000 },
    ];
    assert.deepEqual(allocate(6_000, invoices), { allocations: [{ invoiceId: 'a', amount: 3_000 }, { invoiceId: 'b', amount: 3_000 }], credited: 0 });
    assert.deepEqual(allocate(12_500, invoices), {
      allocations: [
        { invoiceId: 'a', amount: 3_000 },
        { invoiceId: 'b', amount: 5_000 },
        { invoiceId: 'c', amount: 2_000 },
      ],
      credited: 2_500,
    });
    assert.deepEqual(allocate(700, []), { allocations: [], credited: 700 });
    assert.deepEqual(allocate(10, [{ id: 'z', open: 0 }, { id: 'y', open: 4 }]), { allocations: [{ invoiceId: 'y', amount: 4 }], credited: 6 });
  });

  test('refuses an amount that is not a positive integer of minor units', () => {
    for (const amount of [0, -1, 1.5, Number.NaN, Number.MAX_SAFE_INTEGER + 2]) {
      assert.throws(() => allocate(amount, []), RangeError);
    }
  });

  test('property: Σ allocations + credited = amount, no invoice above what it owes, earlier invoices filled first', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1_000_000_000 }),
        fc.array(fc.integer({ min: 0, max: 100_000_000 }), { maxLength: 40 }),
        (amount, opens) => {
          const invoices = opens.map((open, index) => ({ id: `i${index}`, open }));
          const { allocations, credited } = allocate(amount, invoices);
          const allocated = allocations.reduce((sum, a) => sum + a.amount, 0);
          assert.equal(allocated + credited, amount);
          assert.ok(credited >= 0);
          const byId = new Map(invoices.map((invoice) => [invoice.id, invoice.open]));
          for (const allocation of allocations) {
            assert.ok(allocation.amount > 0 && allocation.amount <= (byId.get(allocation.invoiceId) ?? 0));
          }
          // Credit only once every invoice is full; an invoice is touched only once all before it are full.
          const totalOpen = opens.reduce((sum, open) => sum + open, 0);
          assert.equal(allocated, Math.min(amount, totalOpen));
          const partial = allocations.filter((a) => a.amount < (byId.get(a.invoiceId) ?? 0));
          assert.ok(partial.length <= 1 && (partial.length === 0 || partial[0] === allocations.at(-1)));
        },
      ),
    );
  });
});
