import { useInfiniteQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { Button, Card, EmptyState, ErrorState, PageHeader, Skeleton, Stat, Table, cx, td, tdNum, th, thNum } from '../../components/ui';
import { formatCount, formatDateTime } from '../../lib/format';
import { accountsQuery, formatMinor, payoutsQuery, type AccountBalance } from './api';

/**
 * Gateway account balances (GET /accounts) and one account's payouts
 * (GET /accounts/:id/payouts). balance = earned − spent − paid out; a payout request does
 * not move the balance until it is paid out.
 */
export function AccountsPage() {
  const accounts = useInfiniteQuery(accountsQuery());
  const rows = accounts.data?.pages.flatMap((page) => page.data) ?? [];
  const [selected, setSelected] = useState<string | null>(null);
  const account = rows.find((row) => row.accountId === selected);

  return (
    <>
      <PageHeader
        title="Accounts"
        subtitle="Balances from the payment gateway's account feed, synced exactly once. Amounts in minor units shown with two decimals."
      />
      <div className="grid gap-6 xl:grid-cols-[3fr_2fr]">
        <Card title="Balances" testId="accounts-list">
          {accounts.isPending ? (
            <Skeleton rows={8} />
          ) : accounts.isError ? (
            <ErrorState error={accounts.error} onRetry={() => void accounts.refetch()} />
          ) : rows.length === 0 ? (
            <EmptyState>No accounts yet: the gateway sync has not stored any entries.</EmptyState>
          ) : (
            <>
              <Table label="Account balances">
                <thead>
                  <tr>
                    <th className={th}>Account</th>
                    <th className={thNum}>Earned</th>
                    <th className={thNum}>Spent</th>
                    <th className={thNum}>Paid out</th>
                    <th className={thNum}>Outstanding payouts</th>
                    <th className={thNum}>Balance</th>
                  </tr>
                </thead>
                <tbody>
                  {rows.map((row) => (
                    <tr key={row.accountId} className={cx(row.accountId === selected && 'bg-indigo-50')} data-testid="account-row">
                      <td className={td}>
                        <button
                          type="button"
                          className="font-mono text-xs font-medium text-indigo-700 hover:underline focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500"
                          aria-pressed={row.accountId === selected}
                          onClick={() => setSelected(row.accountId)}
                        >
                          {row.accountId}
                        </button>
                      </td>
                      <td className={tdNum}>{formatMinor(row.earned)}</td>
                      <td className={tdNum}>{formatMinor(row.spent)}</td>
                      <td className={tdNum}>{formatMinor(row.paidOut)}</td>
                      <td className={tdNum}>{formatMinor(row.payout - row.paidOut)}</td>
                      <td className={cx(tdNum, 'font-semibold')} data-testid="account-balance">
                        {formatMinor(row.balance)}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </Table>
              <div className="mt-4 flex items-center gap-3 text-sm text-slate-500">
                <span>Showing {formatCount(rows.length)} accounts</span>
                {accounts.hasNextPage ? (
                  <Button onClick={() => void accounts.fetchNextPage()} disabled={accounts.isFetchingNextPage}>
                    {accounts.isFetchingNextPage ? 'Loading…' : 'Load more'}
                  </Button>
                ) : null}
              </div>
            </>
          )}
        </Card>
        {account ? <PayoutsCard account={account} /> : (
          <Card title="Payouts">
            <EmptyState>Choose an account to see its payouts.</EmptyState>
          </Card>
        )}
      </div>
    </>
  );
}

function PayoutsCard({ account }: { account: AccountBalance }) {
  const payouts = useInfiniteQuery(payoutsQuery(account.accountId));
  const first = payouts.data?.pages[0];
  const entries = payouts.data?.pages.flatMap((page) => page.entries) ?? [];
  return (
    <Card title={`Payouts · ${account.accountId}`} testId="payouts">
      {payouts.isPending ? (
        <Skeleton rows={5} />
      ) : payouts.isError ? (
        <ErrorState error={payouts.error} onRetry={() => void payouts.refetch()} />
      ) : first ? (
        <div className="space-y-4">
          <div className="grid grid-cols-3 gap-3">
            <Stat label="Requested" value={formatMinor(first.requested)} testId="payouts-requested" />
            <Stat label="Paid out" value={formatMinor(first.paidOut)} testId="payouts-paid-out" />
            <Stat label="Outstanding" value={formatMinor(first.outstanding)} tone={first.outstanding > 0 ? 'warn' : 'good'} testId="payouts-outstanding" />
          </div>
          <p className="text-sm text-slate-500">
            Balance {formatMinor(account.balance)} · {formatCount(account.entries)} entries · updated {formatDateTime(account.updatedAt)}
          </p>
          {entries.length === 0 ? (
            <EmptyState>No payout requests for this account.</EmptyState>
          ) : (
            <>
              <Table label="Payout entries">
                <thead>
                  <tr>
                    <th className={th}>When</th>
                    <th className={th}>Entry</th>
                    <th className={th}>Kind</th>
                    <th className={thNum}>Amount</th>
                  </tr>
                </thead>
                <tbody>
                  {entries.map((entry) => (
                    <tr key={entry.id} data-testid="payout-entry">
                      <td className={td}>{formatDateTime(entry.createdAt)}</td>
                      <td className={`${td} font-mono text-xs`}>{entry.id}</td>
                      <td className={td}>{entry.type === 'payout' ? 'Requested' : 'Paid out'}</td>
                      <td className={tdNum}>{formatMinor(entry.amount)}</td>
                    </tr>
                  ))}
                </tbody>
              </Table>
              {payouts.hasNextPage ? (
                <Button onClick={() => void payouts.fetchNextPage()} disabled={payouts.isFetchingNextPage}>
                  {payouts.isFetchingNextPage ? 'Loading…' : 'Load more'}
                </Button>
              ) : null}
            </>
          )}
        </div>
      ) : null}
    </Card>
  );
}
