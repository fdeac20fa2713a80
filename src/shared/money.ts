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

/** Digits after the decimal point of `currency`'s minor unit (ISO 4217): MXN 2, COP 2, JPY 0, KWD 3. */
export function currencyDigits(currency: string): number {
  return ISO_EXPONENTS[currency] ?? 2;
}
