import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { Button, Card, ErrorState, Skeleton, Stat } from '../../components/ui';
import { downloadFile } from '../../lib/api';
import { formatCount, formatDateTime, formatMoney } from '../../lib/format';
import type { studentStatementQuery } from './api';

/**
 * A statement's summary with its three formats. The files need the bearer token, so
 * they are fetched and saved by script rather than linked.
 */
export function StatementCard({ path, name, query }: { path: string; name: string; query: ReturnType<typeof studentStatementQuery> }) {
  const statement = useQuery(query);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const download = async (format: 'json' | 'csv' | 'pdf') => {
    const accept = { json: 'application/json', csv: 'text/csv', pdf: 'application/pdf' }[format];
    setBusy(format);
    setError(null);
    try {
      await downloadFile(path, `${name}-statement.${format}`, accept);
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(null);
    }
  };
  return (
    <Card
      title="Statement"
      testId="statement"
      actions={
        <div className="flex gap-2" role="group" aria-label="Download statement">
          {(['json', 'csv', 'pdf'] as const).map((format) => (
            <Button key={format} size="sm" onClick={() => void download(format)} disabled={busy !== null}>
              {busy === format ? 'Preparing…' : format.toUpperCase()}
            </Button>
          ))}
        </div>
      }
    >
      {error ? <ErrorState error={error} title="Download failed" /> : null}
      {statement.isPending ? (
        <Skeleton rows={2} />
      ) : statement.isError ? (
        <ErrorState error={statement.error} onRetry={() => void statement.refetch()} />
      ) : (
        <>
          <div className="grid grid-cols-2 gap-3 lg:grid-cols-4">
            <Stat label="Invoiced" value={formatMoney(statement.data.summary.totalInvoiced, statement.data.currency)} />
            <Stat label="Paid" value={formatMoney(statement.data.summary.totalPaid, statement.data.currency)} tone="good" />
            <Stat label="Pending" value={formatMoney(statement.data.summary.totalPending, statement.data.currency)} />
            <Stat label="Overdue" value={formatMoney(statement.data.summary.totalOverdue, statement.data.currency)} tone={statement.data.summary.totalOverdue > 0 ? 'bad' : 'default'} />
          </div>
          <p className="mt-3 text-xs text-slate-500">
            {formatCount(statement.data.invoices.length)} invoices
            {statement.data.summary.totalStudents !== undefined ? ` · ${formatCount(statement.data.summary.totalStudents)} students` : ''} · generated{' '}
            {formatDateTime(statement.data.generatedAt)} · cancelled invoices are listed in the files but excluded from totals
          </p>
        </>
      )}
    </Card>
  );
}
