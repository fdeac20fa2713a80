/**
 * Matching a bank line to what a family owes (SPEC §9 "Bank reconciliation"). Pure: the
 * caller looks up the references and invoice numbers a statement names (one query each)
 * and the open amounts that belong to exactly one invoice, then asks `decide` per line.
 *
 * The rules, first that applies:
 *  1. Money paid out (amount ≤ 0): ignored.
 *  2. The text names one open invoice (INV-000123) and the amount is what it still owes:
 *     matched to it. An open invoice named with another amount, or several named: suggested.
 *  3. The text names a family reference with a right check digit (ESC-000123-4), and the
 *     amount is no more than the family owes: matched to the family (a family payment,
 *     allocated oldest due first). More than it owes (it would become credit): suggested.
 *  4. A reference with a wrong check digit whose number is a family's: suggested (a typo
 *     is likely, a person confirms — the check digit exists to stop a silent wrong match).
 *  5. The amount is what exactly one open invoice of the school owes: suggested.
 *  6. Otherwise: unmatched.
 */
import { parseReference } from '../families/reference.js';

export type MatchReason =
  | 'outgoing'
  | 'invoice'
  | 'invoice_amount'
  | 'invoices'
  | 'reference'
  | 'reference_amount'
  | 'check_digit'
  | 'amount'
  | 'none';

export interface Decision {
  status: 'matched' | 'suggested' | 'unmatched' | 'ignored';
  reason: MatchReason;
  invoiceId: string | null;
  familyId: string | null;
}

/** What a statement line's text names. */
export interface Named {
  /** Canonical references with a right check digit. */
  references: string[];
  /** References with a wrong check digit, as PREFIX-NNNNNN (the digits that identify a family). */
  mistyped: string[];
  /** Invoice numbers, canonical (INV-000123). */
  invoices: string[];
}

export interface OpenInvoice {
  id: string;
  number: string;
  pending: number;
  familyId: string | null;
}

export interface OpenFamily {
  id: string;
  reference: string;
  /** What the family's open invoices still owe. */
  open: number;
}

export interface Candidates {
  /** Open (not cancelled, something pending) invoices of the school by number. */
  invoicesByNumber: ReadonlyMap<string, OpenInvoice>;
  /** The school's families by reference. */
  familiesByReference: ReadonlyMap<string, OpenFamily>;
  /** The school's families by PREFIX-NNNNNN (for mistyped check digits). */
  familiesByStem: ReadonlyMap<string, OpenFamily>;
  /** Open amounts owed by exactly one invoice of the school → that invoice. */
  invoiceByUniqueAmount: ReadonlyMap<number, OpenInvoice>;
}

// Letters or digits (2–6), six digits, a check digit; separators a dash, a space or nothing.
const REFERENCE = /\b([A-Z0-9]{2,6})[- ]?(\d{6})[- ]?(\d)\b/gi;
// INV-000123, INV 000123, INV000123 (at least six digits, as the ledger numbers them).
const INVOICE = /\bINV[- ]?(\d{6,})\b/gi;

/** The references and invoice numbers a remittance text names, each once, in order. */
export function namedIn(text: string): Named {
  const references = new Set<string>();
  const mistyped = new Set<string>();
  const invoices = new Set<string>();
  for (const match of text.matchAll(INVOICE)) {
    invoices.add(`INV-${match[1]}`);
  }
  for (const match of text.matchAll(REFERENCE)) {
    const [, prefix = '', digits = '', check = ''] = match;
    if (prefix.toUpperCase() === 'INV') {
      continue;
    }
    const parsed = parseReference(`${prefix}-${digits}-${check}`);
    if (parsed.ok) {
      references.add(parsed.reference);
    } else if (parsed.reason === 'checkDigit') {
      mistyped.add(`${prefix.toUpperCase()}-${digits}`);
    }
  }
  return { references: [...references], mistyped: [...mistyped], invoices: [...invoices] };
}

/** PREFIX-NNNNNN of a canonical reference (what a mistyped one is looked up by). */
export function stemOf(reference: string): string {
  return reference.slice(0, reference.lastIndexOf('-'));
}

const decision = (status: Decision['status'], reason: MatchReason, target: { invoiceId?: string | null; familyId?: string | null } = {}): Decision => ({
  status,
  reason,
  invoiceId: target.invoiceId ?? null,
  familyId: target.familyId ?? null,
});

export function decide(line: { amount: number; named: Named }, candidates: Candidates): Decision {
  if (line.amount <= 0) {
    return decision('ignored', 'outgoing');
  }
  const invoices = line.named.invoices.map((number) => candidates.invoicesByNumber.get(number)).filter((found) => found !== undefined);
  if (invoices.length === 1) {
    const [invoice] = invoices as [OpenInvoice];
    return decision(invoice.pending === line.amount ? 'matched' : 'suggested', invoice.pending === line.amount ? 'invoice' : 'invoice_amount', {
      invoiceId: invoice.id,
      familyId: invoice.familyId,
    });
  }
  if (invoices.length > 1) {
    const families = new Set(invoices.map((invoice) => invoice.familyId));
    const [familyId] = families;
    return families.size === 1 && familyId !== null && familyId !== undefined
      ? decision('suggested', 'invoices', { familyId })
      : decision('suggested', 'invoices', { invoiceId: invoices[0]?.id ?? null });
  }
  const families = line.named.references.map((reference) => candidates.familiesByReference.get(reference)).filter((found) => found !== undefined);
  if (families.length > 0) {
    const [family] = families as [OpenFamily];
    const fits = families.length === 1 && family.open > 0 && line.amount <= family.open;
    return decision(fits ? 'matched' : 'suggested', fits ? 'reference' : 'reference_amount', { familyId: family.id });
  }
  const typo = line.named.mistyped.map((stem) => candidates.familiesByStem.get(stem)).find((found) => found !== undefined);
  if (typo !== undefined) {
    return decision('suggested', 'check_digit', { familyId: typo.id });
  }
  const byAmount = candidates.invoiceByUniqueAmount.get(line.amount);
  if (byAmount !== undefined) {
    return decision('suggested', 'amount', { invoiceId: byAmount.id, familyId: byAmount.familyId });
  }
  return decision('unmatched', 'none');
}
