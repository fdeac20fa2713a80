/**
 * OFX bank and credit-card statements, 1.x (SGML) and 2.x (XML), read by a small
 * parser of our own: the npm OFX parsers were not fit for uploads from outside (ofx-js
 * converts SGML with a regular expression that backtracks exponentially on a crafted
 * tag — 26 characters take seconds; ofx-data-extractor ships minified code only and
 * turns amounts into floats).
 *
 * The one hard part of OFX 1.x is that SGML leaf elements have no closing tag
 * (`<TRNAMT>-12.50` then the next tag). The tree builder here closes a leaf implicitly
 * when the next tag arrives; aggregates (elements with children) must be closed
 * explicitly, as the OFX specification requires. OFX 2.x is the same tree with every
 * tag closed; a DOCTYPE or ENTITY declaration is refused. The scan is linear.
 *
 * From each STMTRS / CCSTMTRS: CURDEF is the currency; each BANKTRANLIST/STMTTRN gives
 * TRNAMT (signed; decimal mark decided per file as in values.ts), DTPOSTED (its
 * YYYYMMDD, as written), FITID (the id), NAME and MEMO (the description is NAME then
 * MEMO, MEMO left out when it repeats NAME). NAME is taken as the payer's name for
 * money received; for money paid out it names the payee, so payerName is null.
 */
import { MAX_STATEMENT_LINES, requireCurrency, StatementError, type RawLine } from './model.js';
import { collapseWhitespace, decimalMarkOf, isoDate, parseAmount } from './values.js';
import { decodeXmlEntities, lineAt, refuseDoctype } from './xml-safety.js';

export interface OfxElement {
  name: string;
  /** 1-based line of the start tag. */
  line: number;
  /** The value of a leaf element; null for an aggregate (or a leaf not yet given text). */
  text: string | null;
  children: OfxElement[];
}

/** A token of the OFX body: a start tag, an end tag, or text between tags. */
type Token = { kind: 'open' | 'close' | 'empty'; name: string; line: number } | { kind: 'text'; text: string; line: number };

function countLines(text: string, from: number, to: number): number {
  let n = 0;
  for (let i = text.indexOf('\n', from); i >= 0 && i < to; i = text.indexOf('\n', i + 1)) {
    n += 1;
  }
  return n;
}

/** The tags and texts of `text` from `start` on, with their lines; comments and processing instructions skipped. */
export function tokenize(text: string, start: number, firstLine: number): Token[] {
  const tokens: Token[] = [];
  let i = start;
  let line = firstLine;
  const advance = (to: number) => {
    line += countLines(text, i, to);
    i = to;
  };
  while (i < text.length) {
    if (text.charCodeAt(i) !== 60 /* < */) {
      const next = text.indexOf('<', i);
      const end = next < 0 ? text.length : next;
      const value = text.slice(i, end).trim();
      if (value !== '') {
        tokens.push({ kind: 'text', text: decodeXmlEntities(value), line: line + countLines(text, i, i + text.slice(i, end).search(/\S/u)) });
      }
      advance(end);
      continue;
    }
    const skipTo = text.startsWith('<!--', i) ? '-->' : text.startsWith('<?', i) ? '?>' : null;
    if (skipTo !== null) {
      const end = text.indexOf(skipTo, i);
      if (end < 0) {
        throw new StatementError('body', 'the OFX has an unterminated comment or processing instruction', line);
      }
      advance(end + skipTo.length);
      continue;
    }
    const end = text.indexOf('>', i);
    const tag = /^<(\/?)([A-Za-z][A-Za-z0-9_.]*)\s*(\/?)$/u.exec(text.slice(i, end < 0 ? text.length : end));
    if (end < 0 || !tag) {
      const shown = text.slice(i, Math.min(end < 0 ? text.length : end + 1, i + 40));
      throw new StatementError('body', `the OFX has a malformed tag "${shown}"`, line);
    }
    const name = (tag[2] ?? '').toUpperCase();
    tokens.push({ kind: tag[1] ? 'close' : tag[3] ? 'empty' : 'open', name, line });
    advance(end + 1);
  }
  return tokens;
}

/** The element tree of an OFX body, leaves closed implicitly (SGML) or explicitly (XML). */
export function buildTree(tokens: readonly Token[]): OfxElement {
  const root: OfxElement = { name: '#root', line: 0, text: null, children: [] };
  const stack: OfxElement[] = [root];
  const top = () => stack[stack.length - 1] ?? root;
  const closeLeaves = (unless?: string) => {
    while (stack.length > 1 && top().text !== null && top().name !== unless) {
      stack.pop();
    }
  };
  for (const token of tokens) {
    switch (token.kind) {
      case 'open':
      case 'empty': {
        closeLeaves();
        const element: OfxElement = { name: token.name, line: token.line, text: token.kind === 'empty' ? '' : null, children: [] };
        top().children.push(element);
        if (token.kind === 'open') {
          stack.push(element);
        }
        break;
      }
      case 'text': {
        const current = top();
        if (current === root || current.text !== null || current.children.length > 0) {
          throw new StatementError('body', `the OFX has text "${token.text.slice(0, 40)}" where an element was expected`, token.line);
        }
        current.text = token.text;
        break;
      }
      case 'close': {
        closeLeaves(token.name);
        const current = top();
        if (current.name !== token.name) {
          const open = current === root ? 'no element is open' : `<${current.name}> (line ${current.line}) is open`;
          throw new StatementError('body', `the OFX closes </${token.name}> but ${open}`, token.line);
        }
        stack.pop();
        break;
      }
    }
  }
  closeLeaves();
  const unclosed = top();
  if (unclosed !== root) {
    throw new StatementError('body', `the OFX never closes <${unclosed.name}>`, unclosed.line);
  }
  return root;
}

/** Every element named `name` below `element`, depth first. */
function descendants(element: OfxElement, name: string): OfxElement[] {
  return element.children.flatMap((child) => (child.name === name ? [child] : descendants(child, name)));
}

function childText(element: OfxElement, name: string): string | undefined {
  const text = element.children.find((c) => c.name === name)?.text?.trim();
  return text === '' ? undefined : text;
}

/** The OFX element tree of a whole file (header lines before <OFX> are skipped). */
export function parseOfxTree(text: string): OfxElement {
  refuseDoctype(text, 'OFX statement');
  const start = text.search(/<OFX>/iu);
  if (start < 0) {
    throw new StatementError('body', 'this is not an OFX statement (no <OFX> element)');
  }
  return buildTree(tokenize(text, start, lineAt(text, start)));
}

/** Every transaction of every bank or card statement in an OFX file; each statement must be in `currency`. */
export function parseOfx(text: string, currency: string): RawLine[] {
  const tree = parseOfxTree(text);
  const statements = [...descendants(tree, 'STMTRS'), ...descendants(tree, 'CCSTMTRS')];
  if (statements.length === 0) {
    throw new StatementError('body', 'the OFX has no bank or credit-card statement (STMTRS / CCSTMTRS)');
  }
  const transactions = statements.flatMap((statement) => {
    const declared = childText(statement, 'CURDEF');
    if (declared === undefined) {
      throw new StatementError('body', 'the OFX statement has no CURDEF', statement.line);
    }
    requireCurrency(declared.toUpperCase(), currency, statement.line);
    return statement.children.filter((c) => c.name === 'BANKTRANLIST').flatMap((list) => list.children.filter((c) => c.name === 'STMTTRN'));
  });
  if (transactions.length > MAX_STATEMENT_LINES) {
    throw new StatementError('body', `the statement has more than ${MAX_STATEMENT_LINES} transactions; split it`);
  }
  const mark = decimalMarkOf(
    transactions.map((t) => ({ line: t.line, raw: childText(t, 'TRNAMT') ?? '' })),
    currency,
  );
  return transactions.map((transaction): RawLine => readTransaction(transaction, mark, currency));
}

function readTransaction(transaction: OfxElement, mark: '.' | ',', currency: string): RawLine {
  const line = transaction.line;
  const rawAmount = childText(transaction, 'TRNAMT');
  const amount = rawAmount === undefined ? 'is missing' : parseAmount(rawAmount, mark, currency);
  if (typeof amount === 'string') {
    throw new StatementError('body', `STMTTRN TRNAMT ${amount}`, line);
  }
  const posted = childText(transaction, 'DTPOSTED');
  const parts = posted === undefined ? null : /^(\d{4})(\d{2})(\d{2})/u.exec(posted);
  const date = parts ? isoDate(Number(parts[1]), Number(parts[2]), Number(parts[3])) : null;
  if (date === null) {
    throw new StatementError('body', `STMTTRN DTPOSTED ${posted === undefined ? 'is missing' : `"${posted}" is not a date`}`, line);
  }
  const name = collapseWhitespace(childText(transaction, 'NAME') ?? '');
  const memo = collapseWhitespace(childText(transaction, 'MEMO') ?? '');
  return {
    line,
    bankTransactionId: childText(transaction, 'FITID') ?? null,
    date,
    amount,
    currency,
    description: memo === name ? name : collapseWhitespace(`${name} ${memo}`),
    payerName: amount > 0 && name !== '' ? name : null,
  };
}
