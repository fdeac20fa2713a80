import type { PaymentMethod } from '../../db/types.js';

/**
 * The chart-of-accounts mapping of a school (SPEC §9 "Accounting"): the account code of
 * each side of Bursar's journal. A fee plan item's `accountCode` overrides `income` for
 * the charges it bills; `cashByMethod` overrides `cash` for the payments (and refunds)
 * of a method, e.g. card takings cleared through the gateway's account.
 */
export interface Accounts {
  /** Accounts receivable: what families owe. */
  receivable: string;
  /** Where money comes in and refunds go out. */
  cash: string;
  cashByMethod: Partial<Record<PaymentMethod, string>>;
  /** Fees billed (a plan item's accountCode wins). */
  income: string;
  /** Sibling, scholarship, staff and early-payment discounts (contra-revenue). */
  discounts: string;
  /** Late fees charged (and waived). */
  lateFees: string;
  /** Credit notes: fee corrections (contra-revenue). */
  creditNotes: string;
  /** Write-offs: bad debt. */
  writeOffs: string;
  /** Family credit: money received and not yet applied to an invoice (a liability). */
  familyCredit: string;
}

export const DEFAULT_ACCOUNTS: Accounts = {
  receivable: '1200',
  cash: '1000',
  cashByMethod: {},
  income: '4000',
  discounts: '4900',
  lateFees: '4100',
  creditNotes: '4950',
  writeOffs: '6100',
  familyCredit: '2100',
};

/** The side of an entry a journal row posts to (accounting.repository.ts), before the school's mapping names it. */
export type AccountRole = 'receivable' | 'cash' | 'income' | 'discounts' | 'late_fees' | 'credit_notes' | 'write_offs' | 'family_credit';

/** The account code of a journal row: its role through the mapping, `detail` being a cash row's method or a charge's item account. */
export function accountOf(accounts: Accounts, role: AccountRole, detail: string | null): string {
  switch (role) {
    case 'receivable':
      return accounts.receivable;
    case 'cash':
      return (detail !== null ? accounts.cashByMethod[detail as PaymentMethod] : undefined) ?? accounts.cash;
    case 'income':
      return detail ?? accounts.income;
    case 'discounts':
      return accounts.discounts;
    case 'late_fees':
      return accounts.lateFees;
    case 'credit_notes':
      return accounts.creditNotes;
    case 'write_offs':
      return accounts.writeOffs;
    case 'family_credit':
      return accounts.familyCredit;
  }
}
