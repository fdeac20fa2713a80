/**
 * Money, dates and SMS text for the assistant's generated text. Pure functions.
 *
 * Money is integer minor units; it becomes major units through the currency's own
 * ISO 4217 minor-unit digits (MXN 2, COP 2, JPY 0, KWD 3), and is formatted for the
 * message's language in the currency's home region (es + MXN → es-MX "$1,234.50",
 * en + MXN → en-MX "MX$1,234.50"), so a family reads the amount the way their bank
 * statement shows it.
 */
import { currencyDigits } from '../../shared/money.js';

export type Language = 'en' | 'es';

/** Regions whose code is not the first two letters of the currency code. */
const CURRENCY_REGION: Record<string, { en: string; es: string }> = {
  EUR: { en: 'IE', es: 'ES' },
  XAF: { en: 'CM', es: 'GQ' },
  XOF: { en: 'SN', es: 'SN' },
  XCD: { en: 'AG', es: 'AG' },
};

/** The locale used to write amounts of `currency` in `language`. */
export function localeFor(language: Language, currency: string): string {
  const region = CURRENCY_REGION[currency]?.[language] ?? currency.slice(0, 2).toUpperCase();
  const candidate = `${language}-${region}`;
  try {
    return Intl.NumberFormat.supportedLocalesOf([candidate]).length > 0 ? candidate : language === 'es' ? 'es-MX' : 'en-US';
  } catch {
    return language === 'es' ? 'es-MX' : 'en-US';
  }
}

/** Narrow and non-breaking spaces that Intl puts in amounts and dates, as plain spaces. */
const plainSpaces = (text: string) => text.replace(/[\u00a0\u202f\u2007]/g, ' ');

/** One formatter per language and currency: making one costs far more than formatting (a day's reminders format thousands). */
const moneyFormats = new Map<string, Intl.NumberFormat>();

/** 123450 MXN, es → "$1,234.50"; en → "MX$1,234.50". */
export function formatMoney(minor: number, currency: string, language: Language): string {
  const digits = currencyDigits(currency);
  const key = `${language}:${currency}`;
  let format = moneyFormats.get(key);
  if (format === undefined) {
    format = new Intl.NumberFormat(localeFor(language, currency), { style: 'currency', currency, minimumFractionDigits: digits, maximumFractionDigits: digits });
    moneyFormats.set(key, format);
  }
  return plainSpaces(format.format(minor / 10 ** digits));
}

const LONG: Record<Language, Intl.DateTimeFormat> = {
  en: new Intl.DateTimeFormat('en-US', { timeZone: 'UTC', year: 'numeric', month: 'long', day: 'numeric' }),
  es: new Intl.DateTimeFormat('es-MX', { timeZone: 'UTC', year: 'numeric', month: 'long', day: 'numeric' }),
};
const SHORT: Record<Language, Intl.DateTimeFormat> = {
  en: new Intl.DateTimeFormat('en-US', { timeZone: 'UTC', year: 'numeric', month: 'short', day: 'numeric' }),
  es: new Intl.DateTimeFormat('es-MX', { timeZone: 'UTC', year: 'numeric', month: 'short', day: 'numeric' }),
};

/**
 * A calendar day ('YYYY-MM-DD', already in the school's zone) in words:
 * long "March 5, 2026" / "5 de marzo de 2026", short "Mar 5, 2026" / "5 mar 2026".
 * Formatted in UTC because the value is a date, not an instant.
 */
export function formatDay(day: string, language: Language, style: 'long' | 'short' = 'long'): string {
  const text = (style === 'long' ? LONG : SHORT)[language].format(new Date(`${day}T00:00:00Z`));
  return plainSpaces(text).replace(/\.(?= \d)/, '');
}

/** `day` plus `days` calendar days ('YYYY-MM-DD'). */
export function addDays(day: string, days: number): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) + days * 86_400_000).toISOString().slice(0, 10);
}

/** Whole days from `from` to `to` (both 'YYYY-MM-DD'); negative when `to` is earlier. */
export function daysBetween(from: string, to: string): number {
  return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / 86_400_000);
}

// --- SMS: GSM 03.38 -------------------------------------------------------------------

/** The GSM 7-bit default alphabet (one septet each). */
const GSM_BASIC = new Set(
  Array.from(
    '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà',
  ),
);
/** The extension table: two septets each (escape + character). */
const GSM_EXTENDED = new Set(Array.from('^{}\\[~]|€\f'));

/** Typographic characters with a GSM-7 equivalent. */
const GSM_REPLACEMENTS: Record<string, string> = {
  '\u2018': "'", '\u2019': "'", '\u201c': '"', '\u201d': '"', '\u2013': '-', '\u2014': '-', '\u2026': '...', '\u00a0': ' ', '\u202f': ' ',
  '\t': ' ', '`': "'", '\u00b4': "'",
};

/**
 * Text that fits the GSM-7 alphabet, so an SMS is never silently re-encoded as UCS-2
 * (which cuts a segment from 160 to 70 characters): letters with accents outside the
 * alphabet lose them (á → a, Í → I), typographic quotes and dashes become ASCII, anything
 * else becomes '?'.
 */
export function toGsm7(text: string): string {
  let out = '';
  for (const char of text) {
    if (GSM_BASIC.has(char) || GSM_EXTENDED.has(char)) {
      out += char;
      continue;
    }
    const replacement = GSM_REPLACEMENTS[char];
    if (replacement !== undefined) {
      out += replacement;
      continue;
    }
    const base = char.normalize('NFD').replace(/\p{M}/gu, '');
    out += base.length > 0 && Array.from(base).every((c) => GSM_BASIC.has(c)) ? base : '?';
  }
  return out;
}

export interface SmsSize {
  encoding: 'GSM-7' | 'UCS-2';
  /** Septets (GSM-7; extension characters count two) or UTF-16 code units (UCS-2). */
  units: number;
  segments: number;
}

/** How an SMS of this text is sent: encoding, size in its units and number of segments. */
export function smsSize(text: string): SmsSize {
  let septets = 0;
  let gsm = true;
  for (const char of text) {
    if (GSM_BASIC.has(char)) {
      septets += 1;
    } else if (GSM_EXTENDED.has(char)) {
      septets += 2;
    } else {
      gsm = false;
      break;
    }
  }
  if (gsm) {
    return { encoding: 'GSM-7', units: septets, segments: septets <= 160 ? 1 : Math.ceil(septets / 153) };
  }
  const units = text.length;
  return { encoding: 'UCS-2', units, segments: units <= 70 ? 1 : Math.ceil(units / 67) };
}

/** The longest single SMS segment in GSM-7. */
export const SMS_LIMIT = 160;
