import { discountLines, type RuleForBilling } from '../discounts/apply.js';
import type { EarlyPaymentTerms, SchoolLanguage } from '../../db/types.js';
import type { InvoiceInput, LineInput } from '../ledger/ledger.js';

/**
 * From billable instalments to invoices with lines (SPEC §7), pure: the bill run's SQL
 * finds what is due and not billed yet, this decides what each invoice says.
 *
 * - One invoice per student, payer and due date; a student with two enrolments (two
 *   plans) due the same day gets one invoice per payer with the lines of both.
 * - Payers split every instalment by share, rounded down, the remainder to the first
 *   payer (position 0); no payers: one invoice without a payer.
 * - Discounts are decided on the whole instalment (a fixed discount is given once, not
 *   once per payer), then split by the same shares; a payer's share of a discount never
 *   exceeds what that payer is charged for the line (the excess moves to the other
 *   payers), so no invoice goes below zero.
 * - Early payment (pronto pago): each payer's line earns percent of what it charges
 *   after its other discounts, or the fixed amount split by shares (never more than that
 *   net); the invoice offers the sum, earned by the earliest due date + byDay of its lines.
 * - Exactly-once: every charge line carries its billing key
 *   `bill:<enrolmentId>:<itemCode>:<dueDate>:<payerGuardianId or ->`.
 */
export interface Instalment {
  enrolmentId: string;
  studentId: string;
  familyId: string | null;
  itemCode: string;
  itemDescription: string;
  itemPosition: number;
  dueDate: string;
  amount: number;
  /** Pronto pago terms of the item (or its plan); null: none. */
  early: EarlyPaymentTerms | null;
  /** Sibling number of the student in the family (1 = first); null without a family. */
  siblingNumber: number | null;
  /** Payers in position order; empty: nobody in particular (one invoice). */
  payers: { guardianId: string; sharePpm: number }[];
}

/** Sums of one item's lines (charge and discount lines counted in `lines`): charges > 0, discounts ≤ 0, amount = charges + discounts. */
export interface ItemTotal {
  itemCode: string;
  currency: string;
  lines: number;
  charges: number;
  discounts: number;
  amount: number;
}

export type DraftInvoice = InvoiceInput & { lines: LineInput[] };

export const billingKey = (enrolmentId: string, itemCode: string, dueDate: string, payerGuardianId: string | null) =>
  `bill:${enrolmentId}:${itemCode}:${dueDate}:${payerGuardianId ?? '-'}`;

const MONTHS: Record<SchoolLanguage, readonly string[]> = {
  en: ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'],
  es: ['ene', 'feb', 'mar', 'abr', 'may', 'jun', 'jul', 'ago', 'sep', 'oct', 'nov', 'dic'],
};

/** "Sep 2026" (en) or "sep 2026" (es) for '2026-09-10': the school's language (migration 0041). */
export function monthOf(date: string, language: SchoolLanguage): string {
  return `${MONTHS[language]?.[Number(date.slice(5, 7)) - 1] ?? ''} ${date.slice(0, 4)}`;
}

/** "Tuition · Sep 2026", "Colegiatura, Transporte · sep 2026" (at most 500 characters). */
export function invoiceDescription(itemDescriptions: readonly string[], dueDate: string, language: SchoolLanguage): string {
  const suffix = ` · ${monthOf(dueDate, language)}`;
  const items = [...new Set(itemDescriptions)].join(', ');
  return items.length + suffix.length <= 500 ? `${items}${suffix}` : `${items.slice(0, 499 - suffix.length)}…${suffix}`;
}

/**
 * `amount` split by parts per million, rounded down, the remainder to the first part.
 * Shares are normalised by their sum, so parts that do not sum to 1 000 000 still split
 * the whole amount and none is negative.
 */
export function splitByShares(amount: number, sharesPpm: readonly number[]): number[] {
  if (sharesPpm.length <= 1) {
    return [amount];
  }
  const whole = BigInt(sharesPpm.reduce((sum, s) => sum + s, 0));
  const parts = sharesPpm.map((share, i) => (i === 0 || whole === 0n ? 0 : Number((BigInt(amount) * BigInt(share)) / whole)));
  parts[0] = amount - parts.reduce((sum, p) => sum + p, 0);
  return parts;
}

/**
 * A discount of `discount` (> 0) split by shares, each payer's part bounded by its
 * `room` (what it is charged for the line minus the discounts already given it); what
 * a bound cuts off goes to the payers with room left, in position order. Returns the
 * parts (≥ 0); their sum is min(discount, Σ room).
 */
export function splitDiscount(discount: number, sharesPpm: readonly number[], room: readonly number[]): number[] {
  const parts = splitByShares(discount, sharesPpm).map((part, i) => Math.min(part, room[i] ?? 0));
  let excess = discount - parts.reduce((sum, p) => sum + p, 0);
  for (let i = 0; i < parts.length && excess > 0; i++) {
    const more = Math.min(excess, (room[i] ?? 0) - (parts[i] ?? 0));
    if (more > 0) {
      parts[i] = (parts[i] ?? 0) + more;
      excess -= more;
    }
  }
  return parts;
}

/** '2026-09-05' + n days. */
function addDays(day: string, days: number): string {
  const date = new Date(`${day}T00:00:00Z`);
  date.setUTCDate(date.getUTCDate() + days);
  return date.toISOString().slice(0, 10);
}

/**
 * Each payer's early-payment discount of one instalment: percent of what the payer's line
 * charges after its other discounts (rounded half up, in minor units), or the fixed
 * amount split by shares and bounded by those nets.
 */
export function earlyDiscountParts(terms: EarlyPaymentTerms, charges: readonly number[], discountParts: readonly (readonly number[])[], shares: readonly number[]): number[] {
  const nets = charges.map((charge, i) => Math.max(0, charge - discountParts.reduce((sum, parts) => sum + (parts[i] ?? 0), 0)));
  if (terms.basis === 'percent') {
    const hundredths = Math.round(terms.value * 100);
    return nets.map((net) => Number((BigInt(net) * BigInt(hundredths) + 5_000n) / 10_000n));
  }
  return charges.length === 1 ? [Math.min(terms.value, nets[0] ?? 0)] : splitDiscount(terms.value, shares, nets);
}

export interface AssembleContext {
  schoolId: string;
  billRunId: string | null;
  currency: string;
  language: SchoolLanguage;
  /** The student's awards and the school's sibling rules, as discount rules. */
  rulesFor(studentId: string): readonly RuleForBilling[];
}

export interface Assembled {
  /** The invoices, in the order their first instalment came; at most `keep` of them (see assembleInvoices). */
  invoices: DraftInvoice[];
  /** Every invoice, kept or only counted. */
  invoiceCount: number;
  lineCount: number;
}

const NO_PAYER = [{ guardianId: null, sharePpm: 1_000_000 }] as const;

/**
 * The invoices of a batch of instalments (ordered by student, due date and item), and
 * each item's totals added into `totals`. With `keep`, only the first `keep` invoices
 * are built in full and the rest are only counted (a dry run's preview: counts and
 * totals of every invoice, lines of the first few, memory for those few). Plain loops
 * and a path without payers or discounts: this runs once per instalment of a school.
 */
export function assembleInvoices(
  instalments: readonly Instalment[],
  ctx: AssembleContext,
  totals: Map<string, ItemTotal>,
  options: { keep?: number } = {},
): Assembled {
  const keep = options.keep ?? Number.POSITIVE_INFINITY;
  const built = new Map<string, DraftInvoice & { itemDescriptions: string[] }>();
  const counted = new Set<string>();
  let lineCount = 0;
  for (const inst of instalments) {
    let total = totals.get(inst.itemCode);
    if (total === undefined) {
      total = { itemCode: inst.itemCode, currency: ctx.currency, lines: 0, charges: 0, discounts: 0, amount: 0 };
      totals.set(inst.itemCode, total);
    }
    const payers = inst.payers.length > 0 ? inst.payers : NO_PAYER;
    const shares = payers.length > 1 ? payers.map((p) => p.sharePpm) : [1_000_000];
    const charges = payers.length > 1 ? splitByShares(inst.amount, shares) : [inst.amount];
    const rules = ctx.rulesFor(inst.studentId);
    const discounts =
      rules.length === 0 ? [] : discountLines({ itemCode: inst.itemCode, amount: inst.amount, dueDate: inst.dueDate, siblingNumber: inst.siblingNumber, rules });
    let discountParts: number[][] = [];
    if (discounts.length > 0) {
      if (payers.length === 1) {
        discountParts = discounts.map((line) => [-line.amount]);
      } else {
        const room = [...charges];
        discountParts = discounts.map((line) => {
          const parts = splitDiscount(-line.amount, shares, room);
          for (let i = 0; i < parts.length; i++) {
            room[i] = (room[i] ?? 0) - (parts[i] ?? 0);
          }
          return parts;
        });
      }
    }
    const earlyParts = inst.early === null ? null : earlyDiscountParts(inst.early, charges, discountParts, shares);
    for (let i = 0; i < payers.length; i++) {
      const charge = charges[i] ?? 0;
      if (charge <= 0) {
        continue;
      }
      const payerGuardianId = payers[i]?.guardianId ?? null;
      const key = `${inst.studentId}|${payerGuardianId ?? '-'}|${inst.dueDate}`;
      let invoice = built.get(key);
      if (invoice === undefined && !counted.has(key)) {
        if (built.size < keep) {
          invoice = {
            schoolId: ctx.schoolId,
            studentId: inst.studentId,
            familyId: inst.familyId,
            payerGuardianId,
            billRunId: ctx.billRunId,
            description: null,
            dueDate: inst.dueDate,
            lines: [],
            itemDescriptions: [],
          };
          built.set(key, invoice);
        } else {
          counted.add(key);
        }
      }
      invoice?.itemDescriptions.push(inst.itemDescription);
      invoice?.lines.push({
        kind: 'charge',
        code: inst.itemCode,
        description: inst.itemDescription,
        amount: charge,
        enrolmentId: inst.enrolmentId,
        itemCode: inst.itemCode,
        dueDate: inst.dueDate,
        billingKey: billingKey(inst.enrolmentId, inst.itemCode, inst.dueDate, payerGuardianId),
      });
      lineCount += 1;
      total.lines += 1;
      total.charges += charge;
      total.amount += charge;
      for (let k = 0; k < discounts.length; k++) {
        const part = discountParts[k]?.[i] ?? 0;
        const line = discounts[k];
        if (part <= 0 || line === undefined) {
          continue;
        }
        invoice?.lines.push({
          kind: 'discount',
          code: line.code,
          description: line.description,
          amount: -part,
          enrolmentId: inst.enrolmentId,
          itemCode: inst.itemCode,
          dueDate: inst.dueDate,
          ruleId: line.ruleId,
          awardId: line.awardId,
        });
        lineCount += 1;
        total.lines += 1;
        total.discounts -= part;
        total.amount -= part;
      }
      if (invoice !== undefined && earlyParts !== null) {
        const part = earlyParts[i] ?? 0;
        if (part > 0) {
          const by = addDays(inst.dueDate, inst.early?.byDay ?? 0);
          invoice.early = { discount: (invoice.early?.discount ?? 0) + part, by: invoice.early && invoice.early.by < by ? invoice.early.by : by };
        }
      }
    }
  }
  const invoices: DraftInvoice[] = [];
  for (const { itemDescriptions, ...invoice } of built.values()) {
    invoices.push({ ...invoice, description: invoiceDescription(itemDescriptions, invoice.dueDate, ctx.language) });
  }
  return { invoices, invoiceCount: built.size + counted.size, lineCount };
}

/** Totals as answered: one row per item, by item code. */
export function totalsList(totals: Map<string, ItemTotal>): ItemTotal[] {
  return [...totals.values()].sort((a, b) => a.itemCode.localeCompare(b.itemCode));
}

/** Adds `from` into `into` (totals of several batches). */
export function addTotals(into: Map<string, ItemTotal>, from: readonly ItemTotal[]): void {
  for (const t of from) {
    const current = into.get(t.itemCode);
    if (current === undefined) {
      into.set(t.itemCode, { ...t });
    } else {
      current.lines += t.lines;
      current.charges += t.charges;
      current.discounts += t.discounts;
      current.amount += t.amount;
    }
  }
}
