import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { currencyDigits, formatMoney, minorToDecimal, minorToUnits, spreadsheetMoneyFormat } from '../../src/shared/money.js';

test('minor units follow ISO 4217, not Intl display digits (COP has 2 decimals)', () => {
  assert.equal(currencyDigits('MXN'), 2);
  assert.equal(currencyDigits('COP'), 2);
  assert.equal(currencyDigits('JPY'), 0);
  assert.equal(currencyDigits('KWD'), 3);
});

test('statement amounts scale by the ISO digits: 150 000 minor units of COP are 1,500.00', () => {
  assert.equal(formatMoney(150_000, 'COP'), 'COP 1,500.00');
  assert.equal(formatMoney(12_345, 'MXN'), 'MXN 123.45');
  assert.equal(formatMoney(5_000, 'JPY'), 'JPY 5,000');
  assert.equal(formatMoney(1_234, 'KWD'), 'KWD 1.234');
});

test('amounts for people: every minor digit, thousands separators, exact for the largest amounts', () => {
  assert.equal(formatMoney(450_000, 'MXN'), 'MXN 4,500.00');
  assert.equal(formatMoney(99_999_999_999, 'COP'), 'COP 999,999,999.99');
  assert.equal(formatMoney(5, 'USD'), 'USD 0.05');
  assert.equal(formatMoney(-1_250, 'USD'), 'USD -12.50');
  assert.equal(formatMoney(Number.MAX_SAFE_INTEGER, 'MXN'), 'MXN 90,071,992,547,409.91', 'no float rounding');
});

test('CSV decimals: a plain number with the currency digits, no separators', () => {
  assert.equal(minorToDecimal(450_000, 'MXN'), '4500.00');
  assert.equal(minorToDecimal(120_000, 'USD'), '1200.00');
  assert.equal(minorToDecimal(7, 'COP'), '0.07');
  assert.equal(minorToDecimal(0, 'MXN'), '0.00');
  assert.equal(minorToDecimal(-1_250, 'USD'), '-12.50');
  assert.equal(minorToDecimal(5_000, 'JPY'), '5000');
  assert.equal(minorToDecimal(1, 'KWD'), '0.001');
  assert.equal(minorToUnits(450_000, 'MXN'), 4500);
  assert.throws(() => minorToDecimal(1.5, 'MXN'), RangeError);
  // Exact for every safe integer and each digit count: the text times 10^digits is the integer again.
  fc.assert(
    fc.property(fc.maxSafeInteger(), fc.constantFrom('MXN', 'JPY', 'KWD', 'CLF'), (minor, currency) => {
      const text = minorToDecimal(minor, currency);
      assert.match(text, /^-?\d+(\.\d+)?$/);
      assert.equal(BigInt(text.replace('.', '')), BigInt(minor));
      assert.equal((text.split('.')[1] ?? '').length, currencyDigits(currency));
    }),
  );
});

test('spreadsheet number formats per currency', () => {
  assert.equal(spreadsheetMoneyFormat('MXN'), '#,##0.00 "MXN";-#,##0.00 "MXN"');
  assert.equal(spreadsheetMoneyFormat('JPY'), '#,##0 "JPY";-#,##0 "JPY"');
  assert.equal(spreadsheetMoneyFormat('KWD'), '#,##0.000 "KWD";-#,##0.000 "KWD"');
});
