import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { discountLines, ruleDiscount, type RuleForBilling } from '../../src/modules/discounts/apply.js';

let n = 0;
const rule = (over: Partial<RuleForBilling>): RuleForBilling => ({
  id: `00000000-0000-7000-8000-${String(++n).padStart(12, '0')}`,
  awardId: null,
  name: `rule ${n}`,
  kind: 'custom',
  basis: 'percent',
  value: 1000,
  itemCodes: null,
  fromSiblingNumber: null,
  cap: null,
  stacking: 'stack',
  validFrom: null,
  validTo: null,
  ...over,
});

const line = (rules: RuleForBilling[], over: Partial<{ itemCode: string; amount: number; dueDate: string; siblingNumber: number | null }> = {}) =>
  discountLines({ itemCode: 'TUITION', amount: 10_000, dueDate: '2026-09-05', siblingNumber: null, rules, ...over });
const total = (lines: { amount: number }[]) => -lines.reduce((sum, l) => sum + l.amount, 0);

describe('discountLines', () => {
  test('percent rounds half-up to minor units; fixed is the value; cap bounds one instalment', () => {
    assert.equal(ruleDiscount(rule({ value: 1250 }), 999), 125); // 124.875 → 125
    assert.equal(ruleDiscount(rule({ value: 50 }), 1_001), 5); // 5.005 → 5
    assert.equal(ruleDiscount(rule({ value: 5000 }), 1), 1); // 0.5 → 1 (half up)
    assert.equal(ruleDiscount(rule({ basis: 'fixed', value: 700 }), 10_000), 700);
    assert.equal(ruleDiscount(rule({ value: 5000, cap: 3_000 }), 10_000), 3_000);
    assert.equal(ruleDiscount(rule({ basis: 'fixed', value: 50_000 }), 10_000), 10_000);
    // Large amounts stay exact (amount × basis points is computed in BigInt).
    assert.equal(ruleDiscount(rule({ value: 3333 }), 999_999_999_999), 333_300_000_000); // …999.6667 → up
    assert.equal(ruleDiscount(rule({ value: 9999 }), 9_007_199_254_739), 9_006_298_534_814);
  });

  test('validity dates, item filter and the sibling number decide whether a rule counts', () => {
    const dated = rule({ validFrom: '2026-09-01', validTo: '2026-12-31' });
    assert.equal(line([dated], { dueDate: '2026-08-31' }).length, 0);
    assert.equal(line([dated], { dueDate: '2026-09-01' }).length, 1);
    assert.equal(line([dated], { dueDate: '2026-12-31' }).length, 1);
    assert.equal(line([dated], { dueDate: '2027-01-01' }).length, 0);
    const transportOnly = rule({ itemCodes: ['TRANSPORT'] });
    assert.equal(line([transportOnly]).length, 0);
    assert.equal(line([transportOnly], { itemCode: 'TRANSPORT' }).length, 1);
    const sibling = rule({ kind: 'sibling', fromSiblingNumber: 3 });
    assert.equal(line([sibling], { siblingNumber: null }).length, 0);
    assert.equal(line([sibling], { siblingNumber: 2 }).length, 0);
    assert.equal(line([sibling], { siblingNumber: 3 }).length, 1);
    assert.equal(line([rule({ kind: 'sibling' })], { siblingNumber: 2 }).length, 1, 'a sibling rule applies from the second child by default');
  });

  test('stack rules all apply; a best_only rule replaces them only when larger than their sum', () => {
    const s1 = rule({ value: 1000 }); // 1 000
    const s2 = rule({ basis: 'fixed', value: 500 }); // 500
    const bSmall = rule({ stacking: 'best_only', value: 1200 }); // 1 200 < 1 500
    const bBig = rule({ stacking: 'best_only', value: 2000, awardId: 'award-1', kind: 'scholarship', name: 'Beca' }); // 2 000 > 1 500
    assert.equal(total(line([s1, s2])), 1_500);
    assert.deepEqual(line([s1, s2, bSmall]).map((l) => l.ruleId).sort(), [s1.id, s2.id].sort());
    const replaced = line([s1, s2, bSmall, bBig]);
    assert.deepEqual(replaced, [{ ruleId: bBig.id, awardId: 'award-1', code: 'scholarship', description: 'Beca', amount: -2_000 }]);
    // Only the largest best_only rule, never two of them.
    assert.equal(total(line([bSmall, bBig])), 2_000);
    // A tie keeps the stacked rules.
    assert.deepEqual(line([s1, s2, rule({ stacking: 'best_only', basis: 'fixed', value: 1_500 })]).map((l) => l.ruleId).sort(), [s1.id, s2.id].sort());
  });

  test('never below zero: stacked rules above the amount are cut, largest kept whole', () => {
    const a = rule({ value: 6000 }); // 6 000
    const b = rule({ value: 5000 }); // 5 000
    const lines = line([a, b]);
    assert.deepEqual(lines.map((l) => [l.ruleId, l.amount]), [[a.id, -6_000], [b.id, -4_000]]);
    assert.equal(total(line([rule({ value: 10_000 }), rule({ basis: 'fixed', value: 1 })])), 10_000);
    assert.deepEqual(line([a], { amount: 0 }), []);
  });

  // ---------------------------------------------------------------- properties
  const ruleArb = fc.record({
    id: fc.uuid(),
    awardId: fc.option(fc.uuid(), { nil: null }),
    name: fc.constantFrom('Sibling', 'Staff', 'Beca', 'Promo'),
    kind: fc.constantFrom('sibling' as const, 'staff' as const, 'scholarship' as const, 'custom' as const),
    basis: fc.constantFrom('percent' as const, 'fixed' as const),
    value: fc.integer({ min: 1, max: 10_000 }),
    itemCodes: fc.option(fc.subarray(['TUITION', 'TRANSPORT', 'LUNCH']), { nil: null }),
    fromSiblingNumber: fc.option(fc.integer({ min: 2, max: 4 }), { nil: null }),
    cap: fc.option(fc.integer({ min: 1, max: 50_000 }), { nil: null }),
    stacking: fc.constantFrom('stack' as const, 'best_only' as const),
    validFrom: fc.option(fc.constantFrom('2026-08-01', '2026-10-01', '2027-01-01'), { nil: null }),
    validTo: fc.option(fc.constantFrom('2026-09-30', '2026-12-31', '2027-07-31'), { nil: null }),
  });
  const inputArb = fc.record({
    itemCode: fc.constantFrom('TUITION', 'TRANSPORT', 'LUNCH'),
    amount: fc.integer({ min: 0, max: 100_000_000 }),
    dueDate: fc.constantFrom('2026-09-05', '2026-11-05', '2027-02-05', '2027-06-05'),
    siblingNumber: fc.option(fc.integer({ min: 1, max: 5 }), { nil: null }),
    rules: fc.array(ruleArb, { maxLength: 8 }),
  });

  test('property: the total discount is within [0, amount], every line negative and whole', () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        const lines = discountLines(input);
        const sum = total(lines);
        assert.ok(sum >= 0 && sum <= input.amount, `${sum} of ${input.amount}`);
        assert.ok(lines.every((l) => l.amount < 0 && Number.isSafeInteger(l.amount)));
      }),
      { numRuns: 500 },
    );
  });

  test('property: adding a rule never increases what the family pays', () => {
    fc.assert(
      fc.property(inputArb, ruleArb, (input, extra) => {
        const before = input.amount - total(discountLines(input));
        const after = input.amount - total(discountLines({ ...input, rules: [...input.rules, extra] }));
        assert.ok(after <= before, `paid ${before} → ${after}`);
      }),
      { numRuns: 500 },
    );
  });

  test('property: the order of the rules does not matter', () => {
    fc.assert(
      fc.property(
        inputArb.chain((input) => fc.tuple(fc.constant(input), fc.shuffledSubarray(input.rules, { minLength: input.rules.length, maxLength: input.rules.length }))),
        ([input, shuffled]) => {
          assert.deepEqual(discountLines({ ...input, rules: shuffled }), discountLines(input));
        },
      ),
      { numRuns: 500 },
    );
  });
});
