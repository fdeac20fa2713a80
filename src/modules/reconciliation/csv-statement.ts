/**
 * CSV bank statements: a header row, then one movement per row. The columns are found
 * by name, case-insensitively and ignoring surrounding spaces: `date`, `amount`,
 * `description` (required) and `id` (optional), each renamable through a CsvMapping.
 * The delimiter is the most frequent of ',', ';' and tab in the header row (banks that
 * write decimal commas separate fields with ';'). Dates are YYYY-MM-DD unless the
 * mapping's dateFormat says DD/MM/YYYY or MM/DD/YYYY ('/', '-' or '.' between the
 * parts); a slash date is never guessed. Amounts follow values.ts (per-file decimal
 * mark). Parsing uses csv-parse, so quoting and embedded newlines follow RFC 4180.
 */
import { CsvError, parse } from 'csv-parse/sync';
import { MAX_STATEMENT_LINES, StatementError, type CsvDateFormat, type CsvMapping, type RawLine } from './model.js';
import { collapseWhitespace, decimalMarkOf, isoDate, parseAmount } from './values.js';

const DATE_FORMATS: readonly CsvDateFormat[] = ['YYYY-MM-DD', 'DD/MM/YYYY', 'MM/DD/YYYY'];

/** The delimiter the header row uses most: ',', ';' or tab (',' when none). */
export function detectDelimiter(text: string): string {
  const header = text.slice(0, text.search(/\r?\n|$/u));
  const count = (c: string) => header.split(c).length - 1;
  const ranked = [',', ';', '\t'].map((c) => ({ c, n: count(c) })).sort((a, b) => b.n - a.n);
  return ranked[0] && ranked[0].n > 0 ? ranked[0].c : ',';
}

/** A CSV date in `format` as YYYY-MM-DD, or null. */
export function parseCsvDate(raw: string, format: CsvDateFormat): string | null {
  const text = raw.trim();
  if (format === 'YYYY-MM-DD') {
    const match = /^(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ][\d:.]+(?:Z|[+-]\d{2}:?\d{2})?)?$/u.exec(text);
    return match ? isoDate(Number(match[1]), Number(match[2]), Number(match[3])) : null;
  }
  const match = /^(\d{1,2})([/.-])(\d{1,2})\2(\d{4})$/u.exec(text);
  if (!match) {
    return null;
  }
  const [first, second, year] = [Number(match[1]), Number(match[3]), Number(match[4])];
  return format === 'DD/MM/YYYY' ? isoDate(year, second, first) : isoDate(year, first, second);
}

interface Columns {
  date: number;
  amount: number;
  description: number;
  id: number | null;
}

/** The index of each mapped column in the header, or a StatementError naming what is missing. */
function findColumns(header: readonly string[], mapping: CsvMapping): Columns {
  const names = header.map((h) => h.trim().toLowerCase());
  const find = (key: 'date' | 'amount' | 'description' | 'id', required: boolean): number | null => {
    const wanted = (mapping[key] ?? key).trim().toLowerCase();
    const at = names.indexOf(wanted);
    if (at >= 0) {
      return at;
    }
    if (required || mapping[key] !== undefined) {
      const field = mapping[key] === undefined ? 'body' : `mapping.${key}`;
      throw new StatementError(field, `the header has no column "${wanted}" (it has: ${header.map((h) => `"${h.trim()}"`).join(', ')})`, 1);
    }
    return null;
  };
  return {
    date: find('date', true) ?? 0,
    amount: find('amount', true) ?? 0,
    description: find('description', true) ?? 0,
    id: find('id', false),
  };
}

interface CsvRow {
  line: number;
  cells: string[];
}

/** The file's rows with the text line each starts on (csv-parse's errors become StatementErrors). */
function readRecords(text: string): CsvRow[] {
  try {
    const rows = parse(text, {
      bom: true,
      delimiter: detectDelimiter(text),
      skip_empty_lines: true,
      relax_column_count: false,
      info: true,
      raw: true,
      to: MAX_STATEMENT_LINES + 2,
    }) as unknown as { record: string[]; raw: string; info: { lines: number } }[];
    // info.lines is where a record ends; one with quoted newlines started that many lines earlier.
    return rows.map(({ record, raw, info }) => {
      const spanned = raw.replace(/^(?:\r?\n)+/u, '').replace(/\r?\n$/u, '').split('\n').length - 1;
      return { line: info.lines - spanned, cells: record };
    });
  } catch (error) {
    if (error instanceof CsvError) {
      const line = error.lines;
      throw new StatementError('body', `the CSV is malformed: ${error.message}`, typeof line === 'number' ? line : undefined);
    }
    throw error;
  }
}

/** Every movement of a CSV statement in `currency` (the school's), in file order. */
export function parseCsvStatement(text: string, currency: string, mapping: CsvMapping = {}): RawLine[] {
  if (mapping.dateFormat !== undefined && !DATE_FORMATS.includes(mapping.dateFormat)) {
    throw new StatementError('mapping.dateFormat', `dateFormat must be one of ${DATE_FORMATS.join(', ')}`);
  }
  const records = readRecords(text);
  const [header, ...rows] = records;
  if (!header) {
    throw new StatementError('body', 'the CSV is empty (no header row)');
  }
  if (rows.length > MAX_STATEMENT_LINES) {
    throw new StatementError('body', `the statement has more than ${MAX_STATEMENT_LINES} lines; split it`);
  }
  const columns = findColumns(header.cells, mapping);
  const format = mapping.dateFormat ?? 'YYYY-MM-DD';
  const cell = (row: CsvRow, index: number) => row.cells[index] ?? '';
  const mark = decimalMarkOf(
    rows.map((row) => ({ line: row.line, raw: cell(row, columns.amount) })),
    currency,
  );
  return rows.map((row): RawLine => {
    const date = parseCsvDate(cell(row, columns.date), format);
    if (date === null) {
      const hint = format === 'YYYY-MM-DD' && /\d[/.]\d/u.test(cell(row, columns.date)) ? ' (set the mapping\'s dateFormat to DD/MM/YYYY or MM/DD/YYYY)' : '';
      throw new StatementError('body', `date "${cell(row, columns.date)}" is not a ${format} date${hint}`, row.line);
    }
    const amount = parseAmount(cell(row, columns.amount), mark, currency);
    if (typeof amount === 'string') {
      throw new StatementError('body', `amount ${amount}`, row.line);
    }
    const id = columns.id === null ? '' : cell(row, columns.id).trim();
    return {
      line: row.line,
      bankTransactionId: id === '' ? null : id,
      date,
      amount,
      currency,
      description: collapseWhitespace(cell(row, columns.description)),
      payerName: null,
    };
  });
}
