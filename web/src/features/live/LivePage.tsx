import { useQuery, type UseQueryResult } from '@tanstack/react-query';
import { useMemo } from 'react';
import { Bar, BarChart, CartesianGrid, ComposedChart, Legend, Line, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { GRID_STROKE, legendText, TICK } from '../../components/chart';
import { Button, Card, cx, EmptyState, ErrorState, PageHeader, Select, Skeleton, Stat, StatGrid } from '../../components/ui';
import { saveBlob } from '../../lib/api';
import { downloadName } from '../../../../src/shared/filenames';
import { CsvDecimal, localDateTime, toPeopleCsv, type CsvField } from '../../lib/csv';
import {
  currencyDecimals,
  describeZone,
  formatCount,
  formatDateTime,
  formatDayMonth,
  formatHourMinute,
  formatMoney,
  formatMoneyTick,
  formatPercent,
  formatTime,
  methodLabel,
  minorToInput,
  viewerTimeZone,
  zoneLabel,
  zoneOwner,
} from '../../lib/format';
import { translate, useT } from '../../lib/i18n';
import { useSearchParams } from '../../lib/router';
import { schoolOptionsQuery } from '../../lib/schools';
import { methodsQuery, metricsQuery, trendsQuery, type LiveEvent, type LiveEventType, type Metrics, type Period } from './api';
import { useLiveFeed, type LiveStatus } from './useLiveFeed';

/** The periods offered; each one's words are `live.periods.<period>` (button) and `live.span.<period>` (headings). */
const PERIODS: Period[] = ['day', 'week', 'month'];

/** Each event's colours; its words are `live.event.<type>`. */
const EVENT_STYLE: Record<LiveEventType, { row: string; dot: string }> = {
  payment_received: { row: 'border-l-emerald-500 bg-emerald-50/60', dot: 'bg-emerald-500' },
  payment_failed: { row: 'border-l-rose-500 bg-rose-50/60', dot: 'bg-rose-500' },
  payment_refunded: { row: 'border-l-amber-500 bg-amber-50/60', dot: 'bg-amber-500' },
};
const eventLabel = (type: LiveEventType) => translate(`live.event.${type}`);
const periodText = (period: Period) => translate(`live.span.${period}`);

/** Where times are read: one school's own zone, or the viewer's across schools (always named on the page). */
interface Zone {
  timeZone: string;
  whose: 'school' | 'viewer';
}

const isPeriod = (value: string | null): value is Period => value === 'day' || value === 'week' || value === 'month';

export function LivePage() {
  const { t } = useT();
  // School, period and chart currency live in the query string: reload, Back and a shared link keep them.
  const [params, setParams] = useSearchParams();
  const schools = useQuery(schoolOptionsQuery());
  const requested = params.get('schoolId') ?? '';
  const period: Period = isPeriod(params.get('period')) ? (params.get('period') as Period) : 'day';
  const school = schools.data?.find((candidate) => candidate.id === requested);
  // Until the school list is in, the zone is unknown for a school: wait rather than ask twice.
  const schoolId = requested && !school && schools.isPending ? null : requested;
  const zone: Zone = school ? { timeZone: school.timezone, whose: 'school' } : { timeZone: viewerTimeZone(), whose: 'viewer' };
  const metrics = useQuery({ ...metricsQuery(period, schoolId ?? '', zone.timeZone), enabled: schoolId !== null });
  const currencies = metrics.data?.byCurrency.map((row) => row.currency) ?? [];
  const chosenCurrency = params.get('currency');
  const currency = chosenCurrency && currencies.includes(chosenCurrency) ? chosenCurrency : (currencies[0] ?? null);

  return (
    <>
      <PageHeader
        title={t('live.title')}
        subtitle={t('live.subtitle')}
        actions={
          <>
            {schools.data && schools.data.length > 1 ? (
              <Select value={requested} onChange={(event) => setParams({ schoolId: event.target.value })} className="sm:w-56" aria-label={t('live.school')} name="schoolId">
                <option value="">{t('live.allSchools')}</option>
                {schools.data.map((school) => (
                  <option key={school.id} value={school.id}>
                    {school.name}
                  </option>
                ))}
              </Select>
            ) : null}
            {currencies.length > 1 ? (
              <Select value={currency ?? ''} onChange={(event) => setParams({ currency: event.target.value })} className="sm:w-28" aria-label={t('live.chartCurrency')} name="currency">
                {currencies.map((code) => (
                  <option key={code}>{code}</option>
                ))}
              </Select>
            ) : null}
            <PeriodPicker value={period} onChange={(next) => setParams({ period: next === 'day' ? undefined : next })} />
          </>
        }
      />
      <div className="space-y-6">
        <MetricCards query={metrics} zone={zone} />
        <div className="grid grid-cols-1 gap-6 lg:grid-cols-3">
          <TrendCard period={period} schoolId={schoolId ?? ''} currency={currency} zone={zone} />
          <MethodsCard period={period} schoolId={schoolId ?? ''} currency={currency} />
        </div>
        <EventStream schoolId={schoolId ?? ''} zone={zone} />
      </div>
    </>
  );
}

function PeriodPicker({ value, onChange }: { value: Period; onChange: (period: Period) => void }) {
  const { t } = useT();
  return (
    <div role="group" aria-label={t('live.period')} className="inline-flex rounded-lg border border-slate-300 bg-white p-0.5">
      {PERIODS.map((option) => (
        <button
          key={option}
          type="button"
          aria-pressed={value === option}
          onClick={() => onChange(option)}
          className={cx('rounded-md px-3 py-1 text-xs font-medium', value === option ? 'bg-indigo-600 text-white' : 'text-slate-700 hover:bg-slate-100')}
        >
          {t(`live.periods.${option}`)}
        </button>
      ))}
    </div>
  );
}

function MetricCards({ query, zone }: { query: UseQueryResult<Metrics>; zone: Zone }) {
  const { t } = useT();
  if (query.isPending) {
    return (
      <Card>
        <Skeleton rows={3} />
      </Card>
    );
  }
  if (query.isError) {
    return <ErrorState error={query.error} onRetry={() => void query.refetch()} />;
  }
  if (query.data.byCurrency.length === 0) {
    return <EmptyState>{t('live.noSchools')}</EmptyState>;
  }
  const span = periodText(query.data.period);
  return (
    <div className="space-y-4" data-testid="live-metrics">
      {query.data.byCurrency.map((row) => (
        <section key={row.currency} aria-label={t('live.section', { currency: row.currency, span })} data-testid={`metrics-${row.currency}`}>
          <h2 className="mb-2 text-xs font-semibold uppercase tracking-wide text-slate-600">
            {row.currency} · {span}
          </h2>
          <StatGrid>
            <Stat
              label={t('live.volume')}
              value={formatMoney(row.totalVolume, row.currency)}
              hint={row.refundedAmount > 0 ? t('live.volumeHint', { in: formatMoney(row.succeededAmount, row.currency), refunded: formatMoney(row.refundedAmount, row.currency) }) : t('live.netOfRefunds')}
              tone="good"
              testId={`metric-${row.currency}-totalVolume`}
            />
            <Stat label={t('live.payments')} value={formatCount(row.totalPayments)} testId={`metric-${row.currency}-totalPayments`} />
            <Stat label={t('live.successRate')} value={formatPercent(row.successRate)} testId={`metric-${row.currency}-successRate`} />
            <Stat label={t('live.average')} value={row.totalPayments > 0 ? formatMoney(row.averageAmount, row.currency) : '—'} testId={`metric-${row.currency}-averageAmount`} />
            <Stat
              label={t('live.failed')}
              value={formatCount(row.failedPayments)}
              tone={row.failedPayments > 0 ? 'bad' : 'default'}
              testId={`metric-${row.currency}-failedPayments`}
            />
            <Stat
              label={t('live.refunded')}
              value={formatMoney(row.refundedAmount, row.currency)}
              hint={t('live.refunds', { count: row.refunds })}
              tone={row.refundedAmount > 0 ? 'warn' : 'default'}
              testId={`metric-${row.currency}-refundedAmount`}
            />
            <Stat
              label={t('live.peakHour')}
              value={row.peakHour === null ? '—' : `${String(row.peakHour).padStart(2, '0')}:00 ${zoneLabel(query.data.timeZone)}`}
              hint={zoneOwner(query.data.timeZone, zone.whose)}
              testId={`metric-${row.currency}-peakHour`}
            />
            <Stat label={t('live.topMethod')} value={row.topPaymentMethod ? methodLabel(row.topPaymentMethod) : '—'} testId={`metric-${row.currency}-topPaymentMethod`} />
          </StatGrid>
        </section>
      ))}
    </div>
  );
}

function TrendCard({ period, schoolId, currency, zone }: { period: Period; schoolId: string; currency: string | null; zone: Zone }) {
  const { t } = useT();
  const trends = useQuery(trendsQuery(period, schoolId, zone.timeZone));
  const points = useMemo(() => {
    if (!trends.data || !currency) {
      return [];
    }
    const scale = 10 ** currencyDecimals(currency);
    // The buckets are the zone's own hours and days (the API was asked for them), labelled in it.
    const { unit, timeZone } = trends.data;
    const label = (bucket: string) => (unit === 'hour' ? formatHourMinute(bucket, timeZone) : formatDayMonth(bucket, timeZone));
    return trends.data.points
      .filter((point) => point.currency === currency)
      .map((point) => ({
        label: label(point.bucket),
        amount: point.amount / scale,
        refunded: point.refunded / scale,
        count: point.count,
        failed: point.failed,
      }));
  }, [trends.data, currency]);
  const active = points.some((point) => point.count > 0 || point.failed > 0 || point.refunded > 0);

  return (
    <Card className="lg:col-span-2" title={
        currency
          ? t('live.trendIn', { span: periodText(period), currency, zone: describeZone(zone.timeZone, zone.whose) })
          : t('live.trend', { span: periodText(period), zone: describeZone(zone.timeZone, zone.whose) })
      } testId="trend-chart">
      {trends.isPending ? (
        <Skeleton rows={5} />
      ) : trends.isError ? (
        <ErrorState error={trends.error} onRetry={() => void trends.refetch()} />
      ) : !active ? (
        <EmptyState>No payments in this period.</EmptyState>
      ) : (
        <div className="h-72">
          <ResponsiveContainer width="100%" height="100%">
            <ComposedChart
              data={points}
              margin={{ left: 0, right: 8 }}
              accessibilityLayer={false}
              role="img"
              aria-label={t('live.trendChart', { currency: currency ?? '', unit: t(`live.units.${trends.data.unit}`), span: periodText(period) })}
            >
              <CartesianGrid strokeDasharray="3 3" vertical={false} stroke={GRID_STROKE} />
              <XAxis dataKey="label" tick={TICK} minTickGap={16} />
              <YAxis yAxisId="amount" tick={TICK} width={64} tickFormatter={(value: number) => (currency ? formatMoneyTick(value, currency) : String(value))} />
              <YAxis yAxisId="count" orientation="right" allowDecimals={false} tick={TICK} width={32} tickFormatter={formatCount} />
              <Tooltip formatter={tooltipValue(currency)} />
              <Legend formatter={legendText} />
              <Bar isAnimationActive={false} yAxisId="count" dataKey="count" name={t('live.payments')} fill="#c7d2fe" radius={[3, 3, 0, 0]} />
              <Bar isAnimationActive={false} yAxisId="count" dataKey="failed" name={t('live.failed')} fill="#fda4af" radius={[3, 3, 0, 0]} />
              <Line isAnimationActive={false} yAxisId="amount" type="monotone" dataKey="amount" name={t('live.collectedIn', { currency: currency ?? '' })} stroke="#4f46e5" strokeWidth={2} dot={false} />
              <Line isAnimationActive={false} yAxisId="amount" type="monotone" dataKey="refunded" name={t('live.refundedIn', { currency: currency ?? '' })} stroke="#f59e0b" strokeWidth={2} dot={false} />
            </ComposedChart>
          </ResponsiveContainer>
        </div>
      )}
    </Card>
  );
}

/**
 * Tooltip values: amounts (series named "… (MXN)") in full money, counts as counts. The
 * chart data is in currency units, so amounts are scaled back to minor units exactly
 * enough for display.
 */
function tooltipValue(currency: string | null) {
  return (value: unknown, name: unknown) => {
    const number = typeof value === 'number' ? value : Number(value);
    if (currency && typeof name === 'string' && name.endsWith(`(${currency})`)) {
      return formatMoney(Math.round(number * 10 ** currencyDecimals(currency)), currency);
    }
    return formatCount(number);
  };
}

function MethodsCard({ period, schoolId, currency }: { period: Period; schoolId: string; currency: string | null }) {
  const { t } = useT();
  const methods = useQuery(methodsQuery(period, schoolId));
  const rows = useMemo(() => {
    if (!methods.data || !currency) {
      return [];
    }
    const scale = 10 ** currencyDecimals(currency);
    return methods.data.methods
      .filter((row) => row.currency === currency)
      .map((row) => ({ label: methodLabel(row.method), amount: row.amount / scale, count: row.count, failed: row.failed }));
  }, [methods.data, currency]);
  return (
    <Card title={currency ? t('live.methodsIn', { currency }) : t('live.methods')} testId="methods-chart">
      {methods.isPending ? (
        <Skeleton rows={5} />
      ) : methods.isError ? (
        <ErrorState error={methods.error} onRetry={() => void methods.refetch()} />
      ) : rows.length === 0 ? (
        <EmptyState>No payments in this period.</EmptyState>
      ) : (
        <div className="h-72">
          <ResponsiveContainer width="100%" height="100%">
            <BarChart
              data={rows}
              layout="vertical"
              margin={{ left: 8, right: 16 }}
              accessibilityLayer={false}
              role="img"
              aria-label={t('live.methodsChart', {
                currency: currency ?? '',
                rows: rows.map((row) => `${row.label} ${currency ? formatMoney(Math.round(row.amount * 10 ** currencyDecimals(currency)), currency) : row.amount}`).join(', '),
              })}
            >
              <CartesianGrid strokeDasharray="3 3" horizontal={false} stroke={GRID_STROKE} />
              <XAxis type="number" tick={TICK} tickFormatter={(value: number) => (currency ? formatMoneyTick(value, currency) : String(value))} />
              <YAxis type="category" dataKey="label" tick={TICK} width={88} />
              <Tooltip formatter={tooltipValue(currency)} />
              <Legend formatter={legendText} />
              <Bar isAnimationActive={false} dataKey="amount" name={t('live.collectedIn', { currency: currency ?? '' })} fill="#10b981" radius={[0, 3, 3, 0]} />
            </BarChart>
          </ResponsiveContainer>
        </div>
      )}
    </Card>
  );
}

function LiveIndicator({ status, attempts }: { status: LiveStatus; attempts: number }) {
  const { t } = useT();
  const tone = {
    connecting: 'bg-slate-100 text-slate-600',
    connected: 'bg-emerald-100 text-emerald-800',
    reconnecting: 'bg-amber-100 text-amber-800',
    paused: 'bg-slate-200 text-slate-700',
  }[status];
  const dot = { connecting: 'bg-slate-400', connected: 'bg-emerald-500 live-pulse', reconnecting: 'bg-amber-500 live-pulse', paused: 'bg-slate-500' }[status];
  return (
    <span role="status" aria-live="polite" data-testid="live-indicator" data-status={status} className={cx('inline-flex items-center gap-1.5 rounded-full px-2.5 py-1 text-xs font-semibold', tone)}>
      <span className={cx('h-2 w-2 rounded-full', dot)} aria-hidden="true" />
      {t(`live.status.${status}`)}
      {status === 'reconnecting' && attempts > 1 ? t('live.attempt', { count: attempts }) : ''}
    </span>
  );
}

/**
 * The Live CSV for people: words, amounts in currency units (the currency's digits), times
 * in the viewer's zone, named; headers and words in the dashboard's language at export.
 */
const csvFields = (): CsvField<LiveEvent>[] => [
  { header: translate('live.csv.time', { zone: viewerTimeZone() }), value: (event) => localDateTime(event.payment.createdAt) },
  { header: translate('live.csv.event'), value: (event) => eventLabel(event.type) },
  { header: translate('live.csv.school'), value: (event) => event.payment.schoolName },
  { header: translate('live.csv.invoice'), value: (event) => event.payment.invoiceNumber },
  { header: translate('live.csv.student'), value: (event) => event.payment.studentName },
  { header: translate('live.csv.amount'), value: (event) => new CsvDecimal(minorToInput(event.payment.amount, event.payment.currency)) },
  { header: translate('live.csv.currency'), value: (event) => event.payment.currency },
  { header: translate('live.csv.method'), value: (event) => methodLabel(event.payment.method) },
  { header: translate('live.csv.status'), value: (event) => event.payment.status },
  { header: translate('live.csv.failureCode'), value: (event) => event.payment.failureCode },
  { header: translate('live.csv.gateway'), value: (event) => event.payment.gateway },
  { header: translate('live.csv.transactionId'), value: (event) => event.payment.transactionId },
];

function EventStream({ schoolId, zone }: { schoolId: string; zone: Zone }) {
  const { t } = useT();
  const feed = useLiveFeed();
  const history = feed.history;
  const shown = schoolId ? feed.events.filter((event) => event.payment.schoolId === schoolId) : feed.events;
  const loading = history.isPending;

  const exportCsv = () => {
    const scope = schoolId ? (shown[0]?.payment.schoolName ?? schoolId) : 'all-schools';
    const name = downloadName({ what: 'live-events', scope: [scope], date: localDateTime(new Date().toISOString()).slice(0, 10), ext: 'csv' });
    saveBlob(new Blob([toPeopleCsv(csvFields(), shown)], { type: 'text/csv;charset=utf-8' }), name.utf8);
  };

  return (
    <Card
      title={
        <span className="flex flex-wrap items-center gap-x-3 gap-y-1">
          {t('live.stream')} <LiveIndicator status={feed.status} attempts={feed.attempts} />
          <span className="text-xs font-normal text-slate-600">{describeZone(zone.timeZone, zone.whose)}</span>
        </span>
      }
      testId="event-stream"
      actions={
        <div className="flex items-center gap-2">
          {feed.paused ? (
            <Button size="sm" variant="primary" onClick={feed.resume} data-testid="resume">
              {feed.buffered > 0 ? t('live.resumeNew', { count: formatCount(feed.buffered) }) : t('live.resume')}
            </Button>
          ) : (
            <Button size="sm" onClick={feed.pause}>
              {t('live.pause')}
            </Button>
          )}
          <Button size="sm" onClick={exportCsv} disabled={shown.length === 0}>
            {t('live.exportCsv')}
          </Button>
        </div>
      }
    >
      {history.isError ? (
        <div className="mb-3">
          <ErrorState error={history.error} title={t('live.historyFailed')} onRetry={() => void history.refetch()} />
        </div>
      ) : null}
      {shown.length === 0 && loading && !history.isError ? (
        <Skeleton rows={6} />
      ) : shown.length === 0 ? (
        <EmptyState>{feed.status === 'connected' ? t('live.waiting') : t('live.noEvents')}</EmptyState>
      ) : (
        // A scrolling list: focusable (tabIndex 0) so the keyboard can scroll it too.
        <ol className="max-h-[32rem] space-y-1.5 overflow-y-auto pr-1" aria-label={t('live.list')} data-testid="event-list" tabIndex={0}>
          {shown.map((event) => {
            const style = EVENT_STYLE[event.type];
            const payment = event.payment;
            return (
              <li
                key={event.id}
                data-event={event.type}
                data-testid="live-event"
                data-transaction-id={payment.transactionId}
                data-invoice-id={payment.invoiceId ?? undefined}
                data-amount={payment.amount}
                className={cx('grid grid-cols-[minmax(0,1fr)_auto] items-center gap-x-3 rounded-md border-l-4 px-3 py-2 text-sm sm:grid-cols-[6rem_minmax(0,1fr)_auto]', style.row)}
              >
                <span className="col-span-2 flex items-center gap-1.5 text-xs font-semibold text-slate-700 sm:col-span-1">
                  <span className={cx('h-2 w-2 rounded-full', style.dot)} aria-hidden="true" />
                  {eventLabel(event.type)}
                </span>
                <span className="min-w-0 truncate text-slate-800">
                  <span className="font-medium" data-testid="event-student">
                    {payment.studentName ?? '—'}
                  </span>{' '}
                  · <span data-testid="event-school">{payment.schoolName}</span>
                  {payment.invoiceNumber ? <span className="text-slate-700"> · {payment.invoiceNumber}</span> : null} · {methodLabel(payment.method)}
                  {payment.failureCode ? <span className="ml-1 font-mono text-xs text-rose-700">{payment.failureCode}</span> : null}
                </span>
                <span className="text-right">
                  <span className="block font-semibold tabular-nums">
                    {event.type === 'payment_refunded' ? '−' : ''}
                    {formatMoney(payment.amount, payment.currency)}
                  </span>
                  <time className="block text-xs text-slate-700" dateTime={payment.createdAt} title={formatDateTime(payment.createdAt, zone.timeZone)}>
                    {formatTime(payment.createdAt, zone.timeZone)}
                  </time>
                </span>
              </li>
            );
          })}
        </ol>
      )}
    </Card>
  );
}
