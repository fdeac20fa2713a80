import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatMoney } from '../../src/modules/billing/statements.render.js';
import { currencyDigits } from '../../src/shared/money.js';

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
