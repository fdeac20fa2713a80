/**
 * The family reference (SPEC §7): the code a family writes on a bank transfer so the
 * bursar knows whose money it is — `PREFIX-NNNNNN-C`, e.g. `MIR-004217-3`.
 *
 * - PREFIX: the first three ASCII letters of the school's name after folding accents
 *   ("Ñuñoa" → "NUN"), upper case; a name with fewer letters is completed with its
 *   digits and then `X` ("A1" → "A1X"); a name with no ASCII letter or digit at all
 *   ("李小龙") gets `FAM`. Fixed when the family is created (renaming the school does not
 *   change the references already on parents' standing orders).
 * - NNNNNN: the family's number in its school (family_counters), zero-padded.
 * - C: a Damm check digit over the six digits. It detects every single-digit error and
 *   every transposition of two adjacent digits, the check digit included (tested
 *   exhaustively and as a property), so a mistyped reference is told apart from one
 *   that simply does not exist.
 *
 *   Why not ISO 7064 MOD 11-10, the usual choice for one decimal check digit: it misses
 *   about 0.4 % of adjacent transpositions. Whenever its running state P and two
 *   neighbouring digits a, b fall on one of twenty (P, a, b) triples, swapping a and b
 *   leaves the check digit unchanged: P = 10 at the start, so family 560000 and
 *   family 650000 get the same MOD 11-10 digit (test/families/reference.test.ts shows
 *   it). Damm's quasigroup of order 10 is weakly totally anti-symmetric, which is
 *   exactly the property "no adjacent swap goes unseen", and it still gives one digit
 *   0–9 (migration 0014's shape), never an `X`.
 *
 * Migration 0014 checks the shape: ^[A-Z0-9]{2,6}-[0-9]{6}-[0-9]$.
 */

export const REFERENCE_PATTERN = '^[A-Za-z0-9]{2,6}-[0-9]{6}-[0-9]$';
const SHAPE = /^([A-Z0-9]{2,6})-([0-9]{6})-([0-9])$/;

/** The largest family number a reference can hold. */
export const MAX_FAMILY_NUMBER = 999_999;

const FALLBACK_PREFIX = 'FAM';
const PREFIX_LENGTH = 3;

/** "Colegio Miraflores" → "COL", "Ñuñoa School" → "NUN", "A1" → "A1X", "李小龙" → "FAM". */
export function schoolPrefix(schoolName: string): string {
  const folded = schoolName.normalize('NFKD').replace(/\p{M}/gu, '').toUpperCase();
  const letters = folded.replace(/[^A-Z]/g, '');
  if (letters.length >= PREFIX_LENGTH) {
    return letters.slice(0, PREFIX_LENGTH);
  }
  const alphanumerics = folded.replace(/[^A-Z0-9]/g, '');
  if (alphanumerics === '') {
    return FALLBACK_PREFIX;
  }
  // Letters first, then digits in their order, then X: "A1" → "A1X", "7B" → "B7X".
  const digits = alphanumerics.replace(/[^0-9]/g, '');
  return (letters + digits).slice(0, PREFIX_LENGTH).padEnd(PREFIX_LENGTH, 'X');
}

/**
 * H. M. Damm's totally anti-symmetric quasigroup of order 10 (Total anti-symmetrische
 * Quasigruppen, 2004): the interim digit after `d` is DAMM[interim][d].
 */
const DAMM: readonly (readonly number[])[] = [
  [0, 3, 1, 7, 5, 9, 8, 6, 4, 2],
  [7, 0, 9, 2, 1, 5, 4, 8, 6, 3],
  [4, 2, 0, 6, 8, 7, 1, 3, 5, 9],
  [1, 7, 5, 0, 9, 8, 3, 4, 2, 6],
  [6, 1, 2, 3, 0, 4, 5, 9, 7, 8],
  [3, 6, 7, 4, 2, 0, 9, 5, 8, 1],
  [5, 8, 6, 9, 7, 2, 0, 1, 3, 4],
  [8, 9, 4, 5, 3, 6, 2, 0, 1, 7],
  [9, 4, 3, 8, 6, 1, 7, 2, 0, 5],
  [2, 5, 8, 1, 4, 3, 6, 7, 9, 0],
];

function interimOf(digits: string): number {
  let interim = 0;
  for (const char of digits) {
    interim = DAMM[interim]?.[Number(char)] ?? 0;
  }
  return interim;
}

/** The Damm check digit of a string of digits: the interim digit after all of them ("572" → 4). */
export function checkDigit(digits: string): number {
  if (!/^[0-9]+$/.test(digits)) {
    throw new RangeError(`not a string of digits: ${digits}`);
  }
  return interimOf(digits);
}

/** True when the digits end with their own check digit: running the whole string through the table ends at 0. */
export function hasValidCheckDigit(digitsWithCheck: string): boolean {
  return /^[0-9]{2,}$/.test(digitsWithCheck) && interimOf(digitsWithCheck) === 0;
}

/** The reference of family number `n` of a school whose prefix is `prefix`. */
export function formatReference(prefix: string, n: number): string {
  if (!Number.isSafeInteger(n) || n < 1 || n > MAX_FAMILY_NUMBER) {
    throw new RangeError(`family number out of range: ${n}`);
  }
  if (!/^[A-Z0-9]{2,6}$/.test(prefix)) {
    throw new RangeError(`not a reference prefix: ${prefix}`);
  }
  const number = String(n).padStart(6, '0');
  return `${prefix}-${number}-${checkDigit(number)}`;
}

export type ParsedReference =
  | { ok: true; reference: string; prefix: string; number: number }
  /** `shape`: not PREFIX-NNNNNN-C at all; `checkDigit`: the shape, but a digit was mistyped. */
  | { ok: false; reason: 'shape' | 'checkDigit'; message: string };

/**
 * Reads a reference as a person typed it (surrounding spaces and lower case allowed):
 * well-formed with a right check digit → the canonical reference; well-formed with a
 * wrong one → `checkDigit` (a typo, not an unknown family); anything else → `shape`.
 */
export function parseReference(text: string): ParsedReference {
  const canonical = text.trim().toUpperCase();
  const match = SHAPE.exec(canonical);
  if (!match) {
    return { ok: false, reason: 'shape', message: 'must look like ABC-000123-4 (letters or digits, six digits, a check digit)' };
  }
  const [, prefix = '', digits = '', check = ''] = match;
  if (checkDigit(digits) !== Number(check)) {
    return { ok: false, reason: 'checkDigit', message: 'has a wrong check digit: a digit was probably mistyped' };
  }
  return { ok: true, reference: canonical, prefix, number: Number(digits) };
}
