import { stringify, type Stringifier } from 'csv-stringify';
import { Type } from 'typebox';
import { localDateTime, type Language, type Localized } from './locale.js';
import { minorToDecimal } from './money.js';

/**
 * CSV helpers shared by every export. Two concerns live here so no export can forget
 * them:
 *
 * - Formula injection (OWASP "CSV injection"): a spreadsheet evaluates a cell that
 *   starts with `=`, `+`, `-`, `@`, tab or CR. Every string cell that does gets a
 *   leading `'`, which spreadsheets show as text and never evaluate.
 * - Streaming: `createCsvStringifier` is a csv-stringify Transform (objects in, text
 *   out) that writes the header row first, so an export pipes rows from a batched
 *   query straight to the response without holding them all in memory.
 */
export const FORMULA_TRIGGERS: readonly string[] = ['=', '+', '-', '@', '\t', '\r'];

/** `=SUM(A1)` → `'=SUM(A1)`; any other text is returned unchanged. */
export function neutraliseFormula(value: string): string {
  return FORMULA_TRIGGERS.includes(value.charAt(0)) ? `'${value}` : value;
}

/** The UTF-8 byte-order mark: put before a CSV so that Excel reads it as UTF-8 (accents intact). */
export const UTF8_BOM = Buffer.from([0xef, 0xbb, 0xbf]);

export interface CsvColumn<Row> {
  key: keyof Row & string;
  header: string;
}

export interface CsvOptions {
  /** Prefix a UTF-8 byte-order mark (helps Excel detect UTF-8). Default false. */
  bom?: boolean;
}

/**
 * A number the CSV writes exactly as given ("4500.00", "-12.50"): the decimal text of an
 * amount keeps its digits (a JS number would print 4500), and as a number it is never
 * a formula, so it is not neutralised (a leading `-` is a sign here, not a trigger).
 */
export class CsvNumber {
  readonly text: string;
  constructor(text: string) {
    if (!/^-?\d+(\.\d+)?$/.test(text)) {
      throw new RangeError(`not a plain decimal number: ${text}`);
    }
    this.text = text;
  }
}

/**
 * A csv-stringify stream over `Row` objects: the header row, then one line per row in
 * column order. String cells are neutralised against formula injection; Dates become
 * ISO 8601; CsvNumbers are written as they are; cells containing `#` are quoted so that
 * readers treating `#` lines as comments (see `csvComment`) never cut a value short.
 */
export function createCsvStringifier<Row extends object>(columns: readonly CsvColumn<Row>[], options: CsvOptions = {}): Stringifier {
  return stringify({
    header: true,
    columns: columns.map((column) => ({ key: column.key, header: column.header })),
    bom: options.bom ?? false,
    quoted_match: '#',
    cast: {
      string: (value) => neutraliseFormula(value),
      date: (value) => value.toISOString(),
      boolean: (value) => (value ? 'true' : 'false'),
      object: (value) => (value instanceof CsvNumber ? value.text : JSON.stringify(value)),
    },
  });
}

/**
 * A comment line (`# text\n`) for metadata before the header row (readers skip it with
 * e.g. csv-parse's `comment: '#'`). The text is kept to one line, and since a
 * spreadsheet that does not know about comments splits the line on `,`/`;` into cells,
 * every such piece is neutralised too; `"` would start a quoted cell and becomes `'`.
 */
export function csvComment(text: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what must go
  const oneLine = text.replace(/[\u0000-\u001f\u007f\u2028\u2029]/g, ' ').replaceAll('"', "'");
  const safe = oneLine
    .split(/([,;])/)
    .map((piece) => {
      const lead = piece.length - piece.trimStart().length;
      return piece.slice(0, lead) + neutraliseFormula(piece.slice(lead));
    })
    .join('');
  return `# ${safe}\n`;
}

/**
 * A head line of an export for people as two cells, `# label,value`: readers that
 * know comments skip it (csv-parse's `comment: '#'`), and a spreadsheet, which does
 * not, shows the label in one cell and the value in the next, whole: an amount is a
 * CsvNumber in currency units (a number cell, its sign a sign), any other value a
 * quoted, neutralised text cell, so that the commas of an address or of a list never
 * cut it into more cells (and "MXN 1,234.00" never becomes a cell holding 234). The
 * label is our own words; it keeps to one cell too (no `,`, `;` or `"`).
 */
export function csvHeadLine(label: string, value: string | CsvNumber): string {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what must go
  const oneLine = (text: string) => text.replace(/[\u0000-\u001f\u007f\u2028\u2029]/g, ' ');
  const cell = oneLine(label).replace(/[,;"]/g, ' ');
  const shown = value instanceof CsvNumber ? value.text : `"${neutraliseFormula(oneLine(value)).replaceAll('"', '""')}"`;
  return `# ${cell},${shown}\n`;
}

// --- exports for people ------------------------------------------------------------

/**
 * One cell of an export for people, by what it holds; each writer (CSV here, XLSX in
 * reporting/export.ts) turns it into its own best form:
 *
 * - `money`: integer minor units and the currency → CSV "4500.00" (the currency's ISO
 *   digits, a dot, no separators: every spreadsheet locale reads a number), XLSX a
 *   number cell with the currency's number format.
 * - `date`: a calendar day 'YYYY-MM-DD' → CSV as is, XLSX a date cell.
 * - `at`: a moment, shown in `timeZone` → CSV "2026-12-02 12:45", XLSX a date-time cell
 *   holding that wall clock (the column header names the zone).
 * - `ratio`: 0..1 → CSV "85.50" (a percentage), XLSX a percent cell.
 */
export type PeopleCell =
  | { text: string | null }
  | { money: number; currency: string }
  | { date: string | null }
  | { at: Date | null; timeZone: string }
  | { integer: number | null }
  | { ratio: number | null };

export interface PeopleColumn<Row> {
  header: Localized;
  /** Column width in characters (XLSX). */
  width: number;
  /** The cell of `row`; `language` for cells that are words (a status). */
  cell(row: Row, language: Language): PeopleCell;
}

/** The value a CSV writes for a people cell (see PeopleCell). */
export function csvValueOf(cell: PeopleCell): string | number | CsvNumber | null {
  if ('text' in cell) {
    return cell.text;
  }
  if ('money' in cell) {
    return new CsvNumber(minorToDecimal(cell.money, cell.currency));
  }
  if ('date' in cell) {
    return cell.date;
  }
  if ('at' in cell) {
    return cell.at === null ? null : localDateTime(cell.at, cell.timeZone);
  }
  if ('integer' in cell) {
    return cell.integer;
  }
  return cell.ratio === null ? null : new CsvNumber((Math.round(cell.ratio * 10_000) / 100).toFixed(2));
}

/** A CSV writer for people: `stringifier` takes the records `toRecord` makes of each row. */
export interface PeopleCsv<Row> {
  stringifier: Stringifier;
  toRecord(row: Row): Record<string, unknown>;
}

/**
 * A CSV for people: the header row in `language`, then one line per record, each cell
 * as csvValueOf writes it; text is neutralised as in every export. `bom` prefixes a
 * UTF-8 byte-order mark so that Excel reads accents right.
 */
export function createPeopleCsv<Row>(columns: readonly PeopleColumn<Row>[], language: Language, options: CsvOptions = {}): PeopleCsv<Row> {
  const keys = columns.map((_, index) => `c${index}`);
  return {
    stringifier: createCsvStringifier<Record<string, unknown>>(
      columns.map((column, index) => ({ key: keys[index] ?? '', header: column.header[language] })),
      options,
    ),
    toRecord(row) {
      const record: Record<string, unknown> = {};
      columns.forEach((column, index) => {
        record[keys[index] ?? ''] = csvValueOf(column.cell(row, language));
      });
      return record;
    },
  };
}

/** `?style=`: `people` (the default: words, currency units, typed cells) or `raw` (the API's field names and minor units, for machines). */
export const EXPORT_STYLES = ['people', 'raw'] as const;
export type ExportStyle = (typeof EXPORT_STYLES)[number];
export const ExportStyleParam = Type.Union([Type.Literal('people'), Type.Literal('raw')], {
  description:
    'people (default): headers in words in the reader’s language, amounts in currency units with the currency’s digits, dates as dates; ' +
    'raw: the API’s field names and values (amounts in minor units), unchanged for machines',
});
