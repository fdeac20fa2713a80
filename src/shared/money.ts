/**
 * ISO 4217 minor-unit exponents that are not 2. Money is stored in ISO's minor units
 * (COP has 2 decimals there), not CLDR's display digits (Intl shows COP, HUF, IDR with
 * 0), so Intl's own `maximumFractionDigits` must never scale amounts. The dashboard has
 * the same table (web/src/lib/format.ts; the web bundle does not import server code).
 */
const ISO_EXPONENTS: Readonly<Record<string, number>> = {
  BIF: 0, CLP: 0, DJF: 0, GNF: 0, ISK: 0, JPY: 0, KMF: 0, KRW: 0, PYG: 0, RWF: 0, UGX: 0, UYI: 0, VND: 0, VUV: 0, XAF: 0, XOF: 0, XPF: 0,
  BHD: 3, IQD: 3, JOD: 3, KWD: 3, LYD: 3, OMR: 3, TND: 3,
  CLF: 4, UYW: 4,
};

/** The digits every currency not in ISO_EXPONENTS has (MXN, COP, USD, EUR…). */
export const DEFAULT_CURRENCY_DIGITS = 2;

/** Digits after the decimal point of `currency`'s minor unit (ISO 4217): MXN 2, COP 2, JPY 0, KWD 3. */
export function currencyDigits(currency: string): number {
  return ISO_EXPONENTS[currency] ?? DEFAULT_CURRENCY_DIGITS;
}

/** The currencies whose digits are not DEFAULT_CURRENCY_DIGITS, with theirs (for SQL that converts per currency). */
export function currenciesWithOtherDigits(): readonly (readonly [currency: string, digits: number])[] {
  return Object.entries(ISO_EXPONENTS);
}

/**
 * Minor units as a plain decimal number with the currency's digits, exactly (integer
 * arithmetic on the digits, no float division): 450000 MXN → "4500.00", -1250 USD →
 * "-12.50", 5000 JPY → "5000", 1234 KWD → "1.234". No thousands separators, a dot as
 * the decimal mark: what every spreadsheet locale reads as a number in a CSV cell.
 */
export function minorToDecimal(minor: number | bigint, currency: string): string {
  if (typeof minor === 'number' && !Number.isSafeInteger(minor)) {
    throw new RangeError(`not an integer amount of minor units: ${minor}`);
  }
  const digits = currencyDigits(currency);
  const negative = minor < 0;
  const magnitude = (negative ? -BigInt(minor) : BigInt(minor)).toString();
  if (digits === 0) {
    return `${negative ? '-' : ''}${magnitude}`;
  }
  const padded = magnitude.padStart(digits + 1, '0');
  return `${negative ? '-' : ''}${padded.slice(0, -digits)}.${padded.slice(-digits)}`;
}

/** Minor units as a number of currency units for a spreadsheet cell (450000 MXN → 4500). */
export function minorToUnits(minor: number | bigint, currency: string): number {
  return Number(minorToDecimal(minor, currency));
}

/**
 * An amount for a person to read: the ISO code, thousands separators and every minor
 * digit, exactly — 450000 MXN → "MXN 4,500.00", 99999999999 COP → "COP 999,999,999.99",
 * 5000 JPY → "JPY 5,000", -1250 USD → "USD -12.50". The code (not a symbol) keeps "$"
 * unambiguous between MXN, COP and USD.
 */
export function formatMoney(minor: number | bigint, currency: string): string {
  const plain = minorToDecimal(minor, currency);
  const negative = plain.startsWith('-');
  const [whole = '', fraction] = (negative ? plain.slice(1) : plain).split('.');
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${currency} ${negative ? '-' : ''}${grouped}${fraction === undefined ? '' : `.${fraction}`}`;
}

/**
 * The spreadsheet number format (Excel/OOXML numFmt) of an amount in `currency`:
 * thousands separators, the currency's digits, and its code after the number, e.g.
 * `#,##0.00 "MXN"` (JPY `#,##0 "JPY"`). The separators shown are the reader's own
 * locale's; the cell holds the number.
 */
export function spreadsheetMoneyFormat(currency: string): string {
  const digits = currencyDigits(currency);
  const code = currency.replace(/[^A-Z]/g, '');
  const number = digits === 0 ? '#,##0' : `#,##0.${'0'.repeat(digits)}`;
  return `${number} "${code}";-${number} "${code}"`;
}
