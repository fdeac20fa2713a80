import { useInfiniteQuery, useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { useSession } from '../../app/session';
import { Button, Card, EmptyState, ErrorState, Field, Input, PageHeader, Select, Skeleton, StatusBadge, Table, td, tdNum, th, thNum } from '../../components/ui';
import { formatCount, formatDate, formatMoney, parseMoney } from '../../lib/format';
import { Link } from '../../lib/router';
import { schoolOptionsQuery } from '../../lib/schools';
import { exportPending, pendingQuery, type PendingFilters } from './api';

export function PendingPage() {
  const { can } = useSession();
  const schools = useQuery(schoolOptionsQuery());
  const [schoolId, setSchoolId] = useState('');
  const [grade, setGrade] = useState('');
  const [status, setStatus] = useState('');
  const [minAmount, setMinAmount] = useState('');
  const school = schools.data?.find((candidate) => candidate.id === schoolId);
  // A minimum amount only means something in one currency, so it needs a school.
  const minMinor = school && minAmount.trim() ? parseMoney(minAmount, school.currency) : null;
  const filters: PendingFilters = {
    ...(schoolId ? { schoolId } : {}),
    ...(grade.trim() ? { grade: grade.trim() } : {}),
    ...(status ? { status } : {}),
    ...(minMinor !== null ? { minAmount: minMinor } : {}),
  };
  const pending = useInfiniteQuery(pendingQuery(filters));
  const rows = pending.data?.pages.flatMap((page) => page.data) ?? [];
  const total = pending.data?.pages[0]?.total;

  const [exporting, setExporting] = useState<'csv' | 'xlsx' | null>(null);
  const [exportError, setExportError] = useState<unknown>(null);
  const runExport = async (format: 'csv' | 'xlsx') => {
    setExporting(format);
    setExportError(null);
    try {
      await exportPending(filters, format);
    } catch (error) {
      setExportError(error);
    } finally {
      setExporting(null);
    }
  };

  return (
    <>
      <PageHeader
        title="Pending payments"
        subtitle="Every bill that still owes money, oldest due first."
        actions={
          can('reports:export') ? (
            <>
              <Button onClick={() => void runExport('csv')} disabled={exporting !== null}>
                {exporting === 'csv' ? 'Exporting…' : 'Export CSV'}
              </Button>
              <Button onClick={() => void runExport('xlsx')} disabled={exporting !== null}>
                {exporting === 'xlsx' ? 'Exporting…' : 'Export Excel'}
              </Button>
            </>
          ) : null
        }
      />
      {exportError ? (
        <div className="mb-4">
          <ErrorState error={exportError} title="Export failed" />
        </div>
      ) : null}
      <Card className="mb-6">
        <form className="grid grid-cols-2 gap-3 md:grid-cols-4" onSubmit={(event) => event.preventDefault()} aria-label="Queue filters">
          <Field label="School">
            <Select value={schoolId} onChange={(event) => setSchoolId(event.target.value)} name="schoolId">
              <option value="">All schools</option>
              {schools.data?.map((option) => (
                <option key={option.id} value={option.id}>
                  {option.name}
                </option>
              ))}
            </Select>
          </Field>
          <Field label="Grade">
            <Input value={grade} onChange={(event) => setGrade(event.target.value)} placeholder="Any" name="grade" />
          </Field>
          <Field label="Status">
            <Select value={status} onChange={(event) => setStatus(event.target.value)} name="status">
              <option value="">Any status</option>
              <option value="PENDING">Pending</option>
              <option value="PARTIAL">Partial</option>
              <option value="OVERDUE">Overdue</option>
            </Select>
          </Field>
          <Field label={`Min. pending${school ? ` (${school.currency})` : ''}`} hint={school ? undefined : 'Choose a school first'}>
            <Input value={minAmount} onChange={(event) => setMinAmount(event.target.value)} inputMode="decimal" disabled={!school} name="minAmount" />
          </Field>
        </form>
      </Card>
      <Card title={total !== undefined ? `${formatCount(total)} outstanding bills` : 'Outstanding bills'} testId="pending-queue">
        {pending.isPending ? (
          <Skeleton rows={8} />
        ) : pending.isError ? (
          <ErrorState error={pending.error} onRetry={() => void pending.refetch()} />
        ) : rows.length === 0 ? (
          <EmptyState>Nothing outstanding matches these filters.</EmptyState>
        ) : (
          <>
            <Table label="Pending payments">
              <thead>
                <tr>
                  <th className={th}>Invoice</th>
                  <th className={th}>Student</th>
                  <th className={th}>Grade</th>
                  <th className={th}>School</th>
                  <th className={th}>Due</th>
                  <th className={th}>Status</th>
                  <th className={thNum}>Days late</th>
                  <th className={thNum}>Amount</th>
                  <th className={thNum}>Pending</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((row) => (
                  <tr key={row.invoiceId}>
                    <td className={td}>
                      <Link to={`/invoices/${row.invoiceId}`} className="font-medium text-indigo-700 hover:underline">
                        {row.number}
                      </Link>
                    </td>
                    <td className={td} data-testid="student-name">
                      {row.studentName}
                    </td>
                    <td className={td}>{row.grade}</td>
                    <td className={td}>{row.schoolName}</td>
                    <td className={td}>{formatDate(row.dueDate)}</td>
                    <td className={td}>
                      <StatusBadge status={row.status} />
                    </td>
                    <td className={tdNum}>{row.daysOverdue || '—'}</td>
                    <td className={tdNum}>{formatMoney(row.amount, row.currency)}</td>
                    <td className={tdNum}>{formatMoney(row.pendingAmount, row.currency)}</td>
                  </tr>
                ))}
              </tbody>
            </Table>
            <div className="mt-4 flex items-center gap-3 text-sm text-slate-500">
              <span>
                Showing {formatCount(rows.length)}
                {total !== undefined ? ` of ${formatCount(total)}` : ''}
              </span>
              {pending.hasNextPage ? (
                <Button onClick={() => void pending.fetchNextPage()} disabled={pending.isFetchingNextPage}>
                  {pending.isFetchingNextPage ? 'Loading…' : 'Load more'}
                </Button>
              ) : null}
            </div>
          </>
        )}
      </Card>
    </>
  );
}
