import { useQuery, type UseQueryResult } from '@tanstack/react-query';
import { useMemo, useState } from 'react';
import { Bar, BarChart, CartesianGrid, ComposedChart, Legend, Line, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { Button, Card, cx, EmptyState, ErrorState, PageHeader, Select, Skeleton, Stat } from '../../components/ui';
import { saveBlob } from '../../lib/api';
import { toCsv } from '../../lib/csv';
import { currencyDecimals, formatCount, formatDateTime, formatMoney, formatPercent, formatTime, methodLabel } from '../../lib/format';
import { schoolOptionsQuery } from '../../lib/schools';
import { methodsQuery, metricsQuery, trendsQuery, type LiveEventType, type Metrics, type Period } from './api';
import { useLiveFeed, type LiveStatus } from './useLiveFeed';

const PERIODS: { value: Period; label: string }[] = [
  { value: 'day', label: 'Day' },
  { value: 'week', label: 'Week' },
  { value: 'month', label: 'Month' },
];

const EVENT_STYLE: Record<LiveEventType, { label: string; row: string; dot: string }> = {
  payment_received: { label: 'Received', row: 'border-l-emerald-500 bg-emerald-50/60', dot: 'bg-emerald-500' },
  payment_failed: { label: 'Failed', row: 'border-l-rose-500 bg-rose-50/60', dot: 'bg-rose-500' },
  payment_refunded: { label: 'Refunded', row: 'border-l-amber-500 bg-amber-50/60', dot: 'bg-amber-500' },
};

export function LivePage() {
  const [schoolId, setSchoolId] = useState('');
  const [period, setPeriod] = useState<Period>('day');
  const schools = useQuery(schoolOptionsQuery());
  const metrics = useQuery(metricsQuery(period, schoolId));
  const currencies = metrics.data?.byCurrency.map((row) => row.currency) ?? [];
  const [chosenCurrency, setCurrency] = useState<string | null>(null);
  const currency = chosenCurrency && currencies.includes(chosenCurrency) ? chosenCurrency : (currencies[0] ?? null);

  return (
    <>
      <PageHeader
        title="Live"
        subtitle="Payments as they happen."
        actions={
          <>
            {schools.data && schools.data.length > 1 ? (
              <Select value={schoolId} onChange={(event) => setSchoolId(event.target.value)} className="sm:w-56" aria-label="School" name="schoolId">
                <option value="">All my schools</option>
                {schools.data.map((school) => (
                  <option key={school.id} value={school.id}>
                    {school.name}
                  </option>
                ))}
              </Select>
            ) : null}
            {currencies.length > 1 ? (
              <Select value={currency ?? ''} onChange={(event) => setCurrency(event.target.value)} className="sm:w-28" aria-label="Currency for charts" name="currency">
                {currencies.map((code) => (
                  <option key={code}>{code}</option>
                ))}
              </Select>
            ) : null}
            <PeriodPicker value={period} onChange={setPeriod} />
          </>
        }
      />
      <div className="space-y-6">
        <MetricCards query={metrics} />
        <div className="grid gap-6 lg:grid-cols-3">
          <TrendCard period={period} schoolId={schoolId} currency={currency} />
          <MethodsCard period={period} schoolId={schoolId} currency={currency} />
        </div>
        <EventStream schoolId={schoolId} />
      </div>
    </>
  );
}

function PeriodPicker({ value, onChange }: { value: Period; onChange: (period: Period) => void }) {
  return (
    <div role="group" aria-label="Period" className="inline-flex rounded-lg border border-slate-300 bg-white p-0.5">
      {PERIODS.map((option) => (
        <button
          key={option.value}
          type="button"
          aria-pressed={value === option.value}
          onClick={() => onChange(option.value)}
          className={cx('rounded-md px-3 py-1 text-xs font-medium', value === option.value ? 'bg-indigo-600 text-white' : 'text-slate-600 hover:bg-slate-100')}
        >
          {option.label}
        </button>
      ))}
    </div>
  );
}

const PERIOD_TEXT: Record<Period, string> = { day: 'last 24 hours', week: 'last 7 days', month: 'last 30 days' };

function MetricCards({ query }: { query: UseQueryResult<Metrics> }) {
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
    return <EmptyState>No schools to report on.</EmptyState>;
  }
  const span = PERIOD_TEXT[query.data.period];
  return (
    <div className="space-y-4" data-testid="live-metrics">
      {query.data.byCurrency.map((row) => (
        <section key={row.currency} aria-label={`${row.currency}, ${span}`} data-testid={`metrics-${row.currency}`}>
          <h2 className="mb-2 text-xs font-semibold uppercase tracking-wide text-slate-500">
            {row.currency} · {span}
          </h2>
          <div className="grid grid-cols-2 gap-3 md:grid-cols-4">
            <Stat
              label="Volume"
              value={formatMoney(row.totalVolume, row.currency)}
              hint={row.refundedAmount > 0 ? `${formatMoney(row.succeededAmount, row.currency)} in − ${formatMoney(row.refundedAmount, row.currency)} refunded` : 'net of refunds'}
              tone="good"
              testId={`metric-${row.currency}-totalVolume`}
            />
            <Stat label="Payments" value={formatCount(row.totalPayments)} testId={`metric-${row.currency}-totalPayments`} />
            <Stat label="Success rate" value={formatPercent(row.successRate)} testId={`metric-${row.currency}-successRate`} />
            <Stat label="Average payment" value={row.totalPayments > 0 ? formatMoney(row.averageAmount, row.currency) : '—'} testId={`metric-${row.currency}-averageAmount`} />
            <Stat
              label="Failed"
              value={formatCount(row.failedPayments)}
              tone={row.failedPayments > 0 ? 'bad' : 'default'}
              testId={`metric-${row.currency}-failedPayments`}
            />
            <Stat
              label="Refunded"
              value={formatMoney(row.refundedAmount, row.currency)}
              hint={`${formatCount(row.refunds)} refund${row.refunds === 1 ? '' : 's'}`}
              tone={row.refundedAmount > 0 ? 'warn' : 'default'}
              testId={`metric-${row.currency}-refundedAmount`}
            />
            <Stat
              label="Peak hour"
              value={row.peakHour === null ? '—' : `${String(row.peakHour).padStart(2, '0')}:00 UTC`}
              testId={`metric-${row.currency}-peakHour`}
            />
            <Stat label="Top method" value={row.topPaymentMethod ? methodLabel(row.topPaymentMethod) : '—'} testId={`metric-${row.currency}-topPaymentMethod`} />
          </div>
        </section>
      ))}
    </div>
  );
}

const BUCKET_LABEL = {
  // Hours in the viewer's clock; days are UTC days, shown as such (never shifted a day by the zone).
  hour: new Intl.DateTimeFormat('en-GB', { hour: '2-digit', minute: '2-digit' }),
  day: new Intl.DateTimeFormat('en-GB', { day: '2-digit', month: 'short', timeZone: 'UTC' }),
};

function TrendCard({ period, schoolId, currency }: { period: Period; schoolId: string; currency: string | null }) {
  const trends = useQuery(trendsQuery(period, schoolId));
  const points = useMemo(() => {
    if (!trends.data || !currency) {
      return [];
    }
    const scale = 10 ** currencyDecimals(currency);
    const label = BUCKET_LABEL[trends.data.unit];
    return trends.data.points
      .filter((point) => point.currency === currency)
      .map((point) => ({
        label: label.format(new Date(point.bucket)),
        amount: point.amount / scale,
        refunded: point.refunded / scale,
        count: point.count,
        failed: point.failed,
      }));
  }, [trends.data, currency]);
  const active = points.some((point) => point.count > 0 || point.failed > 0 || point.refunded > 0);

  return (
    <Card className="lg:col-span-2" title={`Trend · ${PERIOD_TEXT[period]}${currency ? ` · ${currency}` : ''}`} testId="trend-chart">
      {trends.isPending ? (
        <Skeleton rows={5} />
      ) : trends.isError ? (
        <ErrorState error={trends.error} onRetry={() => void trends.refetch()} />
      ) : !active ? (
        <EmptyState>No payments in this period.</EmptyState>
      ) : (
        <div className="h-72" role="img" aria-label={`Collected amount and payment count per ${trends.data.unit}`}>
          <ResponsiveContainer width="100%" height="100%">
            <ComposedChart data={points} margin={{ left: 0, right: 8 }}>
              <CartesianGrid strokeDasharray="3 3" vertical={false} stroke="#e2e8f0" />
              <XAxis dataKey="label" tick={{ fontSize: 11 }} minTickGap={16} />
              <YAxis yAxisId="amount" tick={{ fontSize: 11 }} width={64} />
              <YAxis yAxisId="count" orientation="right" allowDecimals={false} tick={{ fontSize: 11 }} width={32} />
              <Tooltip />
              <Legend />
              <Bar isAnimationActive={false} yAxisId="count" dataKey="count" name="Payments" fill="#c7d2fe" radius={[3, 3, 0, 0]} />
              <Bar isAnimationActive={false} yAxisId="count" dataKey="failed" name="Failed" fill="#fda4af" radius={[3, 3, 0, 0]} />
              <Line isAnimationActive={false} yAxisId="amount" type="monotone" dataKey="amount" name={`Collected (${currency ?? ''})`} stroke="#4f46e5" strokeWidth={2} dot={false} />
              <Line isAnimationActive={false} yAxisId="amount" type="monotone" dataKey="refunded" name={`Refunded (${currency ?? ''})`} stroke="#f59e0b" strokeWidth={2} dot={false} />
            </ComposedChart>
          </ResponsiveContainer>
        </div>
      )}
    </Card>
  );
}

function MethodsCard({ period, schoolId, currency }: { period: Period; schoolId: string; currency: string | null }) {
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
    <Card title={`Payment methods${currency ? ` · ${currency}` : ''}`} testId="methods-chart">
      {methods.isPending ? (
        <Skeleton rows={5} />
      ) : methods.isError ? (
        <ErrorState error={methods.error} onRetry={() => void methods.refetch()} />
      ) : rows.length === 0 ? (
        <EmptyState>No payments in this period.</EmptyState>
      ) : (
        <div className="h-72" role="img" aria-label="Amount collected per payment method">
          <ResponsiveContainer width="100%" height="100%">
            <BarChart data={rows} layout="vertical" margin={{ left: 16, right: 8 }}>
              <CartesianGrid strokeDasharray="3 3" horizontal={false} stroke="#e2e8f0" />
              <XAxis type="number" tick={{ fontSize: 11 }} />
              <YAxis type="category" dataKey="label" tick={{ fontSize: 11 }} width={88} />
              <Tooltip />
              <Legend />
              <Bar isAnimationActive={false} dataKey="amount" name={`Collected (${currency ?? ''})`} fill="#10b981" radius={[0, 3, 3, 0]} />
            </BarChart>
          </ResponsiveContainer>
        </div>
      )}
    </Card>
  );
}

const STATUS_LABEL: Record<LiveStatus, string> = {
  connecting: 'Connecting',
  connected: 'LIVE',
  reconnecting: 'Reconnecting',
  paused: 'Paused',
};

function LiveIndicator({ status, attempts }: { status: LiveStatus; attempts: number }) {
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
      {STATUS_LABEL[status]}
      {status === 'reconnecting' && attempts > 1 ? ` (attempt ${attempts})` : ''}
    </span>
  );
}

const CSV_COLUMNS = [
  'id',
  'type',
  'createdAt',
  'schoolName',
  'invoiceNumber',
  'studentName',
  'amount',
  'currency',
  'method',
  'status',
  'gateway',
  'failureCode',
  'transactionId',
  'invoiceId',
  'schoolId',
] as const;

function EventStream({ schoolId }: { schoolId: string }) {
  const feed = useLiveFeed();
  const history = feed.history;
  const shown = schoolId ? feed.events.filter((event) => event.payment.schoolId === schoolId) : feed.events;
  const loading = history.isPending;

  const exportCsv = () => {
    // Amounts are minor units, as the API gives them (with their currency).
    const rows = shown.map((event) => ({ id: event.id, type: event.type, ...event.payment }));
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    saveBlob(new Blob([toCsv(CSV_COLUMNS, rows)], { type: 'text/csv;charset=utf-8' }), `live-events-${stamp}.csv`);
  };

  return (
    <Card
      title={
        <span className="flex items-center gap-3">
          Event stream <LiveIndicator status={feed.status} attempts={feed.attempts} />
        </span>
      }
      testId="event-stream"
      actions={
        <div className="flex items-center gap-2">
          {feed.paused ? (
            <Button size="sm" variant="primary" onClick={feed.resume} data-testid="resume">
              Resume{feed.buffered > 0 ? ` (${formatCount(feed.buffered)} new)` : ''}
            </Button>
          ) : (
            <Button size="sm" onClick={feed.pause}>
              Pause
            </Button>
          )}
          <Button size="sm" onClick={exportCsv} disabled={shown.length === 0}>
            Export CSV
          </Button>
        </div>
      }
    >
      {history.isError ? (
        <div className="mb-3">
          <ErrorState error={history.error} title="Recent transactions could not be loaded" onRetry={() => void history.refetch()} />
        </div>
      ) : null}
      {shown.length === 0 && loading && !history.isError ? (
        <Skeleton rows={6} />
      ) : shown.length === 0 ? (
        <EmptyState>{feed.status === 'connected' ? 'Waiting for payments…' : 'No events yet.'}</EmptyState>
      ) : (
        <ol className="max-h-[32rem] space-y-1.5 overflow-y-auto pr-1" aria-label="Payment events, newest first" data-testid="event-list">
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
                className={cx('grid grid-cols-[6rem_1fr_auto] items-center gap-x-3 rounded-md border-l-4 px-3 py-2 text-sm', style.row)}
              >
                <span className="flex items-center gap-1.5 text-xs font-semibold text-slate-700">
                  <span className={cx('h-2 w-2 rounded-full', style.dot)} aria-hidden="true" />
                  {style.label}
                </span>
                <span className="min-w-0 truncate text-slate-700">
                  <span className="font-medium" data-testid="event-student">
                    {payment.studentName ?? '—'}
                  </span>{' '}
                  · <span data-testid="event-school">{payment.schoolName}</span>
                  {payment.invoiceNumber ? <span className="text-slate-500"> · {payment.invoiceNumber}</span> : null} · {methodLabel(payment.method)}
                  {payment.failureCode ? <span className="ml-1 font-mono text-xs text-rose-700">{payment.failureCode}</span> : null}
                </span>
                <span className="text-right">
                  <span className="block font-semibold tabular-nums">
                    {event.type === 'payment_refunded' ? '−' : ''}
                    {formatMoney(payment.amount, payment.currency)}
                  </span>
                  <time className="block text-xs text-slate-500" dateTime={payment.createdAt} title={formatDateTime(payment.createdAt)}>
                    {formatTime(payment.createdAt)}
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
