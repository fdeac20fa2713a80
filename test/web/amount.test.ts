import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { amountErrorText, decimalSeparatorOf, parseAmount, type AmountError } from '../../web/src/lib/amount.js';
import { dashboardI18n } from '../../web/src/lib/i18n.js';

/**
 * The dashboard's amount parser (web/src/lib/amount.ts): amounts as bursars type them
 * in Mexico, Colombia and the US, into integer minor units; clear errors otherwise. A
 * refusal is a code with its values; the messages below are its English text, written
 * with the dashboard's own strings (and the same refusal in Spanish at the end).
 */
const english = dashboardI18n.getFixedT('en', 'dashboard');
const spanish = dashboardI18n.getFixedT('es', 'dashboard');
const text = (refusal: AmountError, t = english) => amountErrorText(refusal, (key, values) => t(key, values));
const minor = (text: string, currency = 'MXN') => {
  const result = parseAmount(text, currency);
  assert.ok(result.ok, `${text} (${currency}): ${result.ok ? '' : result.error.code}`);
  return result.minor;
};
const refusal = (text: string, currency = 'MXN') => {
  const result = parseAmount(text, currency);
  assert.ok(!result.ok, `${text} (${currency}) should be refused, got ${result.ok ? result.minor : ''}`);
  return result.error;
};
const error = (input: string, currency = 'MXN') => text(refusal(input, currency));

describe('parseAmount', () => {
  test('the forms the issue lists, in a two-decimal currency', () => {
    for (const currency of ['MXN', 'USD', 'COP']) {
      assert.equal(minor('1500', currency), 150_000, currency);
      assert.equal(minor('1,500.00', currency), 150_000, currency);
      assert.equal(minor('1.500,00', currency), 150_000, currency);
      assert.equal(minor('1 500,00', currency), 150_000, currency);
    }
    assert.equal(minor('$1,500', 'USD'), 150_000);
    assert.equal(minor('$1,500', 'MXN'), 150_000);
  });

  test('decimals, currency signs and codes, and Intl’s own output', () => {
    assert.equal(minor('1500.5'), 150_050);
    assert.equal(minor('1500,5'), 150_050);
    assert.equal(minor('0.01'), 1);
    assert.equal(minor('0,5'), 50);
    assert.equal(minor('1500.'), 150_000);
    assert.equal(minor('MX$1,234.56'), 123_456);
    assert.equal(minor('MX$ 1,234.56'), 123_456);
    assert.equal(minor('COP 150.000', 'COP'), 15_000_000);
    assert.equal(minor('1.500.000,50 COP', 'COP'), 150_000_050);
    assert.equal(minor('1,234,567.89', 'USD'), 123_456_789);
    assert.equal(minor('1.234.567', 'COP'), 123_456_700);
    assert.equal(minor("1'500.00", 'USD'), 150_000);
    assert.equal(minor('€1.500,00', 'EUR'), 150_000);
    // What the dashboard itself shows, no-break spaces included, parses back.
    for (const [currency, value] of [['COP', 123_456_700], ['MXN', 450_000], ['USD', 1], ['JPY', 1500], ['KWD', 1_500_250]] as const) {
      const shown = new Intl.NumberFormat('en-US', { style: 'currency', currency, minimumFractionDigits: currency === 'JPY' ? 0 : currency === 'KWD' ? 3 : 2 }).format(
        value / 10 ** (currency === 'JPY' ? 0 : currency === 'KWD' ? 3 : 2),
      );
      assert.equal(minor(shown, currency), value, shown);
    }
    assert.equal(minor('1\u00a0500,00', 'COP'), 150_000);
    assert.equal(minor('1\u202f500,00', 'EUR'), 150_000);
  });

  test('a lone separator before three digits is read by the currency’s convention, else refused as ambiguous', () => {
    assert.equal(decimalSeparatorOf('COP'), ',');
    assert.equal(decimalSeparatorOf('MXN'), '.');
    assert.equal(minor('150.000', 'COP'), 15_000_000); // Colombia groups with "."
    assert.equal(minor('1,500', 'USD'), 150_000); // the US groups with ","
    assert.equal(minor('1.500', 'KWD'), 1_500); // three decimals: 1.500 KWD
    assert.match(error('1.500', 'USD'), /ambiguous.*1500 or 1\.50/);
    assert.match(error('1,500', 'COP'), /ambiguous.*1500 or 1,50/);
    // Not a thousands group, so not ambiguous: too many decimals.
    assert.match(error('1500.000', 'USD'), /at most 2 decimals/);
    assert.match(error('0.500', 'USD'), /at most 2 decimals/);
  });

  test('zero digits: JPY has no decimals', () => {
    assert.equal(minor('1,500', 'JPY'), 1500);
    assert.equal(minor('¥1,500', 'JPY'), 1500);
    assert.match(error('1500.5', 'JPY'), /no decimals/);
  });

  test('what is refused, with a reason', () => {
    assert.match(error(''), /Enter an amount/);
    assert.match(error('   '), /Enter an amount/);
    assert.match(error('-5'), /positive/);
    assert.match(error('$-5'), /positive/);
    assert.match(error('abc'), /not an amount/);
    assert.match(error('12abc'), /not an amount/);
    assert.match(error('1e3'), /not an amount/);
    assert.match(error('USD 10', 'MXN'), /not an amount/);
    assert.match(error('1,50,0'), /wrong places/);
    assert.match(error('15 00,00', 'COP'), /wrong places/);
    assert.match(error('1.500.00'), /wrong places/);
    assert.match(error('1,500.00.00'), /more than one decimal separator/);
    assert.match(error('1500.123'), /at most 2 decimals/);
    assert.match(error('99999999999999999999'), /too large/);
    assert.equal(minor('0'), 0);
  });

  test('a refusal is a code with its values, written in either language', () => {
    assert.deepEqual(refusal('1.500', 'USD'), { code: 'ambiguous', shown: '1.500', currency: 'USD', whole: '1500', decimal: '1.5', asFraction: '1.50' });
    assert.deepEqual(refusal(''), { code: 'empty' });
    assert.deepEqual(refusal('1500.123'), { code: 'tooManyDecimals', shown: '1500.123', currency: 'MXN', decimals: 2 });
    assert.equal(text(refusal('1.500', 'USD')), '“1.500” is ambiguous in USD (1500 or 1.5?): write 1500 or 1.50.');
    assert.equal(text(refusal('1.500', 'USD'), spanish), '“1.500” es ambiguo en USD (¿1500 o 1.5?): escriba 1500 o 1.50.');
    assert.equal(text(refusal('1500.5', 'JPY'), spanish), 'Los montos en JPY no llevan decimales: “1500.5”.');
    assert.equal(text(refusal('abc'), spanish), '“abc” no es un monto: use dígitos, con “.” o “,” para los decimales.');
  });
});
