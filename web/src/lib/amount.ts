/**
 * The one parser for amounts a person types: "1500", "1,500.00", "1.500,00",
 * "1 500,00", "$1,500", "MX$ 1,500.5", "COP 150.000". Pure (no DOM), so node --test
 * imports it directly (test/web/amount.test.ts).
 *
 * Bursars write amounts the way their country does: Mexico and the US "1,500.00",
 * Colombia "1.500,00" or "1 500,00". The decimal separator is read from the text where
 * it is unambiguous:
 * - both "." and "," present: the last one is the decimal separator, the other groups;
 * - one of them more than once ("1.500.000"): it groups, there are no decimals;
 * - spaces between digits group ("1 500,00"): then "." or "," is the decimal separator;
 * - one separator once, followed by anything but three digits ("1,5", "1500.00"): decimal.
 * Left: one separator once before exactly three digits ("1,500", "150.000"), which is a
 * thousand in one country and one and a half in another. There the currency's own
 * convention decides (COP writes "150.000" for 150 000, MXN and USD "1,500" for 1 500);
 * if that reading would leave more decimals than the currency has (USD "1.500"), the
 * input is refused as ambiguous, with both readings in the message.
 *
 * Digits are never turned into a float: the integer and fraction texts are combined
 * into minor units with integer arithmetic.
 *
 * A refusal is a code with the values its message needs, not a sentence: the parser
 * knows no language. `amountErrorText` writes it with the caller's `t` (the dashboard's
 * strings under `amountError.`), in whatever language that `t` speaks.
 */
import { currencyDecimals } from './format.js';

/** Why a typed amount was refused; `shown` is the text as typed (trimmed). */
export type AmountError =
  | { code: 'empty' }
  | { code: 'negative'; shown: string }
  | { code: 'notAmount'; shown: string }
  | { code: 'notDigits'; shown: string }
  | { code: 'spaceGroups'; shown: string }
  | { code: 'twoDecimalSeparators'; shown: string }
  | { code: 'ambiguous'; shown: string; currency: string; whole: string; decimal: string; asFraction: string }
  | { code: 'groupedFraction'; shown: string }
  | { code: 'thousandsGroups'; shown: string }
  | { code: 'noDecimals'; shown: string; currency: string }
  | { code: 'tooManyDecimals'; shown: string; currency: string; decimals: number }
  | { code: 'tooLarge'; shown: string };

export type AmountResult = { ok: true; minor: number } | { ok: false; error: AmountError };

/** A translate function, i18next's or any other: a key under `amountError.` and the error's values. */
export type AmountTranslate = (key: `amountError.${AmountError['code']}`, values: Record<string, string | number>) => string;

/** The refusal as a sentence in `t`'s language: "“1.500” is ambiguous in USD (1500 or 1.5?)…". */
export function amountErrorText(error: AmountError, t: AmountTranslate): string {
  const { code, ...values } = error;
  return t(`amountError.${code}`, values);
}

/** Currencies whose home convention writes "1.234,56" (a decimal comma). Others: "1,234.56". */
const DECIMAL_COMMA = new Set([
  'ARS', 'BOB', 'BRL', 'CLP', 'COP', 'CRC', 'PYG', 'UYU', 'VES',
  'EUR', 'DKK', 'NOK', 'SEK', 'ISK', 'PLN', 'CZK', 'HUF', 'RON', 'BGN', 'RSD', 'TRY', 'RUB', 'UAH',
  'IDR', 'VND', 'ZAR',
]);

/** The decimal separator a currency's home convention uses. */
export function decimalSeparatorOf(currency: string): '.' | ',' {
  return DECIMAL_COMMA.has(currency) ? ',' : '.';
}

/** Spaces people (and Intl) put between digit groups: space, no-break, narrow no-break, thin. */
const SPACES = /[\s\u00a0\u202f\u2009]+/g;
const HAS_SPACE = /[\s\u00a0\u202f\u2009]/;

const fail = (error: AmountError): AmountResult => ({ ok: false, error });

/**
 * The number without the currency around it: a sign ("$", "€", "MX$", "US$", "R$")
 * or the currency's own code ("COP 150.000", "1.500,00 COP"). Another code is not
 * stripped, so "USD 10" in a MXN field is refused rather than misread.
 */
function stripCurrency(text: string, currency: string): string {
  const code = /^[A-Z]{3}$/.test(currency) ? currency : 'XXX';
  return text
    .replace(new RegExp(`^(?:${code}|[A-Z]{0,3}\\p{Sc})\\s*`, 'u'), '')
    .replace(new RegExp(`\\s*(?:${code}|\\p{Sc})$`, 'u'), '')
    .trim();
}

/** "1,500" with "," as grouping: the first group 1–3 digits, every later one exactly 3. */
function validGrouping(text: string, separator: string): boolean {
  const groups = text.split(separator);
  return groups.every((group, index) => (index === 0 ? /^\d{1,3}$/.test(group) : /^\d{3}$/.test(group)));
}

function toMinor(integer: string, fraction: string, decimals: number, currency: string, shown: string): AmountResult {
  if (fraction.length > decimals) {
    return fail(decimals === 0 ? { code: 'noDecimals', shown, currency } : { code: 'tooManyDecimals', shown, currency, decimals });
  }
  const digits = `${integer.replace(/^0+(?=\d)/, '')}${fraction.padEnd(decimals, '0')}`;
  const minor = Number(digits);
  if (!Number.isSafeInteger(minor)) {
    return fail({ code: 'tooLarge', shown });
  }
  return { ok: true, minor };
}

/**
 * Parses a typed amount into integer minor units of `currency` (ISO 4217 digits:
 * MXN 2, JPY 0, KWD 3). Zero is returned as 0; callers decide whether it is allowed.
 * Negative amounts are refused (a refund is its own action).
 */
export function parseAmount(input: string, currency: string): AmountResult {
  const shown = input.trim();
  if (shown === '') {
    return fail({ code: 'empty' });
  }
  const unsigned = stripCurrency(shown.replace(/^[-−]\s*/, ''), currency);
  if (/^[-−]/.test(shown) || /^[-−]/.test(stripCurrency(shown, currency))) {
    return /\d/.test(unsigned) ? fail({ code: 'negative', shown }) : fail({ code: 'notAmount', shown });
  }
  const bare = unsigned;
  if (!/^\d[\d\s\u00a0\u202f\u2009.,']*$/.test(bare) || !/\d[.,]?$/.test(bare)) {
    return fail({ code: 'notDigits', shown });
  }
  const decimals = currencyDecimals(currency);
  // Apostrophes group in Switzerland ("1'500.00"); spaces group in many countries.
  let text = bare.replace(/'/g, ' ');
  let spaceGrouped = false;
  if (HAS_SPACE.test(text)) {
    const [whole = ''] = text.split(/[.,]/);
    if (!validGrouping(whole.replace(SPACES, ' '), ' ')) {
      return fail({ code: 'spaceGroups', shown });
    }
    text = text.replace(SPACES, '');
    spaceGrouped = true;
  }

  const dots = text.split('.').length - 1;
  const commas = text.split(',').length - 1;
  let decimalSeparator: '.' | ',' | null;
  if (dots === 0 && commas === 0) {
    decimalSeparator = null;
  } else if (dots > 0 && commas > 0) {
    decimalSeparator = text.lastIndexOf('.') > text.lastIndexOf(',') ? '.' : ',';
    if ((decimalSeparator === '.' ? dots : commas) > 1) {
      return fail({ code: 'twoDecimalSeparators', shown });
    }
  } else {
    const separator = dots > 0 ? '.' : ',';
    const count = dots > 0 ? dots : commas;
    const before = text.slice(0, text.lastIndexOf(separator));
    const after = text.slice(text.lastIndexOf(separator) + 1);
    if (count > 1) {
      decimalSeparator = null;
    } else if (spaceGrouped || after.length !== 3 || !/^[1-9]\d{0,2}$/.test(before)) {
      // Not "d,ddd": "1,5", "1500.000", "0.500" cannot be a thousands group.
      decimalSeparator = separator;
    } else {
      // "1,500" / "150.000": the currency's convention decides, when it can.
      const home = decimalSeparatorOf(currency);
      if (separator !== home) {
        decimalSeparator = null;
      } else if (decimals >= 3) {
        decimalSeparator = separator;
      } else {
        const asFraction = `${before}${separator}${after.slice(0, decimals).padEnd(Math.max(decimals, 1), '0')}`;
        return fail({ code: 'ambiguous', shown, currency, whole: `${before}${after}`, decimal: `${before}.${after.replace(/0+$/, '') || '0'}`, asFraction });
      }
    }
  }

  let integer = text;
  let fraction = '';
  if (decimalSeparator !== null) {
    const at = text.lastIndexOf(decimalSeparator);
    integer = text.slice(0, at);
    fraction = text.slice(at + 1);
    if (!/^\d*$/.test(fraction)) {
      return fail({ code: 'groupedFraction', shown });
    }
  }
  const grouping = decimalSeparator === '.' ? ',' : decimalSeparator === ',' ? '.' : dots > 0 ? '.' : ',';
  if (integer.includes(grouping)) {
    if (!validGrouping(integer, grouping)) {
      return fail({ code: 'thousandsGroups', shown });
    }
    integer = integer.split(grouping).join('');
  }
  if (!/^\d+$/.test(integer)) {
    return fail({ code: 'notDigits', shown });
  }
  return toMinor(integer, fraction, decimals, currency, shown);
}
