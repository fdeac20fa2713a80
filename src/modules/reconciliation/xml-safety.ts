/**
 * Guards for XML statements (CAMT.053, OFX 2.x) from outside the school: a document
 * type declaration is refused before any parsing, so no entity can be declared, let
 * alone expanded (the "billion laughs" bomb, external entities reading local files).
 * The XML parser runs with entity processing off; the five predefined entities and
 * numeric character references are then decoded here, which cannot expand anything.
 */
import { StatementError } from './model.js';

/** The 1-based line of `offset` in `text`. */
export function lineAt(text: string, offset: number): number {
  let line = 1;
  for (let i = text.indexOf('\n'); i >= 0 && i < offset; i = text.indexOf('\n', i + 1)) {
    line += 1;
  }
  return line;
}

/** Throws when the document declares a DOCTYPE or an ENTITY anywhere. */
export function refuseDoctype(text: string, what: string): void {
  const at = text.search(/<!(?:DOCTYPE|ENTITY)\b/iu);
  if (at >= 0) {
    throw new StatementError('body', `the ${what} declares a DOCTYPE or ENTITY, which is not accepted in a bank statement`, lineAt(text, at));
  }
}

const PREDEFINED: Readonly<Record<string, string>> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** Text with the predefined XML entities and numeric character references decoded; others left as written. */
export function decodeXmlEntities(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]{1,6}|#\d{1,7}|[a-zA-Z]+);/gu, (whole, ref: string) => {
    if (ref.startsWith('#')) {
      const code = ref.startsWith('#x') ? Number.parseInt(ref.slice(2), 16) : Number.parseInt(ref.slice(1), 10);
      return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    }
    return PREDEFINED[ref] ?? whole;
  });
}

/** The 1-based line of each start tag named `name` (any namespace prefix), in document order. */
export function elementLines(text: string, name: string): number[] {
  const lines: number[] = [];
  const pattern = new RegExp(`<(?:[\\w.-]+:)?${name}[\\s>/]`, 'gu');
  let line = 1;
  let last = 0;
  for (let match = pattern.exec(text); match; match = pattern.exec(text)) {
    for (let i = text.indexOf('\n', last); i >= 0 && i < match.index; i = text.indexOf('\n', i + 1)) {
      line += 1;
    }
    last = match.index;
    lines.push(line);
  }
  return lines;
}
