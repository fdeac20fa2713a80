import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { maskEmail, maskName, maskPhone, maskReference } from '../../src/shared/masking.js';

describe('PII masks', () => {
  test('names become initials', () => {
    assert.equal(maskName('Juan Pablo', 'Pérez'), 'J. P.');
    assert.equal(maskName('ángela', 'ñúñez'), 'Á. Ñ.');
    assert.equal(maskName('  Ana ', ''), 'A.');
  });

  test('e-mails keep only first letters and the top-level domain', () => {
    assert.equal(maskEmail('juan.perez@colegio.mx'), 'j***@c***.mx');
    assert.equal(maskEmail('a@b.co.uk'), 'a***@b***.uk');
    assert.equal(maskEmail('not-an-email'), '***');
  });

  test('phones keep the last two digits, references the last four', () => {
    assert.equal(maskPhone('+52 55 1234 5678'), '***78');
    assert.equal(maskReference('TX-2026-000123456'), '***3456');
  });

  test('property: a mask never contains the secret part of the value', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[a-z]{4,20}$/), fc.stringMatching(/^[a-z]{4,20}$/), (local, host) => {
        const masked = maskEmail(`${local}@${host}.com`);
        assert.ok(!masked.includes(local.slice(1)));
        assert.ok(!masked.includes(host.slice(1)));
      }),
    );
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Za-z]{3,20}$/), fc.stringMatching(/^[A-Za-z]{3,20}$/), (first, last) => {
        const masked = maskName(first, last);
        assert.ok(masked.length <= 5);
        assert.ok(!masked.toLowerCase().includes(first.slice(1).toLowerCase()));
      }),
    );
    fc.assert(
      fc.property(fc.stringMatching(/^[0-9]{8,15}$/), (digits) => {
        assert.equal(maskPhone(digits), `***${digits.slice(-2)}`);
      }),
    );
  });
});
