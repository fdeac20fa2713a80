/**
 * Display helpers. Money arrives as integer minor units plus an ISO 4217 code. Every
 * helper writes in the dashboard's current language (lib/i18n.ts): callers re-render on
 * a change of language (useT), and the formatters are cached per locale.
 */
import { currentLanguage, moneyLocale, textLocale, translate } from './i18n.js';

const formatters = new Map<string, Intl.NumberFormat>();

/**
 * ISO 4217 minor-unit exponents that are not 2. Minor units are ISO's (COP has 2
 * decimals there), not CLDR's display digits (Intl shows COP, IDR, HUF… with 0), so
 * Intl's own `maximumFractionDigits` must not be used to scale amounts.
 */
const ISO_EXPONENTS: Record<string, number> = {
  BIF: 0, CLP: 0, DJF: 0, GNF: 0, ISK: 0, JPY: 0, KMF: 0, KRW: 0, PYG: 0, RWF: 0, UGX: 0, UYI: 0, VND: 0, VUV: 0, XAF: 0, XOF: 0, XPF: 0,
  BHD: 3, IQD: 3, JOD: 3, KWD: 3, LYD: 3, OMR: 3, TND: 3,
  CLF: 4, UYW: 4,
};

/** Decimals of a currency's minor unit (ISO 4217): MXN 2, COP 2, JPY 0, KWD 3. */
export function currencyDecimals(currency: string): number {
  return ISO_EXPONENTS[currency] ?? 2;
}

function currencyFormatter(currency: string, compact = false): Intl.NumberFormat {
  const locale = moneyLocale(currency);
  const key = `${locale}:${currency}:${compact ? 'c' : 'f'}`;
  let formatter = formatters.get(key);
  if (!formatter) {
    const decimals = currencyDecimals(currency);
    formatter = new Intl.NumberFormat(locale, {
      style: 'currency',
      currency,
      ...(compact ? { notation: 'compact', maximumFractionDigits: 1 } : { minimumFractionDigits: decimals, maximumFractionDigits: decimals }),
    });
    formatters.set(key, formatter);
  }
  return formatter;
}

/** 450000 MXN → "MX$4,500.00" (English), "$4,500.00" (Spanish, es-MX). Minor units are exact integers; the division is for display only. */
export function formatMoney(minor: number, currency: string, options: { compact?: boolean } = {}): string {
  return currencyFormatter(currency, options.compact).format(minor / 10 ** currencyDecimals(currency));
}

/**
 * An axis tick in currency units (not minor units): 22000000 → "COP 22M", 2200000 →
 * "MX$2.2M", 950 → "$950". Ticks are read at a glance; the tooltip and the tables carry
 * the exact figure.
 */
export function formatMoneyTick(units: number, currency: string): string {
  return currencyFormatter(currency, true).format(units);
}

/** Minor units as the plain decimal text an input shows ("1500.50"); parsed back by lib/amount.ts. */
export function minorToInput(minor: number, currency: string): string {
  const decimals = currencyDecimals(currency);
  if (decimals === 0) {
    return String(minor);
  }
  const text = String(minor).padStart(decimals + 1, '0');
  return `${text.slice(0, -decimals)}.${text.slice(-decimals)}`;
}

const integers = new Map<string, Intl.NumberFormat>();
/** 12345 → "12,345" (en-GB, es-MX both group with commas). */
export function formatCount(value: number): string {
  const locale = textLocale();
  let formatter = integers.get(locale);
  if (!formatter) {
    formatter = new Intl.NumberFormat(locale);
    integers.set(locale, formatter);
  }
  return formatter.format(value);
}

/** 1536 → "1.5 KB": the size of a saved file. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) {
    return `${bytes} B`;
  }
  const units = ['KB', 'MB', 'GB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit] ?? 'GB'}`;
}

export function formatPercent(ratio: number | null): string {
  return ratio === null ? '—' : `${(ratio * 100).toFixed(1)}%`;
}

// ----------------------------------------------------------------- times and zones
/**
 * Times are shown in a named zone, never silently in UTC or the browser's: a school's
 * own pages (school, student, invoice) use the school's IANA zone; views across
 * schools use the viewer's zone. Either way the text carries the zone's offset
 * ("3 Dec 2026, 12:45:46 GMT-6"), so a time read aloud or pasted elsewhere stays exact.
 */
export function viewerTimeZone(): string {
  return new Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
}

const timeFormatters = new Map<string, Intl.DateTimeFormat>();
function timeFormatter(kind: 'dateTime' | 'time' | 'hour' | 'zone' | 'day', timeZone: string): Intl.DateTimeFormat {
  const locale = textLocale();
  const key = `${locale}|${kind}|${timeZone}`;
  let formatter = timeFormatters.get(key);
  if (!formatter) {
    const options: Record<typeof kind, Intl.DateTimeFormatOptions> = {
      dateTime: { day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23', timeZoneName: 'short' },
      time: { hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' },
      hour: { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' },
      zone: { timeZoneName: 'short' },
      day: { day: '2-digit', month: 'short' },
    };
    formatter = new Intl.DateTimeFormat(locale, { ...options[kind], timeZone });
    timeFormatters.set(key, formatter);
  }
  return formatter;
}

/** "3 Dec 2026, 12:45:46 GMT-6": an instant in `timeZone` (the viewer's when not given), with its offset. */
export const formatDateTime = (iso: string, timeZone: string = viewerTimeZone()) => timeFormatter('dateTime', timeZone).format(new Date(iso));
/** "12:45:46" in `timeZone`: for lists whose heading names the zone (see zoneLabel). */
export const formatTime = (iso: string, timeZone: string = viewerTimeZone()) => timeFormatter('time', timeZone).format(new Date(iso));
/** "12:00" in `timeZone`: an hour bucket's start. */
export const formatHourMinute = (iso: string, timeZone: string) => timeFormatter('hour', timeZone).format(new Date(iso));
/** "03 Dec" in `timeZone`: a day bucket's start. */
export const formatDayMonth = (iso: string, timeZone: string) => timeFormatter('day', timeZone).format(new Date(iso));

/** The zone's short name or offset at `at`: "GMT-6", "UTC", "CET". */
export function zoneLabel(timeZone: string, at: Date = new Date()): string {
  const part = timeFormatter('zone', timeZone)
    .formatToParts(at)
    .find((candidate) => candidate.type === 'timeZoneName');
  return part?.value ?? timeZone;
}

/**
 * The Spanish names of zone cities that Spanish writes otherwise than the zone's id
 * (CLDR's exemplar cities): the schools' countries and their neighbours. Any other city
 * is written as its id writes it ("Chicago", "Lima").
 */
const SPANISH_CITIES: Record<string, string> = {
  Mexico_City: 'Ciudad de México',
  Cancun: 'Cancún',
  Merida: 'Mérida',
  Mazatlan: 'Mazatlán',
  Ciudad_Juarez: 'Ciudad Juárez',
  Bahia_Banderas: 'Bahía de Banderas',
  Bogota: 'Bogotá',
  New_York: 'Nueva York',
  Los_Angeles: 'Los Ángeles',
  Panama: 'Panamá',
  Havana: 'La Habana',
  Asuncion: 'Asunción',
  Sao_Paulo: 'São Paulo',
};

/** The city of an IANA zone as the reader's language writes it ("America/Mexico_City": "Mexico City", "Ciudad de México"). */
export function zoneCity(timeZone: string, language = currentLanguage()): string {
  const id = timeZone.split('/').pop() ?? timeZone;
  return (language === 'es' ? SPANISH_CITIES[id] : undefined) ?? id.replace(/_/g, ' ');
}

/** Whose clock: "your time zone", or the school's city ("Mexico City time", "hora de Ciudad de México"). */
export function zoneOwner(timeZone: string, whose: 'school' | 'viewer'): string {
  return whose === 'viewer' ? translate('zone.viewer') : translate('zone.school', { city: zoneCity(timeZone) });
}

/** How a heading names the zone its times are in: "Mexico City time (GMT-6)", "your time zone (UTC)". */
export function describeZone(timeZone: string, whose: 'school' | 'viewer'): string {
  return `${zoneOwner(timeZone, whose)} (${zoneLabel(timeZone)})`;
}

/** YYYY-MM-DD dates are calendar days: shown as given, never shifted by the browser's zone. */
export function formatDate(day: string): string {
  const [y, m, d] = day.split('-').map(Number);
  if (!y || !m || !d) {
    return day;
  }
  return new Intl.DateTimeFormat(textLocale(), { dateStyle: 'medium', timeZone: 'UTC' }).format(new Date(Date.UTC(y, m - 1, d)));
}

export const PAYMENT_METHODS = ['card', 'bank_transfer', 'cash', 'cash_voucher', 'direct_debit', 'wallet'];
/** A payment method the server names (`bank_transfer`) as a person reads it ("Bank transfer", "Transferencia"). */
export const methodLabel = (method: string) => translate(`method.${method}`, { defaultValue: method });

/** A server enum value under `group` (invoice statuses, message kinds…) in the current language; unknown values as they are. */
export const enumLabel = (group: string, value: string) => translate(`${group}.${value}`, { defaultValue: value });

