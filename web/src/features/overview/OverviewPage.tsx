import { useQuery } from '@tanstack/react-query';
import { lazy, Suspense } from 'react';
import { WhenVisible } from '../../components/WhenVisible';
import { Button, Card, EmptyState, ErrorState, Field, Input, PageHeader, Select, Skeleton, Stat, StatGrid, StatusBadge, Table, td, tdNum, th, thNum, SchoolOptions } from '../../components/ui';
import { formatCount, formatDate, formatDateTime, formatMoney, methodLabel, PAYMENT_METHODS, viewerTimeZone, zoneOwner } from '../../lib/format';
import { Link, useSearchParams } from '../../lib/router';
import { gradeOptionsQuery, schoolOptionsQuery } from '../../lib/schools';
import { dashboardQuery, type Amounts, type DashboardFilters } from './api';

/** recharts comes with the chart, only when it scrolls into view (WhenVisible). */
const MethodChart = lazy(() => import('./MethodChart'));

const AMOUNT_COLUMNS: { key: keyof Amounts; label: string }[] = [
  { key: 'amountDue', label: 'Due' },
  { key: 'amountCollected', label: 'Collected' },
  { key: 'amountOutstanding', label: 'Outstanding' },
  { key: 'amountOverdue', label: 'Overdue' },
];

/** The API's grade key for money received as family credit (src/modules/reporting/rollups.ts, FAMILY_CREDIT_GRADE). */
const FAMILY_CREDIT_GRADE = 'family credit, no grade';
const gradeLabel = (grade: string) => (grade === FAMILY_CREDIT_GRADE ? 'Family credit (no grade)' : `Grade ${grade}`);

const FILTER_KEYS = ['schoolId', 'grade', 'method', 'from', 'to'] as const;

export function OverviewPage() {
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
        title="Overview"
        subtitle={
          data
            ? `Due vs collected, never summed across currencies · updated ${formatDateTime(data.generatedAt, zone.timeZone)} (${zoneOwner(zone.timeZone, zone.whose)})`
            : 'Due vs collected across your schools'
        }
        actions={dashboard.isFetching && data ? <span className="text-xs text-slate-600">Refreshing…</span> : null}
      />

      <Card className="mb-6">
        <form className="grid grid-cols-2 gap-3 md:grid-cols-3 xl:grid-cols-6" onSubmit={(event) => event.preventDefault()} aria-label="Dashboard filters">
          <div className="col-span-2 md:col-span-1">
            <Field label="School">
              <Select value={filters.schoolId ?? ''} onChange={(event) => set('schoolId')(event.target.value)} name="schoolId">
                <option value="">All schools</option>
                <SchoolOptions schools={schools.data} />
              </Select>
            </Field>
          </div>
          <Field label="Grade">
            <Select value={filters.grade ?? ''} onChange={(event) => set('grade')(event.target.value)} name="grade">
              <option value="">Any grade</option>
              {grades.data?.data.map((grade) => (
                <option key={grade} value={grade}>
                  {grade}
                </option>
              ))}
              {filters.grade && grades.data && !grades.data.data.includes(filters.grade) ? <option value={filters.grade}>{filters.grade}</option> : null}
            </Select>
          </Field>
          <Field label="Method">
            <Select value={filters.method ?? ''} onChange={(event) => set('method')(event.target.value)} name="method">
              <option value="">Any method</option>
              {PAYMENT_METHODS.map((method) => (
                <option key={method} value={method}>
                  {methodLabel(method)}
                </option>
              ))}
            </Select>
          </Field>
          <Field label="From">
            <Input type="date" value={filters.from ?? ''} onChange={(event) => set('from')(event.target.value)} name="from" />
          </Field>
          <Field label="To">
            <Input type="date" value={filters.to ?? ''} onChange={(event) => set('to')(event.target.value)} name="to" />
          </Field>
          <div className="col-span-2 flex items-end md:col-span-1">
            <Button onClick={() => setParams(Object.fromEntries(FILTER_KEYS.map((key) => [key, undefined])))} disabled={Object.keys(filters).length === 0} className="w-full">
              Clear filters
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
            <EmptyState>No invoices or payments match these filters.</EmptyState>
          ) : (
            data.totalsByCurrency.map((totals) => (
              <section key={totals.currency} aria-label={`Totals in ${totals.currency}`} data-testid={`totals-${totals.currency}`}>
                <h2 className="mb-2 text-xs font-semibold uppercase tracking-wide text-slate-600">{totals.currency}</h2>
                <StatGrid>
                  {AMOUNT_COLUMNS.map(({ key, label }) => (
                    <Stat
                      key={key}
                      label={label}
                      value={formatMoney(totals[key], totals.currency)}
                      tone={key === 'amountOverdue' && totals[key] > 0 ? 'bad' : key === 'amountCollected' ? 'good' : 'default'}
                      testId={`total-${totals.currency}-${key}`}
                    />
                  ))}
                </StatGrid>
              </section>
            ))
          )}

          <Card title="Payments by method">
            {data.byPaymentMethod.length === 0 ? (
              <EmptyState>No payments in this selection.</EmptyState>
            ) : (
              <div className="grid grid-cols-1 gap-6 lg:grid-cols-[minmax(0,2fr)_minmax(0,3fr)]">
                <WhenVisible className="h-56 min-w-0">
                  <Suspense fallback={null}>
                    <MethodChart data={methodCounts(data.byPaymentMethod)} />
                  </Suspense>
                </WhenVisible>
                <Table label="Payments by method" stickyFirst>
                  <thead>
                    <tr>
                      <th className={th}>Method</th>
                      <th className={th}>Currency</th>
                      <th className={thNum}>Payments</th>
                      <th className={thNum}>Amount</th>
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

          <Card title="By grade" testId="by-grade">
            {data.byGrade.length === 0 ? (
              <EmptyState>No grades in this selection.</EmptyState>
            ) : (
              <AmountsTable label="By grade" rows={data.byGrade.map((row) => ({ key: `${row.grade}-${row.currency}`, name: gradeLabel(row.grade), ...row }))} />
            )}
          </Card>

          <Card title="By school" actions={data.bySchoolTruncated ? <span className="text-xs text-amber-800">Showing the first 1,000 schools</span> : null} testId="by-school">
            {data.bySchool.length === 0 ? (
              <EmptyState>No schools in this selection.</EmptyState>
            ) : (
              <AmountsTable
                label="By school"
                rows={data.bySchool.map((row) => ({ key: row.schoolId, name: row.schoolName, link: `/schools/${row.schoolId}`, ...row }))}
              />
            )}
          </Card>

          <Card title="Outstanding — oldest due first" testId="outstanding-sample">
            {data.outstandingSample.length === 0 ? (
              <EmptyState>Nothing outstanding. Every bill is paid.</EmptyState>
            ) : (
              <Table label="Outstanding invoices" stickyFirst>
                <thead>
                  <tr>
                    <th className={th}>Invoice</th>
                    <th className={th}>Student</th>
                    <th className={th}>School</th>
                    <th className={th}>Due</th>
                    <th className={th}>Status</th>
                    <th className={thNum}>Pending</th>
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
  const short: Record<string, string> = { bank_transfer: 'Transfer', cash_voucher: 'Voucher', direct_debit: 'Debit' };
  return [...counts].map(([method, count]) => ({ label: methodLabel(method), short: short[method] ?? methodLabel(method), count }));
}

function AmountsTable({ label, rows }: { label: string; rows: ({ key: string; name: string; link?: string; currency: string } & Amounts)[] }) {
  return (
    <Table label={label} stickyFirst>
      <thead>
        <tr>
          <th className={th}>Name</th>
          <th className={th}>Currency</th>
          {AMOUNT_COLUMNS.map((column) => (
            <th key={column.key} className={thNum}>
              {column.label}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {rows.map((row) => (
          <tr key={row.key}>
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
