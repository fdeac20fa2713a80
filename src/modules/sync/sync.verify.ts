import { sql } from 'kysely';
import type { Db } from '../../db/database.js';

/**
 * Proves ledger_accounts (maintained incrementally, page by page) equal a full
 * recomputation from ledger_entries: per account earned, spent, payout, paid_out and
 * the entry count. `npm run verify` and the tests call it.
 */
export interface LedgerVerifyReport {
  ok: boolean;
  accounts: number;
  entries: number;
  /** Accounts whose stored sums differ from the recomputation (at most 20 listed). */
  mismatches: { accountId: string; stored: Sums | null; recomputed: Sums | null }[];
  mismatchCount: number;
}

interface Sums {
  earned: number;
  spent: number;
  payout: number;
  paidOut: number;
  entries: number;
}

export async function verifyLedgerBalances(db: Db): Promise<LedgerVerifyReport> {
  const { rows } = await sql<{
    account_id: string;
    s_earned: number | null;
    s_spent: number | null;
    s_payout: number | null;
    s_paid_out: number | null;
    s_entries: number | null;
    r_earned: number | null;
    r_spent: number | null;
    r_payout: number | null;
    r_paid_out: number | null;
    r_entries: number | null;
    total: number;
    entries_total: number;
  }>`
    with recomputed as (
      select account_id,
             coalesce(sum(amount) filter (where type = 'earned'), 0) as earned,
             coalesce(sum(amount) filter (where type = 'spent'), 0) as spent,
             coalesce(sum(amount) filter (where type = 'payout'), 0) as payout,
             coalesce(sum(amount) filter (where type = 'paid_out'), 0) as paid_out,
             count(*) as entries
        from ledger_entries
       group by account_id
    ), compared as (
      select coalesce(s.account_id, r.account_id) as account_id,
             s.earned as s_earned, s.spent as s_spent, s.payout as s_payout, s.paid_out as s_paid_out, s.entries as s_entries,
             r.earned as r_earned, r.spent as r_spent, r.payout as r_payout, r.paid_out as r_paid_out, r.entries as r_entries
        from ledger_accounts s
        full join recomputed r on r.account_id = s.account_id
    )
    select c.*, count(*) over () as total, (select count(*) from ledger_entries) as entries_total
      from compared c
     where (s_earned, s_spent, s_payout, s_paid_out, s_entries) is distinct from (r_earned, r_spent, r_payout, r_paid_out, r_entries)
        -- an account row with all-zero sums and no entries cannot exist, but say so if it does
     order by account_id
     limit 20`.execute(db);
  const counts = await sql<{ accounts: number; entries: number }>`
    select (select count(*) from ledger_accounts)::bigint as accounts, (select count(*) from ledger_entries)::bigint as entries`.execute(db);
  const sums = (e: number | null, s: number | null, p: number | null, po: number | null, n: number | null): Sums | null =>
    e === null ? null : { earned: e, spent: s ?? 0, payout: p ?? 0, paidOut: po ?? 0, entries: n ?? 0 };
  return {
    ok: rows.length === 0,
    accounts: counts.rows[0]?.accounts ?? 0,
    entries: counts.rows[0]?.entries ?? 0,
    mismatchCount: rows[0]?.total ?? 0,
    mismatches: rows.map((row) => ({
      accountId: row.account_id,
      stored: sums(row.s_earned, row.s_spent, row.s_payout, row.s_paid_out, row.s_entries),
      recomputed: sums(row.r_earned, row.r_spent, row.r_payout, row.r_paid_out, row.r_entries),
    })),
  };
}

export function formatLedgerReport(report: LedgerVerifyReport): string {
  if (report.ok) {
    return `ledger balances: ${report.accounts} accounts over ${report.entries} entries equal a full recomputation`;
  }
  const lines = report.mismatches.map((m) => `  ${m.accountId}: stored ${JSON.stringify(m.stored)} ≠ recomputed ${JSON.stringify(m.recomputed)}`);
  return [`ledger balances: ${report.mismatchCount} of ${report.accounts} accounts differ from a full recomputation`, ...lines].join('\n');
}
