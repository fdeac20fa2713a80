/**
 * Shared bits of the recharts charts (imported only by the pages that draw charts, so
 * the charting code stays out of the other pages' bundles).
 *
 * Accessibility: each chart's <svg> is one image with a name (role="img" and an
 * aria-label saying what it shows), and recharts' keyboard layer is off
 * (accessibilityLayer={false}), so the svg is not an unnamed tab stop; the figures
 * themselves are in the tables and cards beside every chart.
 */
export const TICK = { fontSize: 11, fill: '#475569' } as const; // slate-600: 7.6:1 on white

/** Legend entries in slate-700: recharts colours them like their series (indigo-500 was 4.47:1). */
export const legendText = (value: string) => <span className="text-slate-700">{value}</span>;

export const GRID_STROKE = '#e2e8f0';
