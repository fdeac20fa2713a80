import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { assembleInvoices, billingKey, invoiceDescription, splitByShares, splitDiscount, type Instalment, type ItemTotal } from '../../src/modules/billruns/assemble.js';
import type { RuleForBilling } from '../../src/modules/discounts/apply.js';

const rule = (over: Partial<RuleForBilling>): RuleForBilling => ({
  id: 'r1',
  awardId: null,
  name: 'Rule',
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

const inst = (over: Partial<Instalment>): Instalment => ({
  enrolmentId: 'e1',
  studentId: 's1',
  familyId: null,
  itemCode: 'tuition',
  itemDescription: 'Tuition',
  itemPosition: 0,
  dueDate: '2026-09-05',
  early: null,
  amount: 10_000,
  siblingNumber: null,
  payers: [],
  ...over,
});

const shares = fc.array(fc.integer({ min: 1, max: 1_000_000 }), { minLength: 1, maxLength: 4 });

describe('bill-run assembly (pure)', () => {
  test('splitByShares: rounded down, remainder to the first payer', () => {
    assert.deepEqual(splitByShares(10_001, [500_000, 500_000]), [5_001, 5_000]);
    assert.deepEqual(splitByShares(100, [333_334, 333_333, 333_333]), [34, 33, 33]);
    assert.deepEqual(splitByShares(7, [1_000_000]), [7]);
  });

  test('property: a split sums to the amount and no part is negative', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1_000_000_000_000 }), shares, (amount, s) => {
        const parts = splitByShares(amount, s);
        assert.equal(parts.reduce((a, b) => a + b, 0), amount);
        assert.ok(parts.every((p) => p >= 0));
      }),
    );
  });

  test('property: a discount split never exceeds any payer’s room and gives all of it when there is room', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10_000_000 }), shares, fc.integer({ min: 0, max: 10_000_000 }), (amount, s, d) => {
        const room = splitByShares(amount, s);
        const discount = Math.min(d, amount);
        const parts = splitDiscount(discount, s, room);
        parts.forEach((p, i) => assert.ok(p >= 0 && p <= (room[i] ?? 0)));
        assert.equal(parts.reduce((a, b) => a + b, 0), discount);
      }),
    );
  });

  test('one invoice per student, payer and due date; lines keyed exactly once; totals add up', () => {
    const totals = new Map<string, ItemTotal>();
    const invoices = assembleInvoices(
      [
        inst({ payers: [{ guardianId: 'g1', sharePpm: 600_000 }, { guardianId: 'g2', sharePpm: 400_000 }], amount: 10_001 }),
        inst({ itemCode: 'bus', itemDescription: 'Transport', amount: 2_000, payers: [{ guardianId: 'g1', sharePpm: 600_000 }, { guardianId: 'g2', sharePpm: 400_000 }] }),
        inst({ dueDate: '2026-10-05' }),
      ],
      { schoolId: 'school', billRunId: 'run', currency: 'MXN', language: 'en', rulesFor: () => [rule({ id: 'fixed', basis: 'fixed', value: 1_000, itemCodes: ['tuition'] })] },
      totals,
    ).invoices;
    assert.equal(invoices.length, 3);
    const [g1, g2, october] = invoices;
    assert.equal(g1?.payerGuardianId, 'g1');
    assert.equal(g1?.description, 'Tuition, Transport · Sep 2026');
    assert.deepEqual(g1?.lines.map((l) => [l.kind, l.code, l.amount]), [['charge', 'tuition', 6_001], ['discount', 'custom', -600], ['charge', 'bus', 1_200]]);
    assert.deepEqual(g2?.lines.map((l) => [l.kind, l.code, l.amount]), [['charge', 'tuition', 4_000], ['discount', 'custom', -400], ['charge', 'bus', 800]]);
    assert.equal(g2?.lines[0]?.billingKey, billingKey('e1', 'tuition', '2026-09-05', 'g2'));
    assert.equal(october?.payerGuardianId, null);
    assert.equal(october?.lines[0]?.billingKey, 'bill:e1:tuition:2026-10-05:-');
    assert.equal(october?.description, 'Tuition · Oct 2026');
    const sum = invoices.flatMap((i) => i.lines).reduce((s, l) => s + l.amount, 0);
    const t = [...totals.values()];
    assert.equal(t.reduce((s, x) => s + x.amount, 0), sum);
    assert.deepEqual(totals.get('tuition'), { itemCode: 'tuition', currency: 'MXN', lines: 6, charges: 20_001, discounts: -2_000, amount: 18_001 });
  });

  test('a fixed discount is given once per instalment, not once per payer, and no invoice goes below zero', () => {
    const invoices = assembleInvoices(
      [inst({ amount: 5, payers: [{ guardianId: 'g1', sharePpm: 200_000 }, { guardianId: 'g2', sharePpm: 400_000 }, { guardianId: 'g3', sharePpm: 400_000 }] })],
      { schoolId: 'school', billRunId: null, currency: 'MXN', language: 'en', rulesFor: () => [rule({ basis: 'fixed', value: 4 })] },
      new Map(),
    ).invoices;
    const amounts = invoices.map((i) => i.lines.reduce((s, l) => s + l.amount, 0));
    assert.ok(amounts.every((a) => a >= 0), String(amounts));
    assert.equal(amounts.reduce((a, b) => a + b, 0), 1);
  });

  test('keep: only the first invoices are built, every one is counted, totals are the same', () => {
    const instalments = [1, 2, 3].flatMap((m) => [
      inst({ studentId: 'a', dueDate: `2026-0${m}-05`, payers: [{ guardianId: 'g1', sharePpm: 500_000 }, { guardianId: 'g2', sharePpm: 500_000 }] }),
      inst({ studentId: 'b', dueDate: `2026-0${m}-05`, itemCode: 'bus', itemDescription: 'Transport' }),
    ]);
    const ctx = { schoolId: 'school', billRunId: null, currency: 'MXN', language: 'en' as const, rulesFor: () => [rule({ value: 2500 })] };
    const fullTotals = new Map<string, ItemTotal>();
    const full = assembleInvoices(instalments, ctx, fullTotals);
    const keptTotals = new Map<string, ItemTotal>();
    const kept = assembleInvoices(instalments, ctx, keptTotals, { keep: 2 });
    assert.equal(full.invoices.length, 9);
    assert.equal(full.invoiceCount, 9);
    assert.equal(full.lineCount, full.invoices.reduce((s, i) => s + i.lines.length, 0));
    assert.deepEqual(kept.invoices, full.invoices.slice(0, 2));
    assert.equal(kept.invoiceCount, 9);
    assert.equal(kept.lineCount, full.lineCount);
    assert.deepEqual([...keptTotals.values()], [...fullTotals.values()]);
  });

  test('descriptions stay within 500 characters', () => {
    const long = invoiceDescription(['x'.repeat(300), 'y'.repeat(300)], '2027-01-31', 'en');
    assert.ok(long.length <= 500);
    assert.ok(long.endsWith(' · Jan 2027'));
  });

  test('the month is written in the school’s language', () => {
    assert.equal(invoiceDescription(['Colegiatura', 'Transporte'], '2027-01-10', 'es'), 'Colegiatura, Transporte · ene 2027');
    assert.equal(invoiceDescription(['Colegiatura'], '2026-08-31', 'es'), 'Colegiatura · ago 2026');
    assert.equal(invoiceDescription(['Tuition'], '2026-08-31', 'en'), 'Tuition · Aug 2026');
  });
});
