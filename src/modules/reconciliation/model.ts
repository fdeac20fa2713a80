/**
 * The shapes every bank-statement parser produces, and the one error they throw. Kept
 * apart from statements.ts so the per-format parsers can import them without an import
 * cycle through the dispatcher.
 */

/** One booked movement on the school's bank account, normalised across formats. */
export interface StatementLine {
  /**
   * Unique per bank account: the bank's own id (CSV id column, CAMT AcctSvcrRef /
   * EndToEndId / TxId, OFX FITID), or, when the file has none, a stable hash (see
   * syntheticTransactionId in statements.ts).
   */
  bankTransactionId: string;
  /** Booking date, YYYY-MM-DD, as the bank wrote it (no time-zone shifting). */
  date: string;
  /** Integer minor units; positive = money received, negative = paid out. */
  amount: number;
  /** ISO 4217. */
  currency: string;
  /** Remittance text / memo, trimmed, whitespace collapsed ('' when there is none). */
  description: string;
  payerName: string | null;
}

export type StatementFormat = 'csv' | 'camt053' | 'ofx';

export interface ParsedStatement {
  format: StatementFormat;
  currency: string;
  lines: StatementLine[];
  /** Lines dropped because an earlier line of the same file had the same bankTransactionId. */
  duplicates: number;
}

export type CsvDateFormat = 'YYYY-MM-DD' | 'DD/MM/YYYY' | 'MM/DD/YYYY';

/** Column names (matched case-insensitively) and the date format of a CSV statement. */
export interface CsvMapping {
  date?: string;
  amount?: string;
  description?: string;
  id?: string;
  dateFormat?: CsvDateFormat;
}

/** A line as a format parser reads it, before ids are completed and duplicates dropped. */
export interface RawLine {
  /** Where the line is in the file (1-based text line), for error messages. */
  line: number;
  bankTransactionId: string | null;
  date: string;
  amount: number;
  currency: string;
  description: string;
  payerName: string | null;
}

/**
 * What is wrong with a statement upload. `field` is the input at fault ('body' for the
 * file itself, 'mapping.<key>' for a CSV mapping option, 'currency', 'format'); `line`
 * is the 1-based line of the file when one line is to blame.
 */
export class StatementError extends Error {
  override readonly name = 'StatementError';
  readonly field: string;
  readonly line?: number;

  constructor(field: string, message: string, line?: number) {
    super(line === undefined ? message : `line ${line}: ${message}`);
    this.field = field;
    if (line !== undefined) {
      this.line = line;
    }
  }
}

/** More lines than one upload may hold (the HTTP layer limits bytes; this limits work). */
export const MAX_STATEMENT_LINES = 100_000;

/** Throws when a statement's currency is not the school's (both named). */
export function requireCurrency(found: string, expected: string, line?: number): void {
  if (found !== expected) {
    throw new StatementError('body', `the statement is in ${found}, but the school's currency is ${expected}`, line);
  }
}
