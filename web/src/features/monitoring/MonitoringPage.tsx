import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { Area, AreaChart, CartesianGrid, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { Card, EmptyState, ErrorState, PageHeader, Select, Skeleton, Stat, Table, td, tdNum, th, thNum } from '../../components/ui';
import { formatCount, formatDateTime, formatMoney, methodLabel } from '../../lib/format';
import { useSession } from '../../app/session';
import { failuresQuery } from './api';
import { SyncPanel } from './SyncPanel';

const WINDOWS = [
  { hours: 1, label: 'Last hour' },
  { hours: 24, label: 'Last 24 hours' },
  { hours: 72, label: 'Last 3 days' },
  { hours: 168, label: 'Last 7 days' },
  { hours: 720, label: 'Last 30 days' },
];

export function MonitoringPage() {
  const { can } = useSession();
  const [lastHours, setLastHours] = useState(24);
  const failures = useQuery(failuresQuery(lastHours));
  const data = failures.data;
  const hourly = lastHours <= 72;
  const series = data?.series.map((point) => ({
    label: new Date(point.bucket).toLocaleString('en-GB', hourly ? { day: '2-digit', hour: '2-digit', minute: '2-digit' } : { day: '2-digit', month: 'short' }),
    count: point.count,
  }));

  return (
    <>
      <PageHeader
        title="Monitoring"
        subtitle="The gateway sync and failed gateway transactions. No personal data is shown here."
        actions={
          <label className="flex items-center gap-2 text-sm text-slate-600">
            Window
            <Select value={lastHours} onChange={(event) => setLastHours(Number(event.target.value))} className="sm:w-40" name="lastHours">
              {WINDOWS.map((option) => (
                <option key={option.hours} value={option.hours}>
                  {option.label}
                </option>
              ))}
            </Select>
          </label>
        }
      />
      {can('sync:read') ? (
        <div className="mb-6">
          <SyncPanel />
        </div>
      ) : null}
      {failures.isPending ? (
        <Card>
          <Skeleton rows={6} />
        </Card>
      ) : failures.isError ? (
        <ErrorState error={failures.error} onRetry={() => void failures.refetch()} />
      ) : data ? (
        <div className="space-y-6">
          <div className="grid grid-cols-2 gap-3 lg:grid-cols-4">
            <Stat label="Failures" value={formatCount(data.total)} tone={data.total > 0 ? 'bad' : 'good'} testId="failures-total" />
            <Stat label="Failure codes" value={formatCount(data.byCode.length)} />
            <Stat label="Gateways affected" value={formatCount(data.byGateway.length)} />
            <Stat label="Top code" value={data.byCode[0]?.failureCode ?? '—'} />
          </div>
          <Card title={`Failures per ${hourly ? 'hour' : 'day'}`}>
            <div className="h-64" aria-label="Failures over time chart" role="img">
              <ResponsiveContainer width="100%" height="100%">
                <AreaChart data={series} margin={{ left: -16, right: 8 }}>
                  <CartesianGrid strokeDasharray="3 3" vertical={false} stroke="#e2e8f0" />
                  <XAxis dataKey="label" tick={{ fontSize: 11 }} minTickGap={24} />
                  <YAxis allowDecimals={false} tick={{ fontSize: 11 }} />
                  <Tooltip />
                  <Area type="monotone" dataKey="count" name="Failures" stroke="#e11d48" fill="#fecdd3" />
                </AreaChart>
              </ResponsiveContainer>
            </div>
          </Card>
          <div className="grid gap-6 lg:grid-cols-2">
            <Card title="By failure code">
              {data.byCode.length === 0 ? (
                <EmptyState>No failures in this window.</EmptyState>
              ) : (
                <Table label="Failures by code">
                  <thead>
                    <tr>
                      <th className={th}>Code</th>
                      <th className={thNum}>Count</th>
                      <th className={thNum}>Amount</th>
                    </tr>
                  </thead>
                  <tbody>
                    {data.byCode.map((row) => (
                      <tr key={row.failureCode}>
                        <td className={`${td} font-mono text-xs`}>{row.failureCode}</td>
                        <td className={tdNum}>{formatCount(row.count)}</td>
                        <td className={tdNum}>{row.amountByCurrency.map((money) => formatMoney(money.amount, money.currency)).join(' · ')}</td>
                      </tr>
                    ))}
                  </tbody>
                </Table>
              )}
            </Card>
            <Card title="By gateway">
              {data.byGateway.length === 0 ? (
                <EmptyState>No failures in this window.</EmptyState>
              ) : (
                <Table label="Failures by gateway">
                  <thead>
                    <tr>
                      <th className={th}>Gateway</th>
                      <th className={thNum}>Count</th>
                    </tr>
                  </thead>
                  <tbody>
                    {data.byGateway.map((row) => (
                      <tr key={row.gateway}>
                        <td className={td}>{row.gateway}</td>
                        <td className={tdNum}>{formatCount(row.count)}</td>
                      </tr>
                    ))}
                  </tbody>
                </Table>
              )}
            </Card>
          </div>
          <Card title="Latest failures">
            {data.recent.length === 0 ? (
              <EmptyState>No failures in this window.</EmptyState>
            ) : (
              <Table label="Latest failures">
                <thead>
                  <tr>
                    <th className={th}>When</th>
                    <th className={th}>School</th>
                    <th className={th}>Method</th>
                    <th className={th}>Gateway</th>
                    <th className={th}>Code</th>
                    <th className={th}>Message</th>
                    <th className={thNum}>Amount</th>
                  </tr>
                </thead>
                <tbody>
                  {data.recent.map((row) => (
                    <tr key={row.id}>
                      <td className={td}>{formatDateTime(row.createdAt)}</td>
                      <td className={td}>{row.schoolName}</td>
                      <td className={td}>{methodLabel(row.method)}</td>
                      <td className={td}>{row.gateway}</td>
                      <td className={`${td} font-mono text-xs`}>{row.failureCode}</td>
                      <td className={`${td} max-w-xs truncate`} title={row.failureMessage ?? undefined}>
                        {row.failureMessage ?? '—'}
                      </td>
                      <td className={tdNum}>{formatMoney(row.amount, row.currency)}</td>
                    </tr>
                  ))}
                </tbody>
              </Table>
            )}
          </Card>
        </div>
      ) : null}
    </>
  );
}
