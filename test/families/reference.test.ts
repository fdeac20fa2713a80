import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { checkDigit, formatReference, hasValidCheckDigit, parseReference, schoolPrefix } from '../../src/modules/families/reference.js';

/** Every reference that differs from `digits` (six digits and a check digit) by one digit, or by swapping two neighbours. */
function typosOf(digitsWithCheck: string): { typo: string; what: string }[] {
  const typos: { typo: string; what: string }[] = [];
  const chars = [...digitsWithCheck];
  chars.forEach((char, index) => {
    for (let d = 0; d <= 9; d++) {
      if (String(d) !== char) {
        const changed = [...chars];
        changed[index] = String(d);
        typos.push({ typo: changed.join(''), what: `digit ${index} ${char}→${d}` });
      }
    }
  });
  for (let index = 0; index + 1 < chars.length; index++) {
    if (chars[index] !== chars[index + 1]) {
      const swapped = [...chars];
      [swapped[index], swapped[index + 1]] = [swapped[index + 1] ?? '', swapped[index] ?? ''];
      typos.push({ typo: swapped.join(''), what: `swap ${index}/${index + 1}` });
    }
  }
  return typos;
}

const referenceOf = (prefix: string, digitsWithCheck: string) => `${prefix}-${digitsWithCheck.slice(0, 6)}-${digitsWithCheck.slice(6)}`;

describe('family references', () => {
  test('Damm check digits of known values', () => {
    // Damm's own worked example: 572 → 4, and 5724 validates.
    assert.equal(checkDigit('572'), 4);
    assert.ok(hasValidCheckDigit('5724'));
    assert.ok(!hasValidCheckDigit('5723'));
    assert.ok(!hasValidCheckDigit('7524'));
    assert.equal(checkDigit('000000'), 0);
    assert.equal(formatReference('MIR', 4217), `MIR-004217-${checkDigit('004217')}`);
    assert.match(formatReference('COL', 1), /^COL-000001-\d$/);
    assert.throws(() => formatReference('COL', 0), RangeError);
    assert.throws(() => formatReference('COL', 1_000_000), RangeError);
    assert.throws(() => formatReference('co', 1), RangeError);
    assert.throws(() => checkDigit('12a'), RangeError);
  });

  test('why not ISO 7064 MOD 11-10: it lets some adjacent swaps through (560000 and 650000 share a digit)', () => {
    // The standard's hybrid system, for the record (its own example: 0794 → 5).
    const mod1110 = (digits: string) => {
      let p = 10;
      for (const char of digits) {
        p = (2 * ((p + Number(char)) % 10 || 10)) % 11;
      }
      return (11 - p) % 10;
    };
    assert.equal(mod1110('0794'), 5);
    assert.equal(mod1110('560000'), mod1110('650000'), 'MOD 11-10 misses this swap');
    assert.notEqual(checkDigit('560000'), checkDigit('650000'), 'Damm sees it');
  });

  test('the school prefix: first three ASCII letters, accents folded, sensible fallbacks', () => {
    assert.equal(schoolPrefix('Colegio Miraflores'), 'COL');
    assert.equal(schoolPrefix('Ñuñoa School'), 'NUN');
    assert.equal(schoolPrefix('  école Saint-Éloi'), 'ECO');
    assert.equal(schoolPrefix('A1'), 'A1X');
    assert.equal(schoolPrefix('7 B'), 'B7X');
    assert.equal(schoolPrefix('Ze'), 'ZEX');
    assert.equal(schoolPrefix('李小龙'), 'FAM');
    assert.equal(schoolPrefix('!!!'), 'FAM');
    assert.equal(schoolPrefix('42'), '42X');
  });

  test('parseReference: canonical, mistyped (check digit) and malformed apart', () => {
    const good = formatReference('MIR', 4217);
    assert.deepEqual(parseReference(` ${good.toLowerCase()} `), { ok: true, reference: good, prefix: 'MIR', number: 4217 });
    const wrong = `${good.slice(0, -1)}${(Number(good.slice(-1)) + 1) % 10}`;
    const mistyped = parseReference(wrong);
    assert.equal(mistyped.ok, false);
    assert.equal(!mistyped.ok && mistyped.reason, 'checkDigit');
    for (const text of ['', 'MIR', 'MIR-4217-3', 'MIR-0042170-3', 'M-004217-3', 'MIRAFLO-004217-3', 'MIR_004217_3', 'MIR-00421A-3']) {
      const parsed = parseReference(text);
      assert.equal(!parsed.ok && parsed.reason, 'shape', text);
    }
  });

  test('property: every single-digit change and every adjacent transposition is detected', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 999_999 }), fc.constantFrom('MIR', 'COL', 'A1X', 'FAM'), (n, prefix) => {
        const reference = formatReference(prefix, n);
        const digits = reference.slice(-8).replace('-', '');
        assert.ok(parseReference(reference).ok);
        for (const { typo, what } of typosOf(digits)) {
          const parsed = parseReference(referenceOf(prefix, typo));
          assert.equal(parsed.ok, false, `${reference}: ${what} → ${referenceOf(prefix, typo)} went undetected`);
          assert.equal(!parsed.ok && parsed.reason, 'checkDigit');
        }
      }),
      { numRuns: 3000 },
    );
  });

  test('the table proves it for every number: from every state, distinct neighbours never commute and a digit never hides', () => {
    // One leading digit reaches every interim state (the table's first row is a permutation).
    const states = new Set<number>();
    for (let lead = 0; lead <= 9; lead++) {
      states.add(checkDigit(String(lead)));
      for (let a = 0; a <= 9; a++) {
        for (let b = 0; b <= 9; b++) {
          if (a !== b) {
            assert.notEqual(checkDigit(`${lead}${a}${b}`), checkDigit(`${lead}${b}${a}`), `state of ${lead}, swap ${a}${b}`);
            assert.notEqual(checkDigit(`${lead}${a}`), checkDigit(`${lead}${b}`), `state of ${lead}, ${a} for ${b}`);
          }
        }
      }
    }
    assert.equal(states.size, 10);
  });

  test('exhaustively for the first 20 000 family numbers: no typo of one reference is another valid reference', () => {
    let checked = 0;
    for (let n = 1; n <= 20_000; n++) {
      const reference = formatReference('COL', n);
      const digits = reference.slice(-8).replace('-', '');
      for (const { typo } of typosOf(digits)) {
        assert.ok(!hasValidCheckDigit(typo), `${reference} → ${typo}`);
        checked++;
      }
    }
    assert.ok(checked > 1_000_000);
  });
});
