import { useQuery } from '@tanstack/react-query';
import { lazy, Suspense, useRef, useState } from 'react';
import { flushSync } from 'react-dom';
import { WhenVisible } from '../../components/WhenVisible';
import { Button, Card, EmptyState, ErrorState, Field, Input, LoadMore, PageHeader, Select, Skeleton, Stat, StatGrid, StatusBadge, Table, td, tdNum, th, thNum, SchoolOptions } from '../../components/ui';
import { formatCount, formatDate, formatDateTime, formatMoney, methodLabel, PAYMENT_METHODS, viewerTimeZone, zoneOwner } from '../../lib/format';
import { translate, useT } from '../../lib/i18n';
import { Link, useSearchParams } from '../../lib/router';
import { gradeOptionsQuery, schoolOptionsQuery } from '../../lib/schools';
import { dashboardQuery, fetchSchoolsPage, type Amounts, type Dashboard, type DashboardFilters } from './api';

/** recharts comes with the chart, only when it scrolls into view (WhenVisible). */
const MethodChart = lazy(() => import('./MethodChart'));

/** The four figures, each with its label's key under `overview.`. */
const AMOUNT_COLUMNS: { key: keyof Amounts; label: 'due' | 'collected' | 'outstanding' | 'overdue' }[] = [
  { key: 'amountDue', label: 'due' },
  { key: 'amountCollected', label: 'collected' },
  { key: 'amountOutstanding', label: 'outstanding' },
  { key: 'amountOverdue', label: 'overdue' },
];

/** The API's grade key for money received as family credit (src/modules/reporting/rollups.ts, FAMILY_CREDIT_GRADE). */
const FAMILY_CREDIT_GRADE = 'family credit, no grade';
const gradeLabel = (grade: string) => (grade === FAMILY_CREDIT_GRADE ? translate('overview.familyCredit') : translate('overview.gradeName', { grade }));

const FILTER_KEYS = ['schoolId', 'grade', 'method', 'from', 'to'] as const;

export function OverviewPage() {
  const { t } = useT();
  // Filters live in the query string: reload, Back and a shared link keep them.
  const [params, setParams] = useSearchParams();
  const filters: DashboardFilters = Object.fromEntries(FILTER_KEYS.flatMap((key) => (params.get(key) ? [[key, params.get(key)]] : [])));
  const dashboard = useQuery(dashboardQuery(filters));
  const schools = useQuery(schoolOptionsQuery());
  const grades = useQuery(gradeOptionsQuery(filters.schoolId));
  const set = (key: keyof DashboardFilters) => (value: string) => setParams(key === 'schoolId' ? { schoolId: value, grade: undefined } : { [key]: value });
  const data = dashboard.data;
  // One school's figures are read in its zone; a view across schools in the viewer's.
  const school = schools.data?.find((candidate) => candidate.id === filters.schoolId);
  const zone = school ? { timeZone: school.timezone, whose: 'school' as const } : { timeZone: viewerTimeZone(), whose: 'viewer' as const };

  return (
    <>
      <PageHeader
        title={t('overview.title')}
        subtitle={
          data
            ? t('overview.subtitle', { at: formatDateTime(data.generatedAt, zone.timeZone), zone: zoneOwner(zone.timeZone, zone.whose) })
            : t('overview.subtitleLoading')
        }
        actions={dashboard.isFetching && data ? <span className="text-xs text-slate-600">{t('ui.refreshing')}</span> : null}
      />

      <Card className="mb-6">
        <form className="grid grid-cols-2 gap-3 md:grid-cols-3 xl:grid-cols-6" onSubmit={(event) => event.preventDefault()} aria-label={t('overview.filters')}>
          <div className="col-span-2 md:col-span-1">
            <Field label={t('overview.school')}>
              <Select value={filters.schoolId ?? ''} onChange={(event) => set('schoolId')(event.target.value)} name="schoolId">
                <option value="">{t('overview.allSchools')}</option>
                <SchoolOptions schools={schools.data} />
              </Select>
            </Field>
          </div>
          <Field label={t('overview.grade')}>
            <Select value={filters.grade ?? ''} onChange={(event) => set('grade')(event.target.value)} name="grade">
              <option value="">{t('overview.anyGrade')}</option>
              {grades.data?.data.map((grade) => (
                <option key={grade} value={grade}>
                  {grade}
                </option>
              ))}
              {filters.grade && grades.data && !grades.data.data.includes(filters.grade) ? <option value={filters.grade}>{filters.grade}</option> : null}
            </Select>
          </Field>
          <Field label={t('overview.method')}>
            <Select value={filters.method ?? ''} onChange={(event) => set('method')(event.target.value)} name="method">
              <option value="">{t('overview.anyMethod')}</option>
              {PAYMENT_METHODS.map((method) => (
                <option key={method} value={method}>
                  {methodLabel(method)}
                </option>
              ))}
            </Select>
          </Field>
          <Field label={t('overview.from')}>
            <Input type="date" value={filters.from ?? ''} onChange={(event) => set('from')(event.target.value)} name="from" />
          </Field>
          <Field label={t('overview.to')}>
            <Input type="date" value={filters.to ?? ''} onChange={(event) => set('to')(event.target.value)} name="to" />
          </Field>
          <div className="col-span-2 flex items-end md:col-span-1">
            <Button onClick={() => setParams(Object.fromEntries(FILTER_KEYS.map((key) => [key, undefined])))} disabled={Object.keys(filters).length === 0} className="w-full">
              {t('overview.clear')}
            </Button>
          </div>
        </form>
      </Card>

      {dashboard.isPending ? (
        <Card>
          <Skeleton rows={6} />
        </Card>
      ) : dashboard.isError ? (
        <ErrorState error={dashboard.error} onRetry={() => void dashboard.refetch()} />
      ) : data ? (
        <div className="space-y-6">
          {data.totalsByCurrency.length === 0 ? (
            <EmptyState>{t('overview.noMatch')}</EmptyState>
          ) : (
            data.totalsByCurrency.map((totals) => (
              <section key={totals.currency} aria-label={t('overview.totalsIn', { currency: totals.currency })} data-testid={`totals-${totals.currency}`}>
                <h2 className="mb-2 text-xs font-semibold uppercase tracking-wide text-slate-600">{totals.currency}</h2>
                <StatGrid>
                  {AMOUNT_COLUMNS.map(({ key, label }) => (
                    <Stat
                      key={key}
                      label={t(`overview.${label}`)}
                      value={formatMoney(totals[key], totals.currency)}
                      tone={key === 'amountOverdue' && totals[key] > 0 ? 'bad' : key === 'amountCollected' ? 'good' : 'default'}
                      testId={`total-${totals.currency}-${key}`}
                    />
                  ))}
                </StatGrid>
              </section>
            ))
          )}

          <Card title={t('overview.byMethod')}>
            {data.byPaymentMethod.length === 0 ? (
              <EmptyState>{t('overview.noPayments')}</EmptyState>
            ) : (
              <div className="grid grid-cols-1 gap-6 lg:grid-cols-[minmax(0,2fr)_minmax(0,3fr)]">
                <WhenVisible className="h-56 min-w-0">
                  <Suspense fallback={null}>
                    <MethodChart data={methodCounts(data.byPaymentMethod)} />
                  </Suspense>
                </WhenVisible>
                <Table label={t('overview.byMethod')} stickyFirst>
                  <thead>
                    <tr>
                      <th className={th}>{t('overview.method')}</th>
                      <th className={th}>{t('overview.currency')}</th>
                      <th className={thNum}>{t('overview.payments')}</th>
                      <th className={thNum}>{t('overview.amount')}</th>
                    </tr>
                  </thead>
                  <tbody>
                    {data.byPaymentMethod.map((row) => (
                      <tr key={`${row.method}-${row.currency}`}>
                        <td className={td}>{methodLabel(row.method)}</td>
                        <td className={td}>{row.currency}</td>
                        <td className={tdNum}>{formatCount(row.count)}</td>
                        <td className={tdNum}>{formatMoney(row.amount, row.currency)}</td>
                      </tr>
                    ))}
                  </tbody>
                </Table>
              </div>
            )}
          </Card>

          <Card title={t('overview.byGrade')} testId="by-grade">
            {data.byGrade.length === 0 ? (
              <EmptyState>{t('overview.noGrades')}</EmptyState>
            ) : (
              <AmountsTable label={t('overview.byGrade')} rows={data.byGrade.map((row) => ({ key: `${row.grade}-${row.currency}`, name: gradeLabel(row.grade), ...row }))} />
            )}
          </Card>

          <BySchoolCard key={JSON.stringify(filters)} filters={filters} first={data} />

          <Card title={t('overview.outstandingTitle')} testId="outstanding-sample">
            {data.outstandingSample.length === 0 ? (
              <EmptyState>{t('overview.nothingOutstanding')}</EmptyState>
            ) : (
              <Table label={t('overview.outstandingTable')} stickyFirst>
                <thead>
                  <tr>
                    <th className={th}>{t('overview.invoice')}</th>
                    <th className={th}>{t('overview.student')}</th>
                    <th className={th}>{t('overview.school')}</th>
                    <th className={th}>{t('overview.due')}</th>
                    <th className={th}>{t('overview.status')}</th>
                    <th className={thNum}>{t('overview.pending')}</th>
                  </tr>
                </thead>
                <tbody>
                  {data.outstandingSample.map((row) => (
                    <tr key={row.invoiceId}>
                      <td className={td}>
                        <Link to={`/invoices/${row.invoiceId}`} className="font-medium text-indigo-700 hover:underline">
                          {row.number}
                        </Link>
                      </td>
                      <td className={td} data-testid="student-name">
                        {row.studentName}
                      </td>
                      <td className={td}>{row.schoolName}</td>
                      <td className={td}>{formatDate(row.dueDate)}</td>
                      <td className={td}>
                        <StatusBadge status={row.status} />
                      </td>
                      <td className={tdNum}>{formatMoney(row.pendingAmount, row.currency)}</td>
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

/** Payment counts by method across currencies (counts add up; amounts never do). */
function methodCounts(rows: { method: string; count: number }[]) {
  const counts = new Map<string, number>();
  for (const row of rows) {
    counts.set(row.method, (counts.get(row.method) ?? 0) + row.count);
  }
  // Short axis labels fit six bars on a phone; the tooltip has the full name.
  const short = (method: string) => translate(`overview.short.${method}`, { defaultValue: methodLabel(method) });
  return [...counts].map(([method, count]) => ({ label: methodLabel(method), short: short(method), count }));
}

/**
 * Schools, one page at a time (largest outstanding first): the dashboard's first page,
 * then the next ones with Load more. Kept until the filters change (the key above).
 */
function BySchoolCard({ filters, first }: { filters: DashboardFilters; first: Dashboard }) {
  const { t } = useT();
  const [more, setMore] = useState<{ rows: Dashboard['bySchool']; next: string | null; loading: boolean }>({ rows: [], next: null, loading: false });
  const list = useRef<HTMLDivElement>(null);
  const next = more.rows.length === 0 ? first.bySchoolNextCursor : more.next;
  // A refreshed first page may overlap what was loaded after it: each school once.
  const seen = new Set<string>();
  const rows = [...first.bySchool, ...more.rows].filter((row) => {
    if (seen.has(row.schoolId)) {
      return false;
    }
    seen.add(row.schoolId);
    return true;
  });
  const load = async () => {
    if (next === null) {
      return;
    }
    setMore((current) => ({ ...current, loading: true }));
    try {
      const page = await fetchSchoolsPage(filters, next);
      // Rendered before Load more's promise settles, so it can move focus to the first new row.
      flushSync(() => setMore((current) => ({ rows: [...current.rows, ...page.bySchool], next: page.bySchoolNextCursor, loading: false })));
    } catch {
      setMore((current) => ({ ...current, loading: false }));
    }
  };
  return (
    <Card title={t('overview.bySchool')} testId="by-school">
      {rows.length === 0 ? (
        <EmptyState>{t('overview.noSchools')}</EmptyState>
      ) : (
        <div ref={list}>
          <AmountsTable label={t('overview.bySchool')} rows={rows.map((row) => ({ key: row.schoolId, name: row.schoolName, link: `/schools/${row.schoolId}`, ...row }))} />
          {first.schoolCount > first.bySchool.length ? (
            <LoadMore shown={rows.length} total={first.schoolCount} noun={(count) => t('overview.schoolsNoun', { count })} hasNextPage={next !== null} loading={more.loading} onLoad={load} list={list} />
          ) : null}
        </div>
      )}
    </Card>
  );
}

function AmountsTable({ label, rows }: { label: string; rows: ({ key: string; name: string; link?: string; currency: string } & Amounts)[] }) {
  const { t } = useT();
  return (
    <Table label={label} stickyFirst>
      <thead>
        <tr>
          <th className={th}>{t('overview.name')}</th>
          <th className={th}>{t('overview.currency')}</th>
          {AMOUNT_COLUMNS.map((column) => (
            <th key={column.key} className={thNum}>
              {t(`overview.${column.label}`)}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {rows.map((row) => (
          <tr key={row.key} data-row tabIndex={-1} className="focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500">
            <td className={td}>
              {row.link ? (
                <Link to={row.link} className="font-medium text-indigo-700 hover:underline">
                  {row.name}
                </Link>
              ) : (
                row.name
              )}
            </td>
            <td className={td}>{row.currency}</td>
            {AMOUNT_COLUMNS.map((column) => (
              <td key={column.key} className={tdNum}>
                {formatMoney(row[column.key], row.currency)}
              </td>
            ))}
          </tr>
        ))}
      </tbody>
    </Table>
  );
}
