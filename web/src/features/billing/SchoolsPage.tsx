import { useInfiniteQuery } from '@tanstack/react-query';
import { useDeferredValue, useRef, useState } from 'react';
import { Card, EmptyState, ErrorState, Field, Input, LoadMore, PageHeader, Skeleton, Table, td, th } from '../../components/ui';
import { Link } from '../../lib/router';
import { schoolsQuery } from './api';
import { DemoBadge } from './DemoControls';
import { useT } from '../../lib/i18n';

export function SchoolsPage() {
  const { t } = useT();
  const [search, setSearch] = useState('');
  const q = useDeferredValue(search.trim());
  const schools = useInfiniteQuery(schoolsQuery(q));
  const rows = schools.data?.pages.flatMap((page) => page.data) ?? [];
  const list = useRef<HTMLTableSectionElement>(null);

  return (
    <>
      <PageHeader title={t('schools.title')} subtitle={t('schools.subtitle')} />
      <Card>
        <div className="mb-4 max-w-sm">
          <Field label={t('schools.search')}>
            <Input type="search" value={search} onChange={(event) => setSearch(event.target.value)} placeholder={t('schools.searchPlaceholder')} />
          </Field>
        </div>
        {schools.isPending ? (
          <Skeleton rows={4} />
        ) : schools.isError ? (
          <ErrorState error={schools.error} onRetry={() => void schools.refetch()} />
        ) : rows.length === 0 ? (
          <EmptyState>{q ? t('schools.noMatch', { q }) : t('schools.none')}</EmptyState>
        ) : (
          <>
            <Table label={t('schools.title')} stickyFirst>
              <thead>
                <tr>
                  <th className={th}>{t('schools.school')}</th>
                  <th className={th}>{t('schools.currency')}</th>
                  <th className={th}>{t('schools.timeZone')}</th>
                  <th className={th}>{t('schools.contact')}</th>
                  <th className={th}>{t('schools.status')}</th>
                </tr>
              </thead>
              <tbody data-testid="schools-table" ref={list}>
                {rows.map((school) => (
                  <tr key={school.id} data-row tabIndex={-1} className="focus:outline-none focus-visible:bg-indigo-50">
                    <td className={td}>
                      <Link to={`/schools/${school.id}`} className="font-medium text-indigo-700 hover:underline" data-testid="school-link">
                        {school.name}
                      </Link>
                      <DemoBadge school={school} />
                    </td>
                    <td className={td}>{school.currency}</td>
                    <td className={td}>{school.timezone}</td>
                    <td className={td}>{school.email ?? school.phone ?? '—'}</td>
                    <td className={td}>{school.isActive ? t('schools.active') : t('schools.inactive')}</td>
                  </tr>
                ))}
              </tbody>
            </Table>
            <LoadMore
              shown={rows.length}
              noun={(count) => t('schools.noun', { count })}
              hasNextPage={schools.hasNextPage}
              loading={schools.isFetchingNextPage}
              onLoad={() => schools.fetchNextPage()}
              list={list}
            />
          </>
        )}
      </Card>
    </>
  );
}
