import { stringify, type Stringifier } from 'csv-stringify';

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

export interface CsvColumn<Row> {
  key: keyof Row & string;
  header: string;
}

export interface CsvOptions {
  /** Prefix a UTF-8 byte-order mark (helps Excel detect UTF-8). Default false. */
  bom?: boolean;
}

/**
 * A csv-stringify stream over `Row` objects: the header row, then one line per row in
 * column order. String cells are neutralised against formula injection; Dates become
 * ISO 8601; cells containing `#` are quoted so that readers treating `#` lines as
 * comments (see `csvComment`) never cut a value short.
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
