import { Type } from 'typebox';
import { wallClockParts } from './time.js';

/**
 * The reader's language and local time, for documents a person reads (exports,
 * statements, PDFs). One resolver for every feature:
 *
 *   `?lang=es|en` when given, else the best supported language of `Accept-Language`
 *   (RFC 9110 §12.5.4: highest q first, ties in the header's order, `es-MX` → es,
 *   `*` → the default), else English.
 *
 * Times a person reads are in the school's IANA zone and say which zone it is.
 */

export const LANGUAGES = ['en', 'es'] as const;
export type Language = (typeof LANGUAGES)[number];
export const DEFAULT_LANGUAGE: Language = 'en';

/** The `lang` query parameter of routes that render for people. */
export const LanguageParam = Type.Union([Type.Literal('en'), Type.Literal('es')], {
  description: 'language of headers and labels: en | es (default: from Accept-Language, else en)',
});

export function isLanguage(value: unknown): value is Language {
  return typeof value === 'string' && (LANGUAGES as readonly string[]).includes(value);
}

/** The supported language an Accept-Language header prefers most; undefined when it names none. */
export function languageFromAcceptLanguage(header: string | undefined): Language | undefined {
  if (header === undefined) {
    return undefined;
  }
  let best: { language: Language; quality: number } | undefined;
  for (const part of header.split(',')) {
    const [range = '', ...params] = part.split(';').map((piece) => piece.trim().toLowerCase());
    const q = params.map((param) => /^q=([0-9.]+)$/.exec(param)).find((match) => match !== null);
    const quality = q ? Number(q[1]) : 1;
    if (!Number.isFinite(quality) || quality <= 0) {
      continue;
    }
    const primary = range === '*' ? DEFAULT_LANGUAGE : range.split('-')[0];
    if (isLanguage(primary) && (best === undefined || quality > best.quality)) {
      best = { language: primary, quality };
    }
  }
  return best?.language;
}

/** `lang` when it is a supported language, else Accept-Language's choice, else English. */
export function resolveLanguage(lang: string | undefined, acceptLanguage: string | undefined): Language {
  if (isLanguage(lang)) {
    return lang;
  }
  return languageFromAcceptLanguage(acceptLanguage) ?? DEFAULT_LANGUAGE;
}

/** The language of a request: its `lang` query parameter, else its Accept-Language header. */
export function requestLanguage(request: { query: unknown; headers: { 'accept-language'?: string | string[] } }): Language {
  const query = request.query as { lang?: unknown } | null | undefined;
  const lang = typeof query?.lang === 'string' ? query.lang : undefined;
  const header = request.headers['accept-language'];
  return resolveLanguage(lang, Array.isArray(header) ? header.join(',') : header);
}

/** A text in every supported language. */
export type Localized = Readonly<Record<Language, string>>;

// --- local time ----------------------------------------------------------------------


/**
 * The wall-clock time in `timeZone` at `at`, as a Date whose UTC fields are that wall
 * clock: what a spreadsheet cell (which has no zone) should hold to show the local time.
 */
export function wallClockIn(at: Date, timeZone: string): Date {
  const p = wallClockParts(at, timeZone);
  return new Date(Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second, at.getUTCMilliseconds()));
}

const two = (n: number) => String(n).padStart(2, '0');

/** `timeZone`'s offset from UTC at `at`, as "UTC-06:00" (ASCII, so any PDF font can draw it). */
export function utcOffsetIn(at: Date, timeZone: string): string {
  const minutes = Math.round((wallClockIn(at, timeZone).getTime() - at.getTime()) / 60_000);
  const sign = minutes < 0 ? '-' : '+';
  const magnitude = Math.abs(minutes);
  return `UTC${sign}${two(Math.floor(magnitude / 60))}:${two(magnitude % 60)}`;
}

/** "2026-12-02 12:45" in `timeZone` (no zone label). */
export function localDateTime(at: Date, timeZone: string): string {
  const p = wallClockParts(at, timeZone);
  return `${p.year}-${two(p.month)}-${two(p.day)} ${two(p.hour)}:${two(p.minute)}`;
}

/**
 * A moment for a person: local date and time in `timeZone`, with the zone and its
 * offset — "2026-12-02 12:45 America/Mexico_City (UTC-06:00)". ISO-like numbers read
 * the same in every language; "UTC" for documents that span several schools' zones.
 */
export function formatLocalTimestamp(at: Date, timeZone: string): string {
  if (timeZone === 'UTC' || timeZone === 'Etc/UTC') {
    return `${localDateTime(at, 'UTC')} UTC`;
  }
  return `${localDateTime(at, timeZone)} ${timeZone} (${utcOffsetIn(at, timeZone)})`;
}

/** The calendar date ('YYYY-MM-DD') in `timeZone` at `at`. */
export function localDate(at: Date, timeZone: string): string {
  return localDateTime(at, timeZone).slice(0, 10);
}

// --- words every document uses ------------------------------------------------------

/** Invoice statuses in words (SPEC §2), for documents people read; the API keeps the codes. */
export const INVOICE_STATUS_LABELS: Readonly<Record<'PENDING' | 'PARTIAL' | 'PAID' | 'OVERDUE' | 'CANCELLED', Localized>> = {
  PENDING: { en: 'Pending', es: 'Pendiente' },
  PARTIAL: { en: 'Partially paid', es: 'Pago parcial' },
  PAID: { en: 'Paid', es: 'Pagada' },
  OVERDUE: { en: 'Overdue', es: 'Vencida' },
  CANCELLED: { en: 'Cancelled', es: 'Cancelada' },
};

/** Payment methods in words. */
export const PAYMENT_METHOD_LABELS: Readonly<Record<'card' | 'bank_transfer' | 'cash' | 'cash_voucher' | 'direct_debit' | 'wallet', Localized>> = {
  card: { en: 'Card', es: 'Tarjeta' },
  bank_transfer: { en: 'Bank transfer', es: 'Transferencia' },
  cash: { en: 'Cash', es: 'Efectivo' },
  cash_voucher: { en: 'Cash voucher', es: 'Pago en efectivo con referencia' },
  direct_debit: { en: 'Direct debit', es: 'Domiciliación' },
  wallet: { en: 'Wallet', es: 'Monedero' },
};
