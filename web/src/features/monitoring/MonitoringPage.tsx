import { useQuery } from '@tanstack/react-query';
import { Area, AreaChart, CartesianGrid, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { GRID_STROKE, TICK } from '../../components/chart';
import { Card, EmptyState, ErrorState, PageHeader, Select, Skeleton, Stat, StatGrid, Table, td, tdNum, th, thNum } from '../../components/ui';
import { describeZone, formatCount, formatDateTime, formatDayMonth, formatMoney, methodLabel, viewerTimeZone } from '../../lib/format';
import { textLocale, useT } from '../../lib/i18n';
import { useSearchParams } from '../../lib/router';
import { useSession } from '../../app/session';
import { failuresQuery } from './api';
import { SyncPanel } from './SyncPanel';

/** The windows offered, in hours; each one's words are `monitoring.windows.<hours>`. */
const WINDOWS = [{ hours: 1 }, { hours: 24 }, { hours: 72 }, { hours: 168 }, { hours: 720 }];

export function MonitoringPage() {
  const { t } = useT();
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
  const hourLabel = new Intl.DateTimeFormat(textLocale(), { day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23', timeZone });
  const series = data?.series.map((point) => ({
    label: hourly ? hourLabel.format(new Date(point.bucket)) : formatDayMonth(point.bucket, timeZone),
    count: point.count,
  }));

  return (
    <>
      <PageHeader
        title={t('monitoring.title')}
        subtitle={t('monitoring.subtitle')}
        actions={
          <label className="flex items-center gap-2 text-sm text-slate-700">
            {t('monitoring.window')}
            <Select value={lastHours} onChange={(event) => setParams({ hours: Number(event.target.value) === 24 ? undefined : event.target.value })} className="sm:w-40" name="lastHours">
              {WINDOWS.map((option) => (
                <option key={option.hours} value={option.hours}>
                  {t(`monitoring.windows.${option.hours}`)}
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
            <Stat label={t('monitoring.failures')} value={formatCount(data.total)} tone={data.total > 0 ? 'bad' : 'good'} testId="failures-total" />
            <Stat label={t('monitoring.failureCodes')} value={formatCount(data.byCode.length)} />
            <Stat label={t('monitoring.gateways')} value={formatCount(data.byGateway.length)} />
            <Stat label={t('monitoring.topCode')} value={data.byCode[0]?.failureCode ?? '—'} />
          </StatGrid>
          <Card title={t(hourly ? 'monitoring.perHour' : 'monitoring.perDay', { zone: describeZone(timeZone, 'viewer') })}>
            <div className="h-64">
              <ResponsiveContainer width="100%" height="100%">
                <AreaChart
                  data={series}
                  margin={{ left: -16, right: 8 }}
                  accessibilityLayer={false}
                  role="img"
                  aria-label={t(hourly ? 'monitoring.chartHour' : 'monitoring.chartDay', { count: formatCount(data.total) })}
                >
                  <CartesianGrid strokeDasharray="3 3" vertical={false} stroke={GRID_STROKE} />
                  <XAxis dataKey="label" tick={TICK} minTickGap={24} />
                  <YAxis allowDecimals={false} tick={TICK} tickFormatter={formatCount} />
                  <Tooltip />
                  <Area type="monotone" dataKey="count" name={t('monitoring.failures')} stroke="#e11d48" fill="#fecdd3" />
                </AreaChart>
              </ResponsiveContainer>
            </div>
          </Card>
          <div className="grid grid-cols-1 gap-6 lg:grid-cols-2">
            <Card title={t('monitoring.byCode')}>
              {data.byCode.length === 0 ? (
                <EmptyState>{t('monitoring.none')}</EmptyState>
              ) : (
                <Table label={t('monitoring.byCodeTable')}>
                  <thead>
                    <tr>
                      <th className={th}>{t('monitoring.code')}</th>
                      <th className={thNum}>{t('monitoring.count')}</th>
                      <th className={thNum}>{t('monitoring.amount')}</th>
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
            <Card title={t('monitoring.byGateway')}>
              {data.byGateway.length === 0 ? (
                <EmptyState>{t('monitoring.none')}</EmptyState>
              ) : (
                <Table label={t('monitoring.byGatewayTable')}>
                  <thead>
                    <tr>
                      <th className={th}>{t('monitoring.gateway')}</th>
                      <th className={thNum}>{t('monitoring.count')}</th>
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
          <Card title={t('monitoring.latest', { zone: describeZone(timeZone, 'viewer') })}>
            {data.recent.length === 0 ? (
              <EmptyState>{t('monitoring.none')}</EmptyState>
            ) : (
              <Table label={t('monitoring.latestTable')} stickyFirst>
                <thead>
                  <tr>
                    <th className={th}>{t('monitoring.when')}</th>
                    <th className={th}>{t('monitoring.school')}</th>
                    <th className={th}>{t('monitoring.method')}</th>
                    <th className={th}>{t('monitoring.gateway')}</th>
                    <th className={th}>{t('monitoring.code')}</th>
                    <th className={th}>{t('monitoring.message')}</th>
                    <th className={thNum}>{t('monitoring.amount')}</th>
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
