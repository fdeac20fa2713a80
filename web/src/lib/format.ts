/** Display helpers. Money arrives as integer minor units plus an ISO 4217 code. */

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
  const key = `${currency}:${compact ? 'c' : 'f'}`;
  let formatter = formatters.get(key);
  if (!formatter) {
    const decimals = currencyDecimals(currency);
    formatter = new Intl.NumberFormat('en-US', {
      style: 'currency',
      currency,
      ...(compact ? { notation: 'compact', maximumFractionDigits: 1 } : { minimumFractionDigits: decimals, maximumFractionDigits: decimals }),
    });
    formatters.set(key, formatter);
  }
  return formatter;
}

/** 450000 MXN → "MX$4,500.00". Minor units are exact integers; the division is for display only. */
export function formatMoney(minor: number, currency: string, options: { compact?: boolean } = {}): string {
  return currencyFormatter(currency, options.compact).format(minor / 10 ** currencyDecimals(currency));
}

/**
 * "1,500.5" → 150050 for a two-decimal currency, without floating point: the text is
 * split at the decimal point. Null when it is not a positive amount with at most the
 * currency's decimals.
 */
export function parseMoney(text: string, currency: string): number | null {
  const decimals = currencyDecimals(currency);
  const clean = text.trim().replace(/,/g, '');
  const match = /^(\d+)(?:\.(\d*))?$/.exec(clean);
  if (!match) {
    return null;
  }
  const fraction = match[2] ?? '';
  if (fraction.length > decimals) {
    return null;
  }
  const minor = Number(match[1]) * 10 ** decimals + Number(fraction.padEnd(decimals, '0') || '0');
  return Number.isSafeInteger(minor) && minor > 0 ? minor : null;
}

/** Minor units as the plain decimal text an input shows ("1500.50"). */
export function minorToInput(minor: number, currency: string): string {
  const decimals = currencyDecimals(currency);
  if (decimals === 0) {
    return String(minor);
  }
  const text = String(minor).padStart(decimals + 1, '0');
  return `${text.slice(0, -decimals)}.${text.slice(-decimals)}`;
}

const integer = new Intl.NumberFormat('en-US');
export const formatCount = (value: number) => integer.format(value);

export function formatPercent(ratio: number | null): string {
  return ratio === null ? '—' : `${(ratio * 100).toFixed(1)}%`;
}

const dateTime = new Intl.DateTimeFormat('en-GB', { dateStyle: 'medium', timeStyle: 'medium' });
const timeOnly = new Intl.DateTimeFormat('en-GB', { timeStyle: 'medium' });
export const formatDateTime = (iso: string) => dateTime.format(new Date(iso));
export const formatTime = (iso: string) => timeOnly.format(new Date(iso));

/** YYYY-MM-DD dates are calendar days: shown as given, never shifted by the browser's zone. */
export function formatDate(day: string): string {
  const [y, m, d] = day.split('-').map(Number);
  if (!y || !m || !d) {
    return day;
  }
  return new Intl.DateTimeFormat('en-GB', { dateStyle: 'medium', timeZone: 'UTC' }).format(new Date(Date.UTC(y, m - 1, d)));
}

export const METHOD_LABELS: Record<string, string> = {
  card: 'Card',
  bank_transfer: 'Bank transfer',
  cash: 'Cash',
  cash_voucher: 'Cash voucher',
  direct_debit: 'Direct debit',
  wallet: 'Wallet',
};
export const PAYMENT_METHODS = Object.keys(METHOD_LABELS);
export const methodLabel = (method: string) => METHOD_LABELS[method] ?? method;
