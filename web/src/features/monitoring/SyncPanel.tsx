import { useState, type FormEvent } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useSession } from '../../app/session';
import { Button, Card, EmptyState, ErrorState, Field, Input, Skeleton, Stat, Table, cx, td, tdNum, th, thNum } from '../../components/ui';
import { formatDuration } from '../../../../src/shared/duration';
import { formatCount, formatDateTime } from '../../lib/format';
import { translate, useT } from '../../lib/i18n';
import { deadLettersQuery, resetSync, retryDeadLetter, runSync, syncStatusQuery, type SyncFeed, type SyncState, type SyncStatus } from './api';


/** The server's sentences carry ISO times; a person reads them in their own time zone. */
const localTimes = (text: string) => text.replace(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z/g, (iso) => formatDateTime(iso));

/** Each derived state's colour; its words are `sync.state.<state>`. The state itself comes from the server (one function decides it). */
const STATES: Record<SyncState, { tone: 'good' | 'warn' | 'bad' | 'default' }> = {
  caught_up: { tone: 'good' },
  behind: { tone: 'warn' },
  running: { tone: 'default' },
  idle: { tone: 'default' },
  backing_off: { tone: 'warn' },
  blocked: { tone: 'bad' },
  needs_reset: { tone: 'bad' },
  done: { tone: 'default' },
};

/** The lag as formatDuration writes it ("45 s", "7 min", "2.5 h"), with its days in the dashboard's language. */
function lagText(seconds: number): string {
  return seconds < 172_800 ? formatDuration(seconds) : translate('sync.days', { count: Math.round(seconds / 86_400) });
}
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
      return translate('sync.caughtUp');
    case 'behind':
      return live.behind ? translate('sync.entriesBehind', { count: formatCount(live.behind) }) : translate('sync.behindVendor');
    case 'idle':
    case 'running':
      return translate('sync.notAtHead');
    case 'backing_off':
    case 'blocked':
    case 'needs_reset':
    case 'done':
      return translate(`sync.stateLower.${live.state}`);
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
  const { t } = useT();
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
        label={t('sync.resumeFrom', { zone: viewerZone })}
        hint={status.newestEntryAt ? t('sync.newestHint', { at: formatDateTime(status.newestEntryAt) }) : t('sync.nothingStored')}
      >
        <Input type="datetime-local" step={1} required value={from} onChange={(event) => setEdited(event.target.value)} data-testid="sync-reset-from" />
      </Field>
      <Button type="submit" variant={needed ? 'primary' : 'secondary'} disabled={reset.isPending || from === ''}>
        {reset.isPending ? t('sync.resetting') : t('sync.reset')}
      </Button>
    </form>
  );
  return (
    <div className={cx('rounded-lg border p-3 text-sm', needed ? 'border-rose-200 bg-rose-50' : 'border-slate-200')}>
      {needed ? (
        <>
          <p className="font-semibold text-rose-900">{t('sync.lostCursor')}</p>
          <p className="mt-1 text-rose-800">{t('sync.lostCursorHint')}</p>
          {form}
        </>
      ) : (
        <details>
          <summary className="cursor-pointer text-slate-600">{t('sync.resetFromTime')}</summary>
          {form}
        </details>
      )}
      {reset.isSuccess ? (
        <p className="mt-2 text-emerald-800" role="status" data-testid="sync-reset-done">
          {reset.data.deadLettersClosed > 0
            ? t('sync.resumingFromClosed', { at: formatDateTime(reset.data.from), count: reset.data.deadLettersClosed })
            : t('sync.resumingFrom', { at: formatDateTime(reset.data.from) })}
        </p>
      ) : null}
      {reset.isError ? <ErrorState error={reset.error} title={t('sync.resetFailed')} /> : null}
    </div>
  );
}

/** Gateway sync status (sync:read) with dead letters; retry and run-now for sync:run, reset for sync:reset. */
export function SyncPanel() {
  const { t } = useT();
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
      title={t('sync.title')}
      testId="sync-panel"
      actions={
        mayRun ? (
          <Button onClick={() => run.mutate()} disabled={run.isPending}>
            {run.isPending ? t('sync.queuing') : t('sync.run')}
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
              {t(`sync.state.${data.state}`)}
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
            <Stat label={t('sync.lag')} value={data.lagSeconds === null ? '—' : lagText(data.lagSeconds)} hint={lagHint(live)} testId="sync-lag" />
            <Stat
              label={t('sync.requests')}
              value={`${data.budget.usedInWindow} / ${data.budget.limit}`}
              hint={data.budget.notBefore ? t('sync.waitUntil', { at: formatDateTime(data.budget.notBefore) }) : t('sync.inTotal', { count: formatCount(data.budget.requestsTotal) })}
              testId="sync-rate"
            />
            <Stat label={t('sync.failuresInRow')} value={formatCount(data.failures)} tone={data.failures > 0 ? 'warn' : 'good'} testId="sync-failures" />
            <Stat label={t('sync.deadLetters')} value={formatCount(data.deadLetters)} tone={data.deadLetters > 0 ? 'bad' : 'good'} testId="sync-dead-letters" />
          </div>
          <dl className="grid grid-cols-1 gap-x-6 gap-y-1 text-sm sm:grid-cols-2">
            <div className="flex min-w-0 gap-2">
              <dt className="shrink-0 text-slate-500">{t('sync.cursor')}</dt>
              <dd className="truncate font-mono" data-testid="sync-cursor">
                {data.cursor ?? (live?.resumeFrom ? t('sync.cursorFrom', { at: formatDateTime(live.resumeFrom) }) : t('sync.startOfFeed'))}
              </dd>
            </div>
            <div className="flex gap-2">
              <dt className="text-slate-500">{t('sync.lastRun')}</dt>
              <dd>{data.lastRunAt ? formatDateTime(data.lastRunAt) : t('sync.never')}</dd>
            </div>
            <div className="flex gap-2 sm:col-span-2">
              <dt className="text-slate-500">{t('sync.stored')}</dt>
              <dd>
                {t('sync.storedCounts', { entries: formatCount(data.entries), accounts: formatCount(data.accounts), conflicts: formatCount(data.conflicts) })}
                {data.newestEntryAt ? t('sync.newest', { at: formatDateTime(data.newestEntryAt) }) : ''}
              </dd>
            </div>
            <div className="flex gap-2 sm:col-span-2">
              <dt className="text-slate-500">{t('sync.backfill')}</dt>
              <dd>{!backfill || backfill.state === 'done' ? t('sync.notRunning') : t('sync.backfillFrom', { state: t(`sync.stateLower.${backfill.state}`), cursor: backfill.cursor ?? t('sync.theStart') })}</dd>
            </div>
            {live?.lastError && data.state !== 'caught_up' && !data.summary.includes(live.lastError) ? (
              <div className="flex min-w-0 gap-2 sm:col-span-2">
                <dt className="shrink-0 text-slate-500">{t('sync.lastError')}</dt>
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
            <EmptyState>{t('sync.noDeadLetters')}</EmptyState>
          ) : (
            <Table label={t('sync.deadLetters')}>
              <thead>
                <tr>
                  <th className={th}>{t('sync.since')}</th>
                  <th className={th}>{t('sync.feed')}</th>
                  <th className={th}>{t('sync.afterCursor')}</th>
                  <th className={thNum}>{t('sync.attempts')}</th>
                  <th className={th}>{t('sync.why')}</th>
                  <th className={th}>{t('sync.status')}</th>
                  {mayRun ? <th className={th}>{t('sync.action')}</th> : null}
                </tr>
              </thead>
              <tbody>
                {open.map((letter) => (
                  <tr key={letter.id} data-testid="dead-letter">
                    <td className={td}>{formatDateTime(letter.createdAt)}</td>
                    <td className={td}>{t(`sync.feeds.${letter.feed}`)}</td>
                    <td className={`${td} font-mono text-xs`}>{letter.cursor ?? t('sync.start')}</td>
                    <td className={tdNum}>{letter.attempts}</td>
                    <td className={td} title={letter.lastError}>
                      <div className="w-64 whitespace-normal sm:w-96" data-testid="dead-letter-why">
                        {localTimes(letter.explanation)}
                      </div>
                    </td>
                    <td className={td}>{t(`sync.letterStatus.${letter.status}`)}</td>
                    {mayRun ? (
                      <td className={td}>
                        {letter.retryable ? (
                          <Button onClick={() => retry.mutate(letter.id)} disabled={retry.isPending || letter.status === 'retrying'}>
                            {letter.status === 'retrying' ? t('sync.retrying') : t('sync.retry')}
                          </Button>
                        ) : (
                          <span className="text-xs text-slate-600">{t('sync.needsReset')}</span>
                        )}
                      </td>
                    ) : null}
                  </tr>
                ))}
              </tbody>
            </Table>
          )}
          {retry.isError ? <ErrorState error={retry.error} title={t('sync.retryFailed')} /> : null}
          {run.isError ? <ErrorState error={run.error} title={t('sync.runFailed')} /> : null}
          {!data.enabled ? <p className="text-sm text-amber-800">{t('sync.off')}</p> : null}
        </div>
      ) : null}
    </Card>
  );
}
