/**
 * Client-side CSV: RFC 4180 quoting, and cells that a spreadsheet would run as a formula
 * (=, +, -, @, tab, CR at the start) are prefixed with an apostrophe — the same
 * neutralisation the server's exports apply.
 */
function cell(value: unknown): string {
  if (value === null || value === undefined) {
    return '';
  }
  let text = typeof value === 'string' ? value : typeof value === 'number' || typeof value === 'boolean' ? String(value) : JSON.stringify(value);
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(text)) {
    text = `'${text}`;
  }
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function toCsv<T extends Record<string, unknown>>(columns: readonly (keyof T & string)[], rows: readonly T[]): string {
  const lines = [columns.join(',')];
  for (const row of rows) {
    lines.push(columns.map((column) => cell(row[column])).join(','));
  }
  return `${lines.join('\r\n')}\r\n`;
}

/** A plain decimal amount ("1200.00", from minorToInput): a number to the spreadsheet, so never neutralised. */
export class CsvDecimal {
  constructor(readonly text: string) {}
}

/** A column of a CSV for people: a header in words and the cell of each row. */
export interface CsvField<T> {
  header: string;
  value(row: T): string | number | CsvDecimal | null;
}

/**
 * A CSV for people, as the server's exports write them: headers in words, amounts as
 * plain decimals in currency units (CsvDecimal), text neutralised, and a UTF-8
 * byte-order mark so that Excel reads accents right.
 */
export function toPeopleCsv<T>(fields: readonly CsvField<T>[], rows: readonly T[]): string {
  const lines = [fields.map((field) => cell(field.header)).join(',')];
  for (const row of rows) {
    lines.push(
      fields
        .map((field) => {
          const value = field.value(row);
          return value instanceof CsvDecimal ? value.text : cell(value);
        })
        .join(','),
    );
  }
  return `\ufeff${lines.join('\r\n')}\r\n`;
}

/** "2026-12-02 12:45:30" in the viewer's zone (the header names the zone). */
export function localDateTime(iso: string): string {
  const at = new Date(iso);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${at.getFullYear()}-${two(at.getMonth() + 1)}-${two(at.getDate())} ${two(at.getHours())}:${two(at.getMinutes())}:${two(at.getSeconds())}`;
}

