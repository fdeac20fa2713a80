import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useSession } from '../../app/session';
import { Button, Card, EmptyState, ErrorState, Skeleton, Stat, Table, td, tdNum, th, thNum } from '../../components/ui';
import { formatCount, formatDateTime } from '../../lib/format';
import { deadLettersQuery, retryDeadLetter, runSync, syncStatusQuery } from './api';

function formatLag(seconds: number | null): string {
  if (seconds === null) {
    return 'never caught up';
  }
  if (seconds < 90) {
    return `${Math.round(seconds)} s`;
  }
  if (seconds < 5400) {
    return `${Math.round(seconds / 60)} min`;
  }
  return `${(seconds / 3600).toFixed(1)} h`;
}

/** Gateway sync status (sync:read) with dead letters; retry and run-now for sync:run. */
export function SyncPanel() {
  const { can } = useSession();
  const mayRun = can('sync:run');
  const client = useQueryClient();
  const status = useQuery(syncStatusQuery());
  const letters = useQuery(deadLettersQuery());
  const refresh = () => client.invalidateQueries({ queryKey: ['sync'] });
  const retry = useMutation({ mutationFn: retryDeadLetter, onSettled: refresh });
  const run = useMutation({ mutationFn: runSync, onSettled: refresh });
  const data = status.data;
  const live = data?.feeds.find((feed) => feed.feed === 'live');
  const backfill = data?.feeds.find((feed) => feed.feed === 'backfill');
  const open = letters.data?.data.filter((letter) => letter.status !== 'resolved') ?? [];

  return (
    <Card
      title="Gateway sync"
      testId="sync-panel"
      actions={
        mayRun ? (
          <Button onClick={() => run.mutate()} disabled={run.isPending}>
            {run.isPending ? 'Queuing…' : 'Run now'}
          </Button>
        ) : null
      }
    >
      {status.isPending ? (
        <Skeleton rows={4} />
      ) : status.isError ? (
        <ErrorState error={status.error} onRetry={() => void status.refetch()} />
      ) : data ? (
        <div className="space-y-4">
          {!data.enabled ? <p className="text-sm text-amber-700">The sync worker is off in this deployment (SYNC=off).</p> : null}
          <div className="grid grid-cols-2 gap-3 lg:grid-cols-4">
            <Stat label="Lag" value={formatLag(data.lagSeconds)} hint={live?.behind ? `${formatCount(live.behind)} entries behind` : 'caught up'} testId="sync-lag" />
            <Stat
              label="Requests this minute"
              value={`${data.budget.usedInWindow} / ${data.budget.limit}`}
              hint={data.budget.notBefore ? `vendor asked to wait until ${formatDateTime(data.budget.notBefore)}` : `${formatCount(data.budget.requestsTotal)} in total`}
              testId="sync-rate"
            />
            <Stat label="Failures in a row" value={formatCount(data.failures)} tone={data.failures > 0 ? 'warn' : 'good'} testId="sync-failures" />
            <Stat label="Dead letters" value={formatCount(data.deadLetters)} tone={data.deadLetters > 0 ? 'bad' : 'good'} testId="sync-dead-letters" />
          </div>
          <dl className="grid grid-cols-1 gap-x-6 gap-y-1 text-sm sm:grid-cols-2">
            <div className="flex gap-2">
              <dt className="text-slate-500">Cursor</dt>
              <dd className="font-mono" data-testid="sync-cursor">{data.cursor ?? 'start of feed'}</dd>
            </div>
            <div className="flex gap-2">
              <dt className="text-slate-500">Last run</dt>
              <dd>{data.lastRunAt ? formatDateTime(data.lastRunAt) : 'never'}</dd>
            </div>
            <div className="flex gap-2">
              <dt className="text-slate-500">Stored</dt>
              <dd>
                {formatCount(data.entries)} entries · {formatCount(data.accounts)} accounts · {formatCount(data.conflicts)} conflicting re-sends
              </dd>
            </div>
            <div className="flex gap-2">
              <dt className="text-slate-500">Live feed</dt>
              <dd data-testid="sync-live-status">{live?.status ?? '—'}</dd>
            </div>
            <div className="flex gap-2">
              <dt className="text-slate-500">Backfill</dt>
              <dd>{backfill?.status === 'done' ? 'not running' : `running from ${backfill?.cursor ?? 'the start'}`}</dd>
            </div>
            {live?.lastError ? (
              <div className="flex gap-2 sm:col-span-2">
                <dt className="text-slate-500">Last error</dt>
                <dd className="truncate" title={live.lastError}>
                  {live.lastError}
                </dd>
              </div>
            ) : null}
          </dl>
          {letters.isError ? (
            <ErrorState error={letters.error} onRetry={() => void letters.refetch()} />
          ) : open.length === 0 ? (
            <EmptyState>No dead letters: every page has been stored.</EmptyState>
          ) : (
            <Table label="Dead letters">
              <thead>
                <tr>
                  <th className={th}>Since</th>
                  <th className={th}>Feed</th>
                  <th className={th}>After cursor</th>
                  <th className={thNum}>Attempts</th>
                  <th className={th}>Last error</th>
                  <th className={th}>Status</th>
                  {mayRun ? <th className={th}>Action</th> : null}
                </tr>
              </thead>
              <tbody>
                {open.map((letter) => (
                  <tr key={letter.id} data-testid="dead-letter">
                    <td className={td}>{formatDateTime(letter.createdAt)}</td>
                    <td className={td}>{letter.feed}</td>
                    <td className={`${td} font-mono text-xs`}>{letter.cursor ?? 'start'}</td>
                    <td className={tdNum}>{letter.attempts}</td>
                    <td className={`${td} max-w-xs truncate`} title={letter.lastError}>
                      {letter.lastError}
                    </td>
                    <td className={td}>{letter.status}</td>
                    {mayRun ? (
                      <td className={td}>
                        <Button onClick={() => retry.mutate(letter.id)} disabled={retry.isPending || letter.status === 'retrying'}>
                          {letter.status === 'retrying' ? 'Retrying…' : 'Retry'}
                        </Button>
                      </td>
                    ) : null}
                  </tr>
                ))}
              </tbody>
            </Table>
          )}
          {retry.isError ? <ErrorState error={retry.error} title="Retry failed" /> : null}
          {run.isError ? <ErrorState error={run.error} title="Could not queue a run" /> : null}
        </div>
      ) : null}
    </Card>
  );
}
