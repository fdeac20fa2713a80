import { useInfiniteQuery } from '@tanstack/react-query';
import { useRef, useState } from 'react';
import { Card, cx, EmptyState, ErrorState, LoadMore, PageHeader, Skeleton, Stat, StatGrid, Table, td, tdNum, th, thNum } from '../../components/ui';
import { formatCount, formatDateTime, viewerTimeZone, zoneOwner } from '../../lib/format';
import { useT } from '../../lib/i18n';
import { accountsQuery, formatMinor, payoutsQuery, type AccountBalance } from './api';

/**
 * Gateway account balances (GET /accounts) and one account's payouts
 * (GET /accounts/:id/payouts). balance = earned − spent − paid out; a payout request does
 * not move the balance until it is paid out. Gateway accounts belong to no school, so
 * times are in the viewer's zone, labelled.
 */
export function AccountsPage() {
  const { t } = useT();
  const accounts = useInfiniteQuery(accountsQuery());
  const rows = accounts.data?.pages.flatMap((page) => page.data) ?? [];
  const [selected, setSelected] = useState<string | null>(null);
  const account = rows.find((row) => row.accountId === selected);
  const list = useRef<HTMLTableSectionElement>(null);
  const payouts = useRef<HTMLDivElement>(null);
  // The feed names no currency yet; when the API gives one per account, the amounts show it.
  const currencies = [...new Set(rows.map((row) => row.currency).filter((code): code is string => Boolean(code)))];
  const balancesTitle =
    currencies.length === 1 ? t('accounts.balancesIn', { currency: currencies[0] }) : currencies.length === 0 ? t('accounts.balancesNoCurrency') : t('accounts.balances');

  const choose = (accountId: string) => {
    setSelected(accountId);
    // On a phone the payouts are below the list: bring them into view.
    requestAnimationFrame(() => payouts.current?.scrollIntoView?.({ block: 'nearest' }));
  };

  return (
    <>
      <PageHeader
        title={t('accounts.title')}
        subtitle={
          currencies.length === 0 ? t('accounts.subtitleNoCurrency') : t('accounts.subtitle')
        }
      />
      <div className="grid grid-cols-1 gap-6 xl:grid-cols-[minmax(0,3fr)_minmax(0,2fr)]">
        <Card title={balancesTitle} testId="accounts-list">
          {accounts.isPending ? (
            <Skeleton rows={8} />
          ) : accounts.isError ? (
            <ErrorState error={accounts.error} onRetry={() => void accounts.refetch()} />
          ) : rows.length === 0 ? (
            <EmptyState>{t('accounts.empty')}</EmptyState>
          ) : (
            <>
              <Table label={t('accounts.table')} stickyFirst>
                <thead>
                  <tr>
                    <th className={th}>{t('accounts.account')}</th>
                    <th className={thNum}>{t('accounts.balance')}</th>
                    <th className={thNum}>{t('accounts.earned')}</th>
                    <th className={thNum}>{t('accounts.spent')}</th>
                    <th className={thNum}>{t('accounts.paidOut')}</th>
                    <th className={thNum}>{t('accounts.outstandingPayouts')}</th>
                  </tr>
                </thead>
                <tbody ref={list}>
                  {rows.map((row) => (
                    <tr key={row.accountId} className={cx(row.accountId === selected && 'bg-indigo-50')} data-testid="account-row" data-row tabIndex={-1}>
                      <td className={td}>
                        <button
                          type="button"
                          className="font-mono text-xs font-medium text-indigo-700 hover:underline focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500"
                          aria-pressed={row.accountId === selected}
                          onClick={() => choose(row.accountId)}
                        >
                          {row.accountId}
                        </button>
                      </td>
                      <td className={cx(tdNum, 'font-semibold')} data-testid="account-balance">
                        {formatMinor(row.balance, row.currency)}
                      </td>
                      <td className={tdNum}>{formatMinor(row.earned, row.currency)}</td>
                      <td className={tdNum}>{formatMinor(row.spent, row.currency)}</td>
                      <td className={tdNum}>{formatMinor(row.paidOut, row.currency)}</td>
                      <td className={tdNum}>{formatMinor(row.payout - row.paidOut, row.currency)}</td>
                    </tr>
                  ))}
                </tbody>
              </Table>
              <LoadMore
                shown={rows.length}
                noun={(count) => t('accounts.noun', { count })}
                hasNextPage={accounts.hasNextPage}
                loading={accounts.isFetchingNextPage}
                onLoad={() => accounts.fetchNextPage()}
                list={list}
              />
            </>
          )}
        </Card>
        <div ref={payouts} className="min-w-0">
          {account ? (
            <PayoutsCard account={account} />
          ) : (
            <Card title={t('accounts.payouts')}>
              <EmptyState>{t('accounts.choose')}</EmptyState>
            </Card>
          )}
        </div>
      </div>
    </>
  );
}

function PayoutsCard({ account }: { account: AccountBalance }) {
  const { t } = useT();
  const payouts = useInfiniteQuery(payoutsQuery(account.accountId));
  const first = payouts.data?.pages[0];
  const entries = payouts.data?.pages.flatMap((page) => page.entries) ?? [];
  const list = useRef<HTMLTableSectionElement>(null);
  const timeZone = viewerTimeZone();
  const money = (minor: number) => formatMinor(minor, account.currency);
  return (
    <Card title={t('accounts.payoutsOf', { account: account.accountId })} testId="payouts">
      {payouts.isPending ? (
        <Skeleton rows={5} />
      ) : payouts.isError ? (
        <ErrorState error={payouts.error} onRetry={() => void payouts.refetch()} />
      ) : first ? (
        <div className="space-y-4">
          <StatGrid cols={3}>
            <Stat label={t('accounts.requested')} value={money(first.requested)} testId="payouts-requested" />
            <Stat label={t('accounts.paidOut')} value={money(first.paidOut)} testId="payouts-paid-out" />
            <Stat label={t('accounts.outstanding')} value={money(first.outstanding)} tone={first.outstanding > 0 ? 'warn' : 'good'} testId="payouts-outstanding" />
          </StatGrid>
          <p className="text-sm text-slate-600">
            {t('accounts.summary', { balance: money(account.balance), entries: formatCount(account.entries), at: formatDateTime(account.updatedAt, timeZone), zone: zoneOwner(timeZone, 'viewer') })}
          </p>
          {entries.length === 0 ? (
            <EmptyState>{t('accounts.noPayouts')}</EmptyState>
          ) : (
            <>
              <Table label={t('accounts.entriesTable')}>
                <thead>
                  <tr>
                    <th className={th}>{t('accounts.when')}</th>
                    <th className={thNum}>{t('accounts.amount')}</th>
                    <th className={th}>{t('accounts.kind')}</th>
                    <th className={th}>{t('accounts.entry')}</th>
                  </tr>
                </thead>
                <tbody ref={list}>
                  {entries.map((entry) => (
                    <tr key={entry.id} data-testid="payout-entry" data-row tabIndex={-1} className="focus:outline-none focus-visible:bg-indigo-50">
                      <td className={td}>{formatDateTime(entry.createdAt, timeZone)}</td>
                      <td className={tdNum}>{money(entry.amount)}</td>
                      <td className={td}>{entry.type === 'payout' ? t('accounts.requested') : t('accounts.paidOut')}</td>
                      <td className={`${td} font-mono text-xs`}>{entry.id}</td>
                    </tr>
                  ))}
                </tbody>
              </Table>
              <LoadMore
                shown={entries.length}
                noun={(count) => t('accounts.entriesNoun', { count })}
                hasNextPage={payouts.hasNextPage}
                loading={payouts.isFetchingNextPage}
                onLoad={() => payouts.fetchNextPage()}
                list={list}
              />
            </>
          )}
        </div>
      ) : null}
    </Card>
  );
}
