import { useInfiniteQuery, useQuery } from '@tanstack/react-query';
import { HistoryCard } from '../audit/History';
import { useRef } from 'react';
import { Card, EmptyState, ErrorState, LoadMore, PageHeader, Skeleton, StatusBadge, Table, td, tdNum, th, thNum } from '../../components/ui';
import { formatDate, formatMoney } from '../../lib/format';
import { Link } from '../../lib/router';
import { schoolQuery, studentInvoicesQuery, studentQuery, studentStatementQuery } from './api';
import { StatementCard } from './Statement';
import { useT } from '../../lib/i18n';

export function StudentPage({ studentId }: { studentId: string }) {
  const { t } = useT();
  const student = useQuery(studentQuery(studentId));
  const school = useQuery({ ...schoolQuery(student.data?.schoolId ?? ''), enabled: student.data !== undefined });
  const invoices = useInfiniteQuery(studentInvoicesQuery(studentId));
  const rows = invoices.data?.pages.flatMap((page) => page.data) ?? [];
  const list = useRef<HTMLTableSectionElement>(null);

  if (student.isError) {
    return <ErrorState error={student.error} onRetry={() => void student.refetch()} />;
  }
  const name = student.data ? `${student.data.firstName} ${student.data.lastName}` : '…';
  return (
    <>
      <nav aria-label={t('school.breadcrumb')} className="mb-2 text-sm text-slate-600">
        <Link to="/schools" className="hover:underline">
          {t('school.schools')}
        </Link>{' '}
        /{' '}
        {student.data ? (
          <Link to={`/schools/${student.data.schoolId}`} className="hover:underline">
            {school.data?.name ?? t('school.fallback')}
          </Link>
        ) : (
          '…'
        )}{' '}
        / {name}
      </nav>
      <PageHeader title={name} subtitle={student.data ? `${t('student.grade', { grade: student.data.grade })}${student.data.email ? ` · ${student.data.email}` : ''}` : undefined} />
      <div className="space-y-6">
        <StatementCard path={`/students/${studentId}/statement`} name={`student-${studentId.slice(0, 8)}`} query={studentStatementQuery(studentId)} timeZone={school.data?.timezone} />
        <Card title={t('student.invoices')}>
          {invoices.isPending ? (
            <Skeleton rows={5} />
          ) : invoices.isError ? (
            <ErrorState error={invoices.error} onRetry={() => void invoices.refetch()} />
          ) : rows.length === 0 ? (
            <EmptyState>{t('student.noInvoices')}</EmptyState>
          ) : (
            <>
              <Table label={t('student.invoices')} stickyFirst>
                <thead>
                  <tr>
                    <th className={th}>{t('student.number')}</th>
                    <th className={thNum}>{t('student.pending')}</th>
                    <th className={th}>{t('student.status')}</th>
                    <th className={th}>{t('student.due')}</th>
                    <th className={thNum}>{t('student.amount')}</th>
                    <th className={thNum}>{t('student.paid')}</th>
                    <th className={th}>{t('student.description')}</th>
                  </tr>
                </thead>
                <tbody ref={list}>
                  {rows.map((invoice) => (
                    <tr key={invoice.id} data-row tabIndex={-1} className="focus:outline-none focus-visible:bg-indigo-50">
                      <td className={td}>
                        <Link to={`/invoices/${invoice.id}`} className="font-medium text-indigo-700 hover:underline" data-testid="invoice-link">
                          {invoice.number}
                        </Link>
                      </td>
                      <td className={`${tdNum} font-medium`}>{formatMoney(invoice.pendingAmount, invoice.currency)}</td>
                      <td className={td}>
                        <StatusBadge status={invoice.status} />
                      </td>
                      <td className={td}>{formatDate(invoice.dueDate)}</td>
                      <td className={tdNum}>{formatMoney(invoice.amount, invoice.currency)}</td>
                      <td className={tdNum}>{formatMoney(invoice.paidAmount, invoice.currency)}</td>
                      <td className={td}>{invoice.description ?? '—'}</td>
                    </tr>
                  ))}
                </tbody>
              </Table>
              <LoadMore
                shown={rows.length}
                noun={(count) => t('student.invoicesNoun', { count })}
                hasNextPage={invoices.hasNextPage}
                loading={invoices.isFetchingNextPage}
                onLoad={() => invoices.fetchNextPage()}
                list={list}
              />
            </>
          )}
        </Card>
        <HistoryCard entityType="student" entityId={studentId} currency={school.data?.currency} />
      </div>
    </>
  );
}
