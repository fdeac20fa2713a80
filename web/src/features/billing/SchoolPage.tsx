import { useInfiniteQuery, useQuery } from '@tanstack/react-query';
import { HistoryCard } from '../audit/History';
import { useRef } from 'react';
import { Card, EmptyState, ErrorState, LoadMore, PageHeader, Skeleton, Table, td, th } from '../../components/ui';
import { formatDate } from '../../lib/format';
import { Link } from '../../lib/router';
import { schoolQuery, schoolStatementQuery, schoolStudentsQuery } from './api';
import { LateFeeCard } from '../collections/LateFeeCard';
import { ReminderCard } from '../collections/ReminderCard';
import { DemoSchoolControls } from './DemoControls';
import { StatementCard } from './Statement';
import { useT } from '../../lib/i18n';

export function SchoolPage({ schoolId }: { schoolId: string }) {
  const { t } = useT();
  const school = useQuery(schoolQuery(schoolId));
  const students = useInfiniteQuery(schoolStudentsQuery(schoolId));
  const rows = students.data?.pages.flatMap((page) => page.data) ?? [];
  const list = useRef<HTMLTableSectionElement>(null);

  if (school.isError) {
    return <ErrorState error={school.error} onRetry={() => void school.refetch()} />;
  }
  return (
    <>
      <nav aria-label={t('school.breadcrumb')} className="mb-2 text-sm text-slate-600">
        <Link to="/schools" className="hover:underline">
          {t('school.schools')}
        </Link>{' '}
        / {school.data?.name ?? '…'}
      </nav>
      <PageHeader
        title={school.data?.name ?? t('school.fallback')}
        subtitle={
          school.data
            ? `${school.data.currency} · ${school.data.timezone} · ${t(`school.invoicesIn.${school.data.language}`)}${school.data.address ? ` · ${school.data.address}` : ''}`
            : undefined
        }
      />
      <div className="space-y-6">
        <DemoSchoolControls school={school.data} />
        <StatementCard
          path={`/schools/${schoolId}/statement`}
          name={school.data?.name.replace(/\W+/g, '-').toLowerCase() ?? 'school'}
          query={schoolStatementQuery(schoolId)}
          timeZone={school.data?.timezone}
        />
        <LateFeeCard schoolId={schoolId} currency={school.data?.currency} />
        <ReminderCard schoolId={schoolId} />
        <Card title={t('school.students')}>
          {students.isPending ? (
            <Skeleton rows={5} />
          ) : students.isError ? (
            <ErrorState error={students.error} onRetry={() => void students.refetch()} />
          ) : rows.length === 0 ? (
            <EmptyState>{t('school.noStudents')}</EmptyState>
          ) : (
            <>
              <Table label={t('school.students')} stickyFirst>
                <thead>
                  <tr>
                    <th className={th}>{t('school.student')}</th>
                    <th className={th}>{t('school.grade')}</th>
                    <th className={th}>{t('school.email')}</th>
                    <th className={th}>{t('school.enrolled')}</th>
                    <th className={th}>{t('school.status')}</th>
                  </tr>
                </thead>
                <tbody ref={list}>
                  {rows.map((student) => (
                    <tr key={student.id} data-row tabIndex={-1} className="focus:outline-none focus-visible:bg-indigo-50">
                      <td className={td}>
                        <Link to={`/students/${student.id}`} className="font-medium text-indigo-700 hover:underline" data-testid="student-link">
                          {student.firstName} {student.lastName}
                        </Link>
                      </td>
                      <td className={td}>{student.grade}</td>
                      <td className={td}>{student.email ?? '—'}</td>
                      <td className={td}>{formatDate(student.enrolledAt)}</td>
                      <td className={td}>{student.isActive ? t('schools.active') : t('schools.inactive')}</td>
                    </tr>
                  ))}
                </tbody>
              </Table>
              <LoadMore
                shown={rows.length}
                noun={(count) => t('school.studentsNoun', { count })}
                hasNextPage={students.hasNextPage}
                loading={students.isFetchingNextPage}
                onLoad={() => students.fetchNextPage()}
                list={list}
              />
            </>
          )}
        </Card>
        <HistoryCard entityType="school" entityId={schoolId} currency={school.data?.currency} />
      </div>
    </>
  );
}
