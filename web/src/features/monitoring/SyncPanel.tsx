import { useState, type FormEvent } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useSession } from '../../app/session';
import { Button, Card, EmptyState, ErrorState, Field, Input, Skeleton, Stat, Table, cx, td, tdNum, th, thNum } from '../../components/ui';
import { formatDuration } from '../../../../src/shared/duration';
import { formatCount, formatDateTime } from '../../lib/format';
import { deadLettersQuery, resetSync, retryDeadLetter, runSync, syncStatusQuery, type SyncFeed, type SyncState, type SyncStatus } from './api';


/** The server's sentences carry ISO times; a person reads them in their own time zone. */
const localTimes = (text: string) => text.replace(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z/g, (iso) => formatDateTime(iso));

/** Each derived state's words and colour. The state itself comes from the server (one function decides it). */
const STATES: Record<SyncState, { label: string; tone: 'good' | 'warn' | 'bad' | 'default' }> = {
  caught_up: { label: 'Caught up', tone: 'good' },
  behind: { label: 'Behind', tone: 'warn' },
  running: { label: 'Running', tone: 'default' },
  idle: { label: 'Idle', tone: 'default' },
  backing_off: { label: 'Backing off', tone: 'warn' },
  blocked: { label: 'Blocked', tone: 'bad' },
  needs_reset: { label: 'Needs reset', tone: 'bad' },
  done: { label: 'Done', tone: 'default' },
};
const BADGE = {
  good: 'bg-emerald-50 text-emerald-800 ring-emerald-600/30',
  warn: 'bg-amber-50 text-amber-800 ring-amber-600/30',
  bad: 'bg-rose-50 text-rose-800 ring-rose-600/30',
  default: 'bg-slate-100 text-slate-700 ring-slate-500/30',
};

/** The lag's hint follows the one state, so "caught up" never sits next to a stale lag. */
function lagHint(live: SyncFeed | undefined): string {
  if (live === undefined) {
    return '';
  }
  switch (live.state) {
    case 'caught_up':
      return 'caught up';
    case 'behind':
      return live.behind ? `${formatCount(live.behind)} entries behind` : 'behind the vendor';
    case 'idle':
    case 'running':
      return 'not read to the head yet';
    case 'backing_off':
    case 'blocked':
    case 'needs_reset':
    case 'done':
      return STATES[live.state].label.toLowerCase();
  }
}

/** An ISO time as a datetime-local value in the viewer's time zone, to the second (rounded down: resuming earlier loses nothing). */
function toLocalInput(iso: string): string {
  const date = new Date(iso);
  const pad = (value: number) => String(value).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

const viewerZone = Intl.DateTimeFormat().resolvedOptions().timeZone;

/** POST /sync/reset from a time; defaults to the newest stored entry's time. super_admin only. */
function ResetForm({ status, onDone }: { status: SyncStatus; onDone: () => void }) {
  // Follows the newest stored entry until the user types a time of their own.
  const [edited, setEdited] = useState<string | null>(null);
  const from = edited ?? (status.newestEntryAt ? toLocalInput(status.newestEntryAt) : '');
  const reset = useMutation({ mutationFn: resetSync, onSettled: onDone });
  const needed = status.state === 'needs_reset';
  const submit = (event: FormEvent) => {
    event.preventDefault();
    const at = new Date(from);
    if (!Number.isNaN(at.getTime())) {
      reset.mutate(at.toISOString());
    }
  };
  const form = (
    <form className="mt-3 flex flex-col gap-3 sm:flex-row sm:items-end" onSubmit={submit} data-testid="sync-reset-form">
      <Field
        label={`Resume from (${viewerZone})`}
        hint={status.newestEntryAt ? `Newest stored entry: ${formatDateTime(status.newestEntryAt)}. From then loses nothing; entries already stored are skipped.` : 'Nothing stored yet.'}
      >
        <Input type="datetime-local" step={1} required value={from} onChange={(event) => setEdited(event.target.value)} data-testid="sync-reset-from" />
      </Field>
      <Button type="submit" variant={needed ? 'primary' : 'secondary'} disabled={reset.isPending || from === ''}>
        {reset.isPending ? 'Resetting…' : 'Reset sync'}
      </Button>
    </form>
  );
  return (
    <div className={cx('rounded-lg border p-3 text-sm', needed ? 'border-rose-200 bg-rose-50' : 'border-slate-200')}>
      {needed ? (
        <>
          <p className="font-semibold text-rose-900">The vendor no longer knows this sync&apos;s cursor.</p>
          <p className="mt-1 text-rose-800">Resume the live feed from a time: the vendor sends what arrived since then.</p>
          {form}
        </>
      ) : (
        <details>
          <summary className="cursor-pointer text-slate-600">Reset the sync from a time…</summary>
          {form}
        </details>
      )}
      {reset.isSuccess ? (
        <p className="mt-2 text-emerald-800" role="status" data-testid="sync-reset-done">
          Resuming from {formatDateTime(reset.data.from)}
          {reset.data.deadLettersClosed > 0 ? `; ${reset.data.deadLettersClosed} dead letter(s) closed` : ''}.
        </p>
      ) : null}
      {reset.isError ? <ErrorState error={reset.error} title="Could not reset the sync" /> : null}
    </div>
  );
}

/** Gateway sync status (sync:read) with dead letters; retry and run-now for sync:run, reset for sync:reset. */
export function SyncPanel() {
  const { can } = useSession();
  const mayRun = can('sync:run');
  const mayReset = can('sync:reset');
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
  const shown = data ? STATES[data.state] : undefined;

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
      ) : data && shown ? (
        <div className="space-y-4">
          <div className="flex flex-col gap-1 sm:flex-row sm:items-start sm:gap-3">
            <span className={cx('inline-flex w-fit shrink-0 rounded-md px-2 py-0.5 text-sm font-semibold ring-1 ring-inset', BADGE[shown.tone])} data-testid="sync-live-status">
              {shown.label}
            </span>
            <div className="min-w-0 text-sm">
              <p className="break-words text-slate-700" data-testid="sync-summary">
                {localTimes(data.summary)}
              </p>
              {data.action ? (
                <p className="mt-1 break-words font-medium text-slate-900" data-testid="sync-action">
                  {localTimes(data.action)}
                </p>
              ) : null}
            </div>
          </div>
          <div className="grid grid-cols-2 gap-3 lg:grid-cols-4">
            <Stat label="Lag" value={data.lagSeconds === null ? '—' : formatDuration(data.lagSeconds)} hint={lagHint(live)} testId="sync-lag" />
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
            <div className="flex min-w-0 gap-2">
              <dt className="shrink-0 text-slate-500">Cursor</dt>
              <dd className="truncate font-mono" data-testid="sync-cursor">
                {data.cursor ?? (live?.resumeFrom ? `from ${formatDateTime(live.resumeFrom)}` : 'start of feed')}
              </dd>
            </div>
            <div className="flex gap-2">
              <dt className="text-slate-500">Last run</dt>
              <dd>{data.lastRunAt ? formatDateTime(data.lastRunAt) : 'never'}</dd>
            </div>
            <div className="flex gap-2 sm:col-span-2">
              <dt className="text-slate-500">Stored</dt>
              <dd>
                {formatCount(data.entries)} entries · {formatCount(data.accounts)} accounts · {formatCount(data.conflicts)} conflicting re-sends
                {data.newestEntryAt ? ` · newest ${formatDateTime(data.newestEntryAt)}` : ''}
              </dd>
            </div>
            <div className="flex gap-2 sm:col-span-2">
              <dt className="text-slate-500">Backfill</dt>
              <dd>{!backfill || backfill.state === 'done' ? 'not running' : `${STATES[backfill.state].label.toLowerCase()}, from ${backfill.cursor ?? 'the start'}`}</dd>
            </div>
            {live?.lastError && data.state !== 'caught_up' && !data.summary.includes(live.lastError) ? (
              <div className="flex min-w-0 gap-2 sm:col-span-2">
                <dt className="shrink-0 text-slate-500">Last error</dt>
                <dd className="truncate" title={live.lastError}>
                  {live.lastError}
                </dd>
              </div>
            ) : null}
          </dl>
          {mayReset ? <ResetForm status={data} onDone={() => void refresh()} /> : null}
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
                  <th className={th}>Why</th>
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
                    <td className={td} title={letter.lastError}>
                      <div className="w-64 whitespace-normal sm:w-96" data-testid="dead-letter-why">
                        {localTimes(letter.explanation)}
                      </div>
                    </td>
                    <td className={td}>{letter.status}</td>
                    {mayRun ? (
                      <td className={td}>
                        {letter.retryable ? (
                          <Button onClick={() => retry.mutate(letter.id)} disabled={retry.isPending || letter.status === 'retrying'}>
                            {letter.status === 'retrying' ? 'Retrying…' : 'Retry'}
                          </Button>
                        ) : (
                          <span className="text-xs text-slate-600">Needs a reset</span>
                        )}
                      </td>
                    ) : null}
                  </tr>
                ))}
              </tbody>
            </Table>
          )}
          {retry.isError ? <ErrorState error={retry.error} title="Retry failed" /> : null}
          {run.isError ? <ErrorState error={run.error} title="Could not queue a run" /> : null}
          {!data.enabled ? <p className="text-sm text-amber-800">The sync worker is off in this instance (SYNC=off).</p> : null}
        </div>
      ) : null}
    </Card>
  );
}
