import { sql, type RawBuilder } from 'kysely';
import { FORMULA_TRIGGERS } from './csv.js';

/** An optional SQL fragment: `condition(value)` when the value is set, nothing otherwise. */
export function andIf<T>(value: T | undefined, condition: (value: T) => RawBuilder<unknown>): RawBuilder<unknown> {
  return value === undefined ? sql`` : condition(value);
}

/** FORMULA_TRIGGERS as code points, lowest first (all are ASCII). */
const FORMULA_CODES = FORMULA_TRIGGERS.map((c) => c.codePointAt(0) ?? 0).sort((a, b) => a - b);
const HIGHEST_FORMULA_CODE = FORMULA_CODES.at(-1) ?? 0;

/**
 * `value` starts a formula in a spreadsheet (shared/csv.ts FORMULA_TRIGGERS), tested on
 * the first character's code point: ascii() and integer comparisons, where left() and
 * text equality would cost a substring and a collation-aware comparison per trigger
 * (this runs four times per exported row). A first character above every trigger (most
 * letters) settles it with one comparison; ascii('') is 0, which is not a trigger.
 */
export const startsFormula = (value: RawBuilder<string>) =>
  sql<boolean>`(ascii(${value}) <= ${sql.lit(HIGHEST_FORMULA_CODE)} and ascii(${value}) in (${sql.join(FORMULA_CODES.map((code) => sql.lit(code)))}))`;

/**
 * A text cell for the CSV: prefixed with `'` when it would start a formula, as
 * neutraliseFormula does; an empty string becomes NULL, which PostgreSQL's CSV writer
 * prints as an empty unquoted field, as csv-stringify prints '' (it would print `""`).
 */
export function csvText(value: RawBuilder<string>): RawBuilder<string> {
  return sql<string>`(case when ${startsFormula(value)} then '''' || ${value} else nullif(${value}, '') end)`;
}
