import { useQuery } from '@tanstack/react-query';
import { Area, AreaChart, CartesianGrid, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { GRID_STROKE, TICK } from '../../components/chart';
import { Card, EmptyState, ErrorState, PageHeader, Select, Skeleton, Stat, StatGrid, Table, td, tdNum, th, thNum } from '../../components/ui';
import { describeZone, formatCount, formatDateTime, formatDayMonth, formatMoney, methodLabel, viewerTimeZone } from '../../lib/format';
import { useSearchParams } from '../../lib/router';
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
  // The window lives in the query string (?hours=72): reload, Back and a shared link keep it.
  const [params, setParams] = useSearchParams();
  const asked = Number(params.get('hours'));
  const lastHours = WINDOWS.some((option) => option.hours === asked) ? asked : 24;
  const failures = useQuery(failuresQuery(lastHours));
  const data = failures.data;
  const hourly = lastHours <= 72;
  // Failures span every school: times are the viewer's, and say so.
  const timeZone = viewerTimeZone();
  const hourLabel = new Intl.DateTimeFormat('en-GB', { day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23', timeZone });
  const series = data?.series.map((point) => ({
    label: hourly ? hourLabel.format(new Date(point.bucket)) : formatDayMonth(point.bucket, timeZone),
    count: point.count,
  }));

  return (
    <>
      <PageHeader
        title="Monitoring"
        subtitle="The gateway sync and failed gateway transactions. No personal data is shown here."
        actions={
          <label className="flex items-center gap-2 text-sm text-slate-700">
            Window
            <Select value={lastHours} onChange={(event) => setParams({ hours: Number(event.target.value) === 24 ? undefined : event.target.value })} className="sm:w-40" name="lastHours">
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
          <StatGrid>
            <Stat label="Failures" value={formatCount(data.total)} tone={data.total > 0 ? 'bad' : 'good'} testId="failures-total" />
            <Stat label="Failure codes" value={formatCount(data.byCode.length)} />
            <Stat label="Gateways affected" value={formatCount(data.byGateway.length)} />
            <Stat label="Top code" value={data.byCode[0]?.failureCode ?? '—'} />
          </StatGrid>
          <Card title={`Failures per ${hourly ? 'hour' : 'day'} · ${describeZone(timeZone, 'viewer')}`}>
            <div className="h-64">
              <ResponsiveContainer width="100%" height="100%">
                <AreaChart
                  data={series}
                  margin={{ left: -16, right: 8 }}
                  accessibilityLayer={false}
                  role="img"
                  aria-label={`Chart: failed transactions per ${hourly ? 'hour' : 'day'}, ${formatCount(data.total)} in the window; by code and gateway in the tables below`}
                >
                  <CartesianGrid strokeDasharray="3 3" vertical={false} stroke={GRID_STROKE} />
                  <XAxis dataKey="label" tick={TICK} minTickGap={24} />
                  <YAxis allowDecimals={false} tick={TICK} tickFormatter={formatCount} />
                  <Tooltip />
                  <Area type="monotone" dataKey="count" name="Failures" stroke="#e11d48" fill="#fecdd3" />
                </AreaChart>
              </ResponsiveContainer>
            </div>
          </Card>
          <div className="grid grid-cols-1 gap-6 lg:grid-cols-2">
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
          <Card title={`Latest failures · ${describeZone(timeZone, 'viewer')}`}>
            {data.recent.length === 0 ? (
              <EmptyState>No failures in this window.</EmptyState>
            ) : (
              <Table label="Latest failures" stickyFirst>
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
                      <td className={td}>{formatDateTime(row.createdAt, timeZone)}</td>
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
