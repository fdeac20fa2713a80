import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { Button, Card, describeError, ErrorState, Notice, Skeleton, Stat, StatGrid } from '../../components/ui';
import { downloadFile } from '../../lib/api';
import { formatBytes, formatCount, formatDateTime, formatMoney, zoneOwner } from '../../lib/format';
import type { studentStatementQuery } from './api';
import { Trans } from 'react-i18next';
import { useT } from '../../lib/i18n';

type Download = { kind: 'running'; format: Format } | { kind: 'done'; filename: string; bytes: number } | { kind: 'failed'; error: unknown } | null;
type Format = 'json' | 'csv' | 'pdf';

/**
 * A statement's summary with its three formats. The files need the bearer token, so
 * they are fetched and saved by script rather than linked; each keeps the name the
 * server gives it. Times are in the school's zone (`timeZone`), labelled.
 */
export function StatementCard({ path, name, query, timeZone }: { path: string; name: string; query: ReturnType<typeof studentStatementQuery>; timeZone?: string }) {
  const { t } = useT();
  const statement = useQuery(query);
  const [download, setDownload] = useState<Download>(null);
  const running = download?.kind === 'running' ? download.format : null;
  const start = async (format: Format) => {
    if (running !== null) {
      return;
    }
    const accept = { json: 'application/json', csv: 'text/csv', pdf: 'application/pdf' }[format];
    setDownload({ kind: 'running', format });
    try {
      setDownload({ kind: 'done', ...(await downloadFile(path, `${name}-statement.${format}`, accept)) });
    } catch (error) {
      setDownload({ kind: 'failed', error });
    }
  };
  return (
    <Card
      title={t('statement.title')}
      testId="statement"
      actions={
        <div className="flex gap-2" role="group" aria-label={t('statement.download')}>
          {(['json', 'csv', 'pdf'] as const).map((format) => (
            <Button key={format} size="sm" onClick={() => void start(format)} busy={running !== null} aria-label={t('statement.downloadAs', { format: format.toUpperCase() })}>
              {running === format ? t('statement.preparing') : format.toUpperCase()}
            </Button>
          ))}
        </div>
      }
    >
      {download?.kind === 'done' ? (
        <div className="mb-3">
          <Notice tone="success" onDismiss={() => setDownload(null)} testId="download-done">
            <Trans t={t} i18nKey="statement.saved" values={{ filename: download.filename, size: formatBytes(download.bytes) }} components={{ 1: <span className="font-medium" /> }} />
          </Notice>
        </div>
      ) : download?.kind === 'failed' ? (
        <div className="mb-3">
          <Notice tone="error" onDismiss={() => setDownload(null)}>
            <span className="font-semibold">{t('money.downloadFailed')}</span> {describeError(download.error).detail}
          </Notice>
        </div>
      ) : null}
      {statement.isPending ? (
        <Skeleton rows={2} />
      ) : statement.isError ? (
        <ErrorState error={statement.error} onRetry={() => void statement.refetch()} />
      ) : (
        <>
          <StatGrid>
            <Stat label={t('statement.invoiced')} value={formatMoney(statement.data.summary.totalInvoiced, statement.data.currency)} />
            <Stat label={t('statement.paid')} value={formatMoney(statement.data.summary.totalPaid, statement.data.currency)} tone="good" />
            <Stat label={t('statement.pending')} value={formatMoney(statement.data.summary.totalPending, statement.data.currency)} />
            <Stat label={t('statement.overdue')} value={formatMoney(statement.data.summary.totalOverdue, statement.data.currency)} tone={statement.data.summary.totalOverdue > 0 ? 'bad' : 'default'} />
          </StatGrid>
          <p className="mt-3 text-xs text-slate-600">
            {t('statement.invoices', { count: formatCount(statement.data.invoices.length) })}
            {statement.data.summary.totalStudents !== undefined ? t('statement.students', { count: formatCount(statement.data.summary.totalStudents) }) : ''}
            {t('statement.generated', { at: timeZone ? `${formatDateTime(statement.data.generatedAt, timeZone)} (${zoneOwner(timeZone, 'school')})` : '…' })}
            {t('statement.excluded')}
          </p>
        </>
      )}
    </Card>
  );
}
