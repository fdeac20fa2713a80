import { infiniteQueryOptions } from '@tanstack/react-query';
import { apiFetch, qs } from '../../lib/api';
import { formatMoney } from '../../lib/format';

/** GET /accounts, /accounts/:id/payouts (src/modules/sync/sync.schemas.ts). Minor units. */
export interface AccountBalance {
  accountId: string;
  /**
   * ISO 4217 of the account's amounts, once the sync stores one. The vendor feed
   * (src/modules/vendor/vendor.feed.ts) carries none today, so the API has none.
   */
  currency?: string | null;
  earned: number;
  spent: number;
  payout: number;
  paidOut: number;
  balance: number;
  entries: number;
  updatedAt: string;
}
export interface AccountPage {
  data: AccountBalance[];
  nextCursor: string | null;
}
export interface PayoutEntry {
  id: string;
  type: 'payout' | 'paid_out';
  amount: number;
  createdAt: string;
}
export interface Payouts {
  accountId: string;
  requested: number;
  paidOut: number;
  outstanding: number;
  entries: PayoutEntry[];
  nextCursor: string | null;
}

export const accountsQuery = () =>
  infiniteQueryOptions({
    queryKey: ['accounts'],
    queryFn: ({ signal, pageParam }) => apiFetch<AccountPage>(`/accounts${qs({ cursor: pageParam, limit: 50 })}`, { signal }),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.nextCursor ?? undefined,
    refetchInterval: 30_000,
  });

export const payoutsQuery = (accountId: string) =>
  infiniteQueryOptions({
    queryKey: ['accounts', accountId, 'payouts'],
    queryFn: ({ signal, pageParam }) =>
      apiFetch<Payouts>(`/accounts/${encodeURIComponent(accountId)}/payouts${qs({ cursor: pageParam, limit: 20 })}`, { signal }),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.nextCursor ?? undefined,
  });

/**
 * An account amount: in its currency when the API names one; otherwise (the gateway
 * feed names none today) as minor units with two decimals, computed on integers (no
 * float rounding), and the page says that the currency is not known.
 */
export function formatMinor(minor: number, currency?: string | null): string {
  if (currency) {
    return formatMoney(minor, currency);
  }
  const sign = minor < 0 ? '−' : '';
  const abs = Math.abs(minor);
  const units = Math.trunc(abs / 100);
  const cents = String(abs % 100).padStart(2, '0');
  return `${sign}${units.toLocaleString('en-US')}.${cents}`;
}
