import { useInfiniteQuery, useQuery } from '@tanstack/react-query';
import { useRef, useState } from 'react';
import { useSession } from '../../app/session';
import { Button, Card, describeError, EmptyState, ErrorState, Field, Input, LoadMore, Notice, PageHeader, Select, Skeleton, StatusBadge, Table, td, tdNum, th, thNum, SchoolOptions } from '../../components/ui';
import { Trans } from 'react-i18next';
import { translateAmountError } from '../../components/money';
import { parseAmount } from '../../lib/amount';
import { enumLabel, formatBytes, formatCount, formatDate, formatMoney } from '../../lib/format';
import { useT } from '../../lib/i18n';
import { Link, useSearchParams } from '../../lib/router';
import { gradeOptionsQuery, schoolOptionsQuery } from '../../lib/schools';
import { exportPending, pendingQuery, type PendingFilters } from './api';

type ExportState = { kind: 'running'; format: 'csv' | 'xlsx' } | { kind: 'done'; filename: string; bytes: number } | { kind: 'failed'; error: unknown } | null;

export function PendingPage() {
  const { t } = useT();
  const { can } = useSession();
  const schools = useQuery(schoolOptionsQuery());
  // Filters live in the query string: reload, Back from an invoice and a shared link keep them.
  const [params, setParams] = useSearchParams();
  const schoolId = params.get('schoolId') ?? '';
  const grade = params.get('grade') ?? '';
  const status = params.get('status') ?? '';
  const minAmount = params.get('min') ?? '';
  const grades = useQuery(gradeOptionsQuery(schoolId || undefined));
  const school = schools.data?.find((candidate) => candidate.id === schoolId);
  // A minimum amount only means something in one currency, so it needs a school.
  const parsedMin = school && minAmount.trim() ? parseAmount(minAmount, school.currency) : null;
  const minError = parsedMin && !parsedMin.ok ? translateAmountError(parsedMin.error) : null;
  const filters: PendingFilters = {
    ...(schoolId ? { schoolId } : {}),
    ...(grade ? { grade } : {}),
    ...(status ? { status } : {}),
    ...(parsedMin?.ok && parsedMin.minor > 0 ? { minAmount: parsedMin.minor } : {}),
  };
  const pending = useInfiniteQuery(pendingQuery(filters));
  const rows = pending.data?.pages.flatMap((page) => page.data) ?? [];
  const total = pending.data?.pages[0]?.total;
  const list = useRef<HTMLTableSectionElement>(null);

  const [exported, setExported] = useState<ExportState>(null);
  const runExport = async (format: 'csv' | 'xlsx') => {
    if (exported?.kind === 'running') {
      return;
    }
    setExported({ kind: 'running', format });
    try {
      setExported({ kind: 'done', ...(await exportPending(filters, format)) });
    } catch (error) {
      setExported({ kind: 'failed', error });
    }
  };
  const running = exported?.kind === 'running' ? exported.format : null;

  return (
    <>
      <PageHeader
        title={t('pending.title')}
        subtitle={t('pending.subtitle')}
        actions={
          can('reports:export') ? (
            <>
              <Button onClick={() => void runExport('csv')} busy={running !== null}>
                {running === 'csv' ? t('pending.exporting') : t('pending.exportCsv')}
              </Button>
              <Button onClick={() => void runExport('xlsx')} busy={running !== null}>
                {running === 'xlsx' ? t('pending.exporting') : t('pending.exportExcel')}
              </Button>
            </>
          ) : null
        }
      />
      {/* The export's outcome stays until dismissed or the next export; it takes focus when it arrives. */}
      <div className="mb-4 empty:hidden" data-testid="export-status">
        {exported?.kind === 'running' ? (
          <Notice tone="info" focusOnMount={false}>
            {t('pending.exportRunning', { format: exported.format === 'csv' ? 'CSV' : 'Excel' })}
          </Notice>
        ) : exported?.kind === 'done' ? (
          <Notice tone="success" onDismiss={() => setExported(null)} testId="export-done">
            <Trans t={t} i18nKey="pending.exportDone" values={{ filename: exported.filename, size: formatBytes(exported.bytes) }} components={{ 1: <span className="font-medium" /> }} />
          </Notice>
        ) : exported?.kind === 'failed' ? (
          <Notice tone="error" onDismiss={() => setExported(null)} testId="export-failed">
            <span className="font-semibold">{t('pending.exportFailed')}</span> {describeError(exported.error).detail}
          </Notice>
        ) : null}
      </div>
      <Card className="mb-6">
        <form className="grid grid-cols-2 gap-3 md:grid-cols-4" onSubmit={(event) => event.preventDefault()} aria-label={t('pending.filters')}>
          <Field label={t('pending.school')}>
            <Select value={schoolId} onChange={(event) => setParams({ schoolId: event.target.value, grade: undefined, min: undefined })} name="schoolId">
              <option value="">{t('pending.allSchools')}</option>
              <SchoolOptions schools={schools.data} />
            </Select>
          </Field>
          <Field label={t('pending.grade')}>
            <Select value={grade} onChange={(event) => setParams({ grade: event.target.value })} name="grade">
              <option value="">{t('pending.anyGrade')}</option>
              {grades.data?.data.map((option) => (
                <option key={option} value={option}>
                  {option}
                </option>
              ))}
              {grade && grades.data && !grades.data.data.includes(grade) ? <option value={grade}>{grade}</option> : null}
            </Select>
          </Field>
          <Field label={t('pending.status')}>
            <Select value={status} onChange={(event) => setParams({ status: event.target.value })} name="status">
              <option value="">{t('pending.anyStatus')}</option>
              <option value="PENDING">{enumLabel('status', 'PENDING')}</option>
              <option value="PARTIAL">{enumLabel('status', 'PARTIAL')}</option>
              <option value="OVERDUE">{enumLabel('status', 'OVERDUE')}</option>
            </Select>
          </Field>
          <Field label={school ? t('pending.minPendingIn', { currency: school.currency }) : t('pending.minPending')} hint={school ? undefined : t('pending.chooseSchool')} error={minError}>
            <Input value={minAmount} onChange={(event) => setParams({ min: event.target.value })} inputMode="decimal" disabled={!school} name="minAmount" />
          </Field>
        </form>
      </Card>
      <Card title={total !== undefined ? t('pending.countTitle', { count: formatCount(total) }) : t('pending.queueTitle')} testId="pending-queue">
        {pending.isPending ? (
          <Skeleton rows={8} />
        ) : pending.isError ? (
          <ErrorState error={pending.error} onRetry={() => void pending.refetch()} />
        ) : rows.length === 0 ? (
          <EmptyState>{t('pending.empty')}</EmptyState>
        ) : (
          <>
            <Table label={t('pending.table')} stickyFirst>
              <thead>
                <tr>
                  <th className={th}>{t('pending.invoice')}</th>
                  <th className={thNum}>{t('pending.pendingAmount')}</th>
                  <th className={th}>{t('pending.status')}</th>
                  <th className={th}>{t('pending.student')}</th>
                  <th className={th}>{t('pending.due')}</th>
                  <th className={thNum}>{t('pending.daysLate')}</th>
                  <th className={thNum}>{t('pending.amount')}</th>
                  <th className={th}>{t('pending.grade')}</th>
                  <th className={th}>{t('pending.school')}</th>
                </tr>
              </thead>
              <tbody ref={list}>
                {rows.map((row) => (
                  <tr key={row.invoiceId} data-row tabIndex={-1} className="focus:outline-none focus-visible:bg-indigo-50">
                    <td className={td}>
                      <Link to={`/invoices/${row.invoiceId}`} className="font-medium text-indigo-700 hover:underline">
                        {row.number}
                      </Link>
                    </td>
                    <td className={`${tdNum} font-medium`}>{formatMoney(row.pendingAmount, row.currency)}</td>
                    <td className={td}>
                      <StatusBadge status={row.status} />
                    </td>
                    <td className={td} data-testid="student-name">
                      {row.studentName}
                    </td>
                    <td className={td}>{formatDate(row.dueDate)}</td>
                    <td className={tdNum}>{row.daysOverdue || '—'}</td>
                    <td className={tdNum}>{formatMoney(row.amount, row.currency)}</td>
                    <td className={td}>{row.grade}</td>
                    <td className={td}>{row.schoolName}</td>
                  </tr>
                ))}
              </tbody>
            </Table>
            <LoadMore
              shown={rows.length}
              total={total}
              noun={(count) => t('pending.noun', { count })}
              hasNextPage={pending.hasNextPage}
              loading={pending.isFetchingNextPage}
              onLoad={() => pending.fetchNextPage()}
              list={list}
            />
          </>
        )}
      </Card>
    </>
  );
}
