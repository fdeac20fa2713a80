/**
 * ISO 20022 CAMT.053 (bank-to-customer statement) XML, any version 001.02–001.13:
 * every Document/BkToCstmrStmt/Stmt/Ntry becomes a line.
 *  - amount: Ntry/Amt (always written with '.'), negated when CdtDbtInd is DBIT;
 *  - date: BookgDt/Dt, else the date part of BookgDt/DtTm, as written;
 *  - id: Ntry/AcctSvcrRef, else the first TxDtls/Refs/EndToEndId (not "NOTPROVIDED"),
 *    else TxDtls/Refs/TxId, else TxDtls/Refs/AcctSvcrRef;
 *  - description: every TxDtls/RmtInf/Ustrd joined by a space, else AddtlNtryInf;
 *  - payer: TxDtls/RltdPties/Dbtr/Nm (001.02–001.07) or Dbtr/Pty/Nm (001.08+), for
 *    money received only (for money paid out the debtor is the school).
 * A statement's currency is Stmt/Acct/Ccy, else its entries' Amt/@Ccy; an entry in
 * another currency than its statement is refused.
 */
import { MAX_STATEMENT_LINES, requireCurrency, StatementError, type RawLine } from './model.js';
import { collapseWhitespace, isoDatePrefix, parseAmount } from './values.js';
import { all, at, attributeOf, parseXmlDocument, textAt, textOf, type XmlNode } from './xml-tree.js';
import { elementLines } from './xml-safety.js';

/** The entry's own id, or null when the bank gave none. */
function entryId(entry: XmlNode): string | null {
  const details = all(entry, 'NtryDtls/TxDtls');
  const firstOf = (path: string, skip?: string) =>
    details.map((d) => textAt(d, path)).find((v) => v !== undefined && v !== skip);
  return textAt(entry, 'AcctSvcrRef') ?? firstOf('Refs/EndToEndId', 'NOTPROVIDED') ?? firstOf('Refs/TxId') ?? firstOf('Refs/AcctSvcrRef') ?? null;
}

function entryDescription(entry: XmlNode): string {
  const remittance = all(entry, 'NtryDtls/TxDtls/RmtInf/Ustrd')
    .map((node) => textOf(node) ?? '')
    .join(' ');
  return collapseWhitespace(remittance) || collapseWhitespace(textAt(entry, 'AddtlNtryInf') ?? '');
}

function entryPayer(entry: XmlNode): string | null {
  for (const details of all(entry, 'NtryDtls/TxDtls')) {
    const name = textAt(details, 'RltdPties/Dbtr/Nm') ?? textAt(details, 'RltdPties/Dbtr/Pty/Nm');
    if (name !== undefined) {
      return collapseWhitespace(name);
    }
  }
  return null;
}

/** One Ntry as a line; `line` is where its start tag is, for messages. */
function readEntry(entry: XmlNode, line: number, statementCurrency: string): RawLine {
  const amountNode = at(entry, 'Amt');
  const rawAmount = textOf(amountNode)?.trim();
  const ccy = attributeOf(amountNode, 'Ccy');
  if (rawAmount === undefined || rawAmount === '') {
    throw new StatementError('body', 'Ntry has no Amt', line);
  }
  if (ccy !== undefined) {
    requireCurrency(ccy, statementCurrency, line);
  }
  const magnitude = /^\d+(\.\d+)?$/u.test(rawAmount) ? parseAmount(rawAmount, '.', statementCurrency) : `"${rawAmount}" is not a decimal amount`;
  if (typeof magnitude === 'string') {
    throw new StatementError('body', `Ntry Amt ${magnitude}`, line);
  }
  const indicator = textAt(entry, 'CdtDbtInd');
  if (indicator !== 'CRDT' && indicator !== 'DBIT') {
    throw new StatementError('body', `Ntry CdtDbtInd is "${indicator ?? ''}", not CRDT or DBIT`, line);
  }
  const rawDate = textAt(entry, 'BookgDt/Dt') ?? textAt(entry, 'BookgDt/DtTm');
  const date = rawDate === undefined ? null : isoDatePrefix(rawDate);
  if (date === null) {
    throw new StatementError('body', `Ntry BookgDt ${rawDate === undefined ? 'is missing' : `"${rawDate}" is not a date`}`, line);
  }
  const amount = indicator === 'DBIT' ? -magnitude : magnitude;
  return {
    line,
    bankTransactionId: entryId(entry),
    date,
    amount: amount === 0 ? 0 : amount,
    currency: statementCurrency,
    description: entryDescription(entry),
    payerName: indicator === 'CRDT' ? entryPayer(entry) : null,
  };
}

/** Every entry of every statement in a CAMT.053 document, in document order; each statement must be in `currency`. */
export function parseCamt053(text: string, currency: string): RawLine[] {
  const document = parseXmlDocument(text, 'CAMT.053 statement');
  const root = at(document, 'Document/BkToCstmrStmt');
  if (root === undefined) {
    throw new StatementError('body', 'this is not a CAMT.053 statement (no Document/BkToCstmrStmt element)');
  }
  const statements = all(root, 'Stmt');
  if (statements.length === 0) {
    throw new StatementError('body', 'the CAMT.053 document has no Stmt element');
  }
  const entryLines = elementLines(text, 'Ntry');
  let entryIndex = 0;
  return statements.flatMap((statement) => {
    const entries = all(statement, 'Ntry');
    const declared = textAt(statement, 'Acct/Ccy') ?? entries.map((e) => attributeOf(at(e, 'Amt'), 'Ccy')).find((c) => c !== undefined);
    if (declared !== undefined) {
      requireCurrency(declared, currency);
    }
    if (entryIndex + entries.length > MAX_STATEMENT_LINES) {
      throw new StatementError('body', `the statement has more than ${MAX_STATEMENT_LINES} entries; split it`);
    }
    return entries.map((entry) => {
      const line = entryLines[entryIndex] ?? 1;
      entryIndex += 1;
      return readEntry(entry, line, currency);
    });
  });
}
