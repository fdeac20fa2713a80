import { useInfiniteQuery } from '@tanstack/react-query';
import { useDeferredValue, useState } from 'react';
import { Button, Card, EmptyState, ErrorState, Field, Input, PageHeader, Skeleton, Table, td, th } from '../../components/ui';
import { Link } from '../../lib/router';
import { schoolsQuery } from './api';

export function SchoolsPage() {
  const [search, setSearch] = useState('');
  const q = useDeferredValue(search.trim());
  const schools = useInfiniteQuery(schoolsQuery(q));
  const rows = schools.data?.pages.flatMap((page) => page.data) ?? [];

  return (
    <>
      <PageHeader title="Schools" subtitle="Schools you can see. Open one for its students, invoices and statement." />
      <Card>
        <div className="mb-4 max-w-sm">
          <Field label="Search by name">
            <Input type="search" value={search} onChange={(event) => setSearch(event.target.value)} placeholder="e.g. Andino" />
          </Field>
        </div>
        {schools.isPending ? (
          <Skeleton rows={4} />
        ) : schools.isError ? (
          <ErrorState error={schools.error} onRetry={() => void schools.refetch()} />
        ) : rows.length === 0 ? (
          <EmptyState>{q ? `No school matches “${q}”.` : 'No schools yet.'}</EmptyState>
        ) : (
          <>
            <Table label="Schools">
              <thead>
                <tr>
                  <th className={th}>School</th>
                  <th className={th}>Currency</th>
                  <th className={th}>Time zone</th>
                  <th className={th}>Contact</th>
                  <th className={th}>Status</th>
                </tr>
              </thead>
              <tbody data-testid="schools-table">
                {rows.map((school) => (
                  <tr key={school.id}>
                    <td className={td}>
                      <Link to={`/schools/${school.id}`} className="font-medium text-indigo-700 hover:underline" data-testid="school-link">
                        {school.name}
                      </Link>
                    </td>
                    <td className={td}>{school.currency}</td>
                    <td className={td}>{school.timezone}</td>
                    <td className={td}>{school.email ?? school.phone ?? '—'}</td>
                    <td className={td}>{school.isActive ? 'Active' : 'Inactive'}</td>
                  </tr>
                ))}
              </tbody>
            </Table>
            {schools.hasNextPage ? (
              <Button className="mt-4" onClick={() => void schools.fetchNextPage()} disabled={schools.isFetchingNextPage}>
                {schools.isFetchingNextPage ? 'Loading…' : 'Load more'}
              </Button>
            ) : null}
          </>
        )}
      </Card>
    </>
  );
}
