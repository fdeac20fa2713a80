import { Bar, BarChart, CartesianGrid, Legend, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { GRID_STROKE, legendText, TICK } from '../../components/chart';
import { formatCount } from '../../lib/format';
import { useT } from '../../lib/i18n';

/**
 * The Overview's payments-by-method bars. A module of its own so that recharts is
 * loaded (React.lazy in OverviewPage) only when the chart is about to be seen. The svg
 * is one named image (role="img", its figures in the label) and no tab stop
 * (accessibilityLayer off); the table beside it carries the same numbers.
 */
export default function MethodChart({ data }: { data: { label: string; short: string; count: number }[] }) {
  const { t } = useT();
  return (
    <ResponsiveContainer width="100%" height="100%">
      <BarChart
        data={data}
        margin={{ left: -16, right: 8 }}
        accessibilityLayer={false}
        role="img"
        aria-label={t('overview.chartLabel', { figures: data.map((row) => `${row.label} ${formatCount(row.count)}`).join(', ') })}
      >
        <CartesianGrid strokeDasharray="3 3" vertical={false} stroke={GRID_STROKE} />
        <XAxis dataKey="short" tick={TICK} interval={0} />
        <YAxis allowDecimals={false} tick={TICK} tickFormatter={formatCount} />
        <Tooltip labelFormatter={(_, payload) => String((payload[0]?.payload as { label?: string } | undefined)?.label ?? '')} />
        <Legend formatter={legendText} />
        {/* No grow-in animation: a frame of React and SVG work every 16 ms for a second after the page loads, long tasks on a phone. */}
        <Bar dataKey="count" name={t('overview.payments')} fill="#6366f1" radius={[4, 4, 0, 0]} isAnimationActive={false} />
      </BarChart>
    </ResponsiveContainer>
  );
}
