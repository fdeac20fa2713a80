/**
 * The value-level rules shared by the statement parsers: bytes to text, amounts as
 * banks write them to exact integer minor units, dates to YYYY-MM-DD, and free text to
 * one collapsed line. Amounts are never floating point: the decimal string's digits are
 * concatenated and read as one integer.
 *
 * The decimal mark is decided per file, from every amount in it (decimalMarkOf):
 *  - a value with both '.' and ',' uses the last one as its decimal mark ("1.500,00");
 *  - a mark repeated in one value is a thousands separator ("1,500,000" → '.');
 *  - a single mark followed by more digits than the currency has, in groups of three,
 *    is a thousands separator ("1,500" in MXN → '.'; "1.500" in CLP → ',');
 *  - any other single mark is the decimal mark ("200,5" → ',').
 * Values that say nothing (plain integers) do not vote; a file where no value votes
 * uses '.'. A file whose values vote for both marks is refused, naming one line of each.
 */
import { currencyDigits } from '../../shared/money.js';
import { StatementError } from './model.js';

export type DecimalMark = '.' | ',';

/**
 * A statement's bytes as text: UTF-8 (a BOM is dropped) when the bytes are valid UTF-8,
 * else Windows-1252, which is what Mexican and most Latin-American banks export when
 * they are not UTF-8 (Latin-1 is its subset for letters).
 */
export function decodeText(body: Buffer): string {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(body);
  } catch {
    return new TextDecoder('windows-1252').decode(body);
  }
}

/** Trimmed, every run of whitespace (tabs, newlines, NBSP) one space. */
export function collapseWhitespace(text: string): string {
  return text.replace(/\s+/gu, ' ').trim();
}

/** Unicode minus and dashes banks use as a minus sign. */
const MINUS = /^[-\u2212\u2012\u2013]$/u;

interface SignedDigits {
  negative: boolean;
  /** The number without sign, currency symbol or spaces: digits, '.' and ','. */
  body: string;
}

/**
 * Splits an amount into its sign and its digits: a leading or trailing minus,
 * accounting parentheses "(200.50)", a leading '+', a '$' anywhere before the digits,
 * and spaces (also NBSP and thin spaces used as thousands separators) are understood.
 */
function splitSign(raw: string): SignedDigits | null {
  let text = raw.replace(/[\s\u00a0\u202f]/gu, '');
  let negative = false;
  if (text.startsWith('(') && text.endsWith(')')) {
    negative = true;
    text = text.slice(1, -1);
  }
  const first = text.charAt(0);
  if (MINUS.test(first) || first === '+') {
    negative = negative || first !== '+';
    text = text.slice(1);
  }
  if (text.startsWith('$')) {
    text = text.slice(1);
  }
  const again = text.charAt(0);
  if (!negative && (MINUS.test(again) || again === '+')) {
    negative = again !== '+';
    text = text.slice(1);
  }
  const last = text.charAt(text.length - 1);
  if (!negative && MINUS.test(last)) {
    negative = true;
    text = text.slice(0, -1);
  }
  return /^[\d.,]*\d[\d.,]*$/u.test(text) ? { negative, body: text } : null;
}

/** True when `body` is digits grouped in threes by `separator` (first group 1–3 digits). */
function isGrouped(body: string, separator: DecimalMark): boolean {
  const groups = body.split(separator);
  return groups.length > 1 && /^\d{1,3}$/u.test(groups[0] ?? '') && groups.slice(1).every((g) => /^\d{3}$/u.test(g));
}

/** The decimal mark one value implies, or null when it implies none. */
export function decimalMarkVote(raw: string, currency: string): DecimalMark | null {
  const parts = splitSign(raw);
  if (!parts) {
    return null;
  }
  const { body } = parts;
  const dot = body.lastIndexOf('.');
  const comma = body.lastIndexOf(',');
  if (dot >= 0 && comma >= 0) {
    return dot > comma ? '.' : ',';
  }
  const mark: DecimalMark | null = dot >= 0 ? '.' : comma >= 0 ? ',' : null;
  if (mark === null) {
    return null;
  }
  const other: DecimalMark = mark === '.' ? ',' : '.';
  if (body.indexOf(mark) !== body.lastIndexOf(mark)) {
    return other;
  }
  const fractionDigits = body.length - body.indexOf(mark) - 1;
  if (fractionDigits > currencyDigits(currency) && isGrouped(body, mark)) {
    return other;
  }
  return mark;
}

/** The file's decimal mark, from each (line, value) pair's vote; '.' when none votes. */
export function decimalMarkOf(values: readonly { line: number; raw: string }[], currency: string): DecimalMark {
  let dot: { line: number; raw: string } | undefined;
  let comma: { line: number; raw: string } | undefined;
  for (const value of values) {
    const vote = decimalMarkVote(value.raw, currency);
    if (vote === '.') {
      dot ??= value;
    } else if (vote === ',') {
      comma ??= value;
    }
    if (dot && comma) {
      throw new StatementError(
        'body',
        `the amounts mix '.' and ',' as the decimal mark: line ${dot.line} "${dot.raw}" and line ${comma.line} "${comma.raw}"`,
      );
    }
  }
  return comma ? ',' : '.';
}

/**
 * An amount as the bank wrote it ("1,500.00", "-200.50", "1.500,00" with mark ',',
 * "(75.40)", "$ 1 500.00") in exact integer minor units of `currency`. More decimals
 * than the currency has are accepted only when the extra ones are zeros. Returns the
 * reason as a string when the text is not such an amount.
 */
export function parseAmount(raw: string, mark: DecimalMark, currency: string): number | string {
  const parts = splitSign(raw);
  if (!parts) {
    return `"${raw}" is not an amount`;
  }
  const group = mark === '.' ? ',' : '.';
  const at = parts.body.indexOf(mark);
  if (at !== parts.body.lastIndexOf(mark)) {
    return `"${raw}" has more than one decimal mark '${mark}'`;
  }
  const whole = at < 0 ? parts.body : parts.body.slice(0, at);
  const fraction = at < 0 ? '' : parts.body.slice(at + 1);
  if (whole.includes(group) && !isGrouped(whole, group)) {
    return `"${raw}" has '${group}' out of place (the decimal mark is '${mark}')`;
  }
  if (!/^\d*$/u.test(fraction) || (at >= 0 && fraction === '') || (whole === '' && fraction === '')) {
    return `"${raw}" is not an amount`;
  }
  const digits = currencyDigits(currency);
  if (/[^0]/u.test(fraction.slice(digits))) {
    return `"${raw}" has more decimals than ${currency} has (${digits})`;
  }
  const minorText = `${whole.replaceAll(group, '')}${fraction.slice(0, digits).padEnd(digits, '0')}`;
  const magnitude = Number(minorText.replace(/^0+(?=\d)/u, ''));
  if (!Number.isSafeInteger(magnitude)) {
    return `"${raw}" is too large`;
  }
  return parts.negative && magnitude !== 0 ? -magnitude : magnitude;
}

/** YYYY-MM-DD when year, month and day make a real calendar date, else null. */
export function isoDate(year: number, month: number, day: number): string | null {
  if (year < 1900 || year > 2999 || month < 1 || month > 12 || day < 1) {
    return null;
  }
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (day > daysInMonth) {
    return null;
  }
  return `${String(year).padStart(4, '0')}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
}

/**
 * The calendar date at the start of an ISO 8601 date or date-time ("2026-08-03",
 * "2026-08-03+01:00", "2026-08-03T10:15:00Z"): the bank's booking date as written,
 * never shifted to another time zone. Null when it is not one.
 */
export function isoDatePrefix(text: string): string | null {
  const match = /^(\d{4})-(\d{2})-(\d{2})(?:$|[T ]|[+-]\d{2}:\d{2}$|Z$)/u.exec(text.trim());
  return match ? isoDate(Number(match[1]), Number(match[2]), Number(match[3])) : null;
}
