import type { DiscountKind } from '../../db/types.js';

/**
 * A discount rule as a bill run applies it to one instalment line: a sibling rule of the
 * school (awardId null; it applies by itself through the family), or the rule of one of
 * the student's active awards (awardId set). `value` is as stored: basis points for
 * `percent` (10000 = 100 %), minor units for `fixed`. Dates are 'YYYY-MM-DD'.
 */
export interface RuleForBilling {
  id: string;
  awardId: string | null;
  name: string;
  kind: DiscountKind;
  basis: 'percent' | 'fixed';
  value: number;
  /** The item codes the rule applies to; null = every item. */
  itemCodes: readonly string[] | null;
  /** Sibling rules: the first sibling number (2 = the second child) it applies to. */
  fromSiblingNumber: number | null;
  /** The most the rule takes off one instalment line, in minor units; null = no cap. */
  cap: number | null;
  stacking: 'stack' | 'best_only';
  validFrom: string | null;
  validTo: string | null;
}

export interface DiscountLineInput {
  itemCode: string;
  /** The charge of the instalment line, minor units (> 0). */
  amount: number;
  dueDate: string;
  /** The student's place among its family's enrolled siblings (1 = first), or null without a family. */
  siblingNumber: number | null;
  rules: readonly RuleForBilling[];
}

export interface DiscountLine {
  ruleId: string;
  awardId: string | null;
  code: string;
  description: string;
  /** Negative minor units. */
  amount: number;
}

/** The default first sibling number of a sibling rule (the second child). */
export const DEFAULT_FROM_SIBLING_NUMBER = 2;

/** Whether a rule applies to this instalment at all (dates, item filter, sibling number). */
export function ruleApplies(rule: RuleForBilling, line: Pick<DiscountLineInput, 'itemCode' | 'dueDate' | 'siblingNumber'>): boolean {
  if (rule.validFrom !== null && line.dueDate < rule.validFrom) {
    return false;
  }
  if (rule.validTo !== null && line.dueDate > rule.validTo) {
    return false;
  }
  if (rule.itemCodes !== null && !rule.itemCodes.includes(line.itemCode)) {
    return false;
  }
  if (rule.kind === 'sibling') {
    return line.siblingNumber !== null && line.siblingNumber >= (rule.fromSiblingNumber ?? DEFAULT_FROM_SIBLING_NUMBER);
  }
  return true;
}

/**
 * What one rule takes off an instalment of `amount`, before stacking: a percent of the
 * amount rounded half-up to minor units (in BigInt: amount × basis points overflows a
 * double above ~9 × 10^11), or the fixed value; then at most `cap`, and never more than
 * the amount itself. Always ≥ 0.
 */
export function ruleDiscount(rule: RuleForBilling, amount: number): number {
  if (!Number.isSafeInteger(amount) || !Number.isSafeInteger(rule.value) || amount <= 0 || rule.value <= 0) {
    return 0;
  }
  let off = rule.basis === 'percent' ? Number((BigInt(amount) * BigInt(rule.value) + 5_000n) / 10_000n) : rule.value;
  if (rule.cap !== null) {
    off = Math.min(off, rule.cap);
  }
  return Math.max(0, Math.min(off, amount));
}

/** A deterministic order for rules (the input order must not matter). */
const byRuleKey = (a: { ruleId: string; awardId: string | null }, b: { ruleId: string; awardId: string | null }) =>
  a.ruleId < b.ruleId ? -1 : a.ruleId > b.ruleId ? 1 : (a.awardId ?? '') < (b.awardId ?? '') ? -1 : (a.awardId ?? '') > (b.awardId ?? '') ? 1 : 0;

/**
 * The discount lines of one instalment line (SPEC §7 "Discounts and aid"). Pure: bill
 * runs call it for every charge line they write (and for their dry-run preview).
 *
 * 1. A rule counts if it is valid on the due date (validFrom ≤ dueDate ≤ validTo, each
 *    optional), its itemCodes include the item (null = all items), and — for a sibling
 *    rule — siblingNumber ≥ fromSiblingNumber (default 2).
 * 2. Each counting rule's discount: percent of the amount rounded half-up to minor
 *    units, or the fixed value; at most its cap; at most the amount (ruleDiscount).
 * 3. Stacking: every `stack` rule applies (sum S). Among the `best_only` rules only the
 *    largest applies (B; ties go to the smallest rule id), and then only if it is larger
 *    than S — it REPLACES the stacked rules, it is never added to them. When B ≤ S the
 *    stacked rules apply and no best_only rule does. So the total is min(amount,
 *    max(S, B)): adding a rule never lowers it (what the family pays never rises).
 * 4. Never below zero: the total is at most the amount. When the stacked rules add up
 *    to more than the amount, they are taken largest first (ties by rule id) until the
 *    amount is used up; the last one taken is cut to what is left.
 *
 * The result does not depend on the order of `rules`: rules are sorted by (rule id,
 * award id) before anything else. Lines of 0 are left out (a discount line is < 0).
 * Line `code` is the rule's kind (`sibling`, `scholarship`, …), `description` its name.
 */
export function discountLines(input: DiscountLineInput): DiscountLine[] {
  const { amount } = input;
  if (!Number.isSafeInteger(amount) || amount <= 0) {
    return [];
  }
  const candidates = input.rules
    .filter((rule) => ruleApplies(rule, input))
    .map((rule) => ({ rule, ruleId: rule.id, awardId: rule.awardId, off: ruleDiscount(rule, amount) }))
    .filter((c) => c.off > 0)
    .sort(byRuleKey);

  const stacked = candidates.filter((c) => c.rule.stacking === 'stack');
  const stackedSum = stacked.reduce((sum, c) => sum + c.off, 0);
  let best: (typeof candidates)[number] | undefined;
  for (const c of candidates) {
    if (c.rule.stacking === 'best_only' && (best === undefined || c.off > best.off)) {
      best = c;
    }
  }

  const chosen = best !== undefined && best.off > stackedSum ? [best] : stacked;
  // Largest first so that, when the amount runs out, the biggest discounts are kept whole.
  const ordered = [...chosen].sort((a, b) => b.off - a.off || byRuleKey(a, b));
  const lines: DiscountLine[] = [];
  let left = amount;
  for (const c of ordered) {
    const take = Math.min(c.off, left);
    if (take <= 0) {
      break;
    }
    left -= take;
    lines.push({ ruleId: c.ruleId, awardId: c.awardId, code: c.rule.kind, description: c.rule.name, amount: -take });
  }
  return lines;
}
