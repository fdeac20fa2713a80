import pg from 'pg';

/**
 * Explicit type parsers, installed once for every pool in the process.
 *
 * - int8 (bigint) carries money in minor units and counts. It becomes a JS number only
 *   when that is exact; a value beyond Number.MAX_SAFE_INTEGER (9e15 cents) throws
 *   instead of silently rounding.
 * - numeric is what SUM(bigint) returns: integral values get the same safe conversion;
 *   fractional ones (averages, rates) become numbers.
 * - date stays the 'YYYY-MM-DD' string it is: a calendar day has no time zone, and
 *   turning it into a Date would shift it by the server's offset.
 */
export function toSafeInteger(text: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value)) {
    throw new RangeError(`integer ${text} is outside the safe range of a JS number`);
  }
  return value;
}

function parseNumeric(text: string): number {
  return /^-?\d+$/.test(text) ? toSafeInteger(text) : Number(text);
}

pg.types.setTypeParser(pg.types.builtins.INT8, toSafeInteger);
pg.types.setTypeParser(pg.types.builtins.NUMERIC, parseNumeric);
pg.types.setTypeParser(pg.types.builtins.DATE, (text: string) => text);
