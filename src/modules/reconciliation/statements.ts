/**
 * Bank statements for reconciliation: a file the school downloads from its bank (CSV,
 * ISO 20022 CAMT.053 XML, or OFX 1.x/2.x) turned into normalised lines — booking date,
 * signed amount in exact integer minor units, the bank's transaction id, remittance
 * text and payer — that the matcher can compare with invoices and payments. Pure code:
 * no database, no I/O. Each format lives in its own file; this one picks the parser,
 * checks the currency, completes missing ids and drops repeated ones.
 *
 * Ids: the bank's own id when the file has one. When it has none (a CSV without an id
 * column or with an empty cell, a CAMT entry without references, an OFX transaction
 * without FITID) the id is `sha256:` and the first 32 hex digits of the SHA-256 of
 * "date|amount|description|n", where n counts earlier id-less lines of the same file
 * with the same date, amount and description (0 for the first). It is stable when the
 * same file is uploaded again, and two identical movements on one day stay two lines.
 * A later statement that overlaps this one gives the same ids for the same movements
 * as long as it holds the same identical-movement repeats for that day.
 *
 * Repeated ids: the first line with an id is kept; later ones are dropped and counted
 * in `duplicates` (banks repeat a movement at a page or export boundary).
 */
import { createHash } from 'node:crypto';
import { parseCamt053 } from './camt053.js';
import { parseCsvStatement } from './csv-statement.js';
import {
  StatementError,
  type CsvMapping,
  type ParsedStatement,
  type RawLine,
  type StatementFormat,
  type StatementLine,
} from './model.js';
import { parseOfx } from './ofx.js';
import { decodeText } from './values.js';

export { MAX_STATEMENT_LINES, StatementError } from './model.js';
export type { CsvDateFormat, CsvMapping, ParsedStatement, StatementFormat, StatementLine } from './model.js';

export interface ParseStatementOptions {
  /** The school's currency (ISO 4217): the statement must be in it. */
  currency: string;
  /** CSV only: column names and date format. */
  mapping?: CsvMapping;
}

/** The id of a line the bank gave none (see the top of this file). */
export function syntheticTransactionId(date: string, amount: number, description: string, occurrence: number): string {
  const digest = createHash('sha256').update(`${date}|${amount}|${description}|${occurrence}`).digest('hex');
  return `sha256:${digest.slice(0, 32)}`;
}

/** Lines with every id filled in and repeated ids dropped (first kept), with the count dropped. */
export function finishLines(raw: readonly RawLine[]): { lines: StatementLine[]; duplicates: number } {
  const occurrences = new Map<string, number>();
  const seen = new Set<string>();
  const lines: StatementLine[] = [];
  for (const line of raw) {
    let id = line.bankTransactionId;
    if (id === null) {
      const key = `${line.date}|${line.amount}|${line.description}`;
      const n = occurrences.get(key) ?? 0;
      occurrences.set(key, n + 1);
      id = syntheticTransactionId(line.date, line.amount, line.description, n);
    }
    if (seen.has(id)) {
      continue;
    }
    seen.add(id);
    lines.push({
      bankTransactionId: id,
      date: line.date,
      amount: line.amount,
      currency: line.currency,
      description: line.description,
      payerName: line.payerName,
    });
  }
  return { lines, duplicates: raw.length - lines.length };
}

function rawLines(text: string, format: StatementFormat, options: ParseStatementOptions): RawLine[] {
  switch (format) {
    case 'csv':
      return parseCsvStatement(text, options.currency, options.mapping);
    case 'camt053':
      return parseCamt053(text, options.currency);
    case 'ofx':
      return parseOfx(text, options.currency);
  }
}

/**
 * A bank statement file as normalised lines in file order. Throws StatementError
 * (field and, where one line is at fault, its line number) when the file is malformed,
 * is in another currency than `options.currency`, has a line whose date or amount
 * cannot be read, or has more than MAX_STATEMENT_LINES lines.
 */
export function parseStatement(body: Buffer, format: StatementFormat, options: ParseStatementOptions): ParsedStatement {
  if (!['csv', 'camt053', 'ofx'].includes(format)) {
    throw new StatementError('format', `format must be csv, camt053 or ofx (got "${String(format)}")`);
  }
  if (!/^[A-Z]{3}$/u.test(options.currency)) {
    throw new StatementError('currency', `currency must be an ISO 4217 code such as MXN (got "${options.currency}")`);
  }
  if (options.mapping !== undefined && format !== 'csv') {
    throw new StatementError('mapping', 'a column mapping applies to CSV statements only');
  }
  const text = decodeText(body);
  if (text.trim() === '') {
    throw new StatementError('body', 'the statement file is empty');
  }
  const { lines, duplicates } = finishLines(rawLines(text, format, options));
  return { format, currency: options.currency, lines, duplicates };
}
