import { translate, useT } from '../../lib/i18n';
import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useRef, useState, type FormEvent } from 'react';
import { useSession } from '../../app/session';
import { problemText as problemOf } from '../../components/money';
import { Button, Card, EmptyState, ErrorState, Field, Input, LoadMore, Notice, PageHeader, SchoolOptions, Select, Skeleton, Stat, StatGrid, Table, td, tdNum, th, thNum } from '../../components/ui';
import { formatCount, formatDate, formatDateTime, formatMoney } from '../../lib/format';
import { useSearchParams } from '../../lib/router';
import { schoolOptionsQuery } from '../../lib/schools';
import { billRunQuery, billRunsQuery, startBillRun, type BillRun, type ItemTotal } from './api';

/** This page's strings (lib/strings), read in the current language each time. */
const T = {
  get title() {
    return translate('billRuns.title');
  },
  get subtitle() {
    return translate('billRuns.subtitle');
  },
  get school() {
    return translate('billRuns.school');
  },
  get through() {
    return translate('billRuns.through');
  },
  get preview() {
    return translate('billRuns.preview');
  },
  get previewing() {
    return translate('billRuns.previewing');
  },
  get run() {
    return translate('billRuns.run');
  },
  get running() {
    return translate('billRuns.running');
  },
  get mayNot() {
    return translate('billRuns.mayNot');
  },
  get previewTitle() {
    return translate('billRuns.previewTitle');
  },
  get invoices() {
    return translate('billRuns.invoices');
  },
  get lines() {
    return translate('billRuns.lines');
  },
  get item() {
    return translate('billRuns.item');
  },
  get charges() {
    return translate('billRuns.charges');
  },
  get discounts() {
    return translate('billRuns.discounts');
  },
  get amount() {
    return translate('billRuns.amount');
  },
  get totals() {
    return translate('billRuns.totals');
  },
  get runTotals() {
    return translate('billRuns.runTotals');
  },
  get previewTotals() {
    return translate('billRuns.previewTotals');
  },
  get firstRows() {
    return translate('billRuns.firstRows');
  },
  get student() {
    return translate('billRuns.student');
  },
  get due() {
    return translate('billRuns.due');
  },
  get progress() {
    return translate('billRuns.progress');
  },
  status_: (status: BillRun['status']) => translate(`billRuns.status.${status}`),
  get created() {
    return translate('billRuns.created');
  },
  get linesCreated() {
    return translate('billRuns.linesCreated');
  },
  get skipped() {
    return translate('billRuns.skipped');
  },
  done: (run: BillRun) => translate('billRuns.done', { invoices: formatCount(run.invoicesCreated), lines: formatCount(run.linesCreated), skipped: formatCount(run.skipped) }),
  get failed() {
    return translate('billRuns.failed');
  },
  get requestFailed() {
    return translate('billRuns.requestFailed');
  },
  get history() {
    return translate('billRuns.history');
  },
  get noRuns() {
    return translate('billRuns.noRuns');
  },
  throughDate: (day: string) => translate('billRuns.throughDate', { date: formatDate(day) }),
  summary: (run: BillRun) => translate('billRuns.summary', { invoices: formatCount(run.invoicesCreated), lines: formatCount(run.linesCreated), skipped: formatCount(run.skipped) }),
  get started() {
    return translate('billRuns.started');
  },
  get finished() {
    return translate('billRuns.finished');
  },
  get noTotals() {
    return translate('billRuns.noTotals');
  },
};

const STATUS_TONES: Record<BillRun['status'], string> = {
  queued: 'bg-slate-100 text-slate-700 ring-slate-500/20',
  running: 'bg-sky-50 text-sky-700 ring-sky-600/20',
  finished: 'bg-emerald-50 text-emerald-700 ring-emerald-600/20',
  failed: 'bg-rose-50 text-rose-700 ring-rose-600/20',
};

/**
 * The school's bill runs, newest first, a page at a time: each one a disclosure (a
 * native <details>, keyboard and screen-reader ready) with its times and totals.
 */
function BillRunHistory({ schoolId }: { schoolId: string }) {
  useT();
  const runs = useInfiniteQuery(billRunsQuery(schoolId));
  const list = useRef<HTMLUListElement>(null);
  const rows = runs.data?.pages.flatMap((page) => page.data) ?? [];
  return (
    <Card title={T.history} className="mt-6" testId="bill-run-history">
      {runs.isPending ? (
        <Skeleton rows={3} />
      ) : runs.isError ? (
        <ErrorState error={runs.error} onRetry={() => void runs.refetch()} />
      ) : rows.length === 0 ? (
        <EmptyState>{T.noRuns}</EmptyState>
      ) : (
        <>
          <ul ref={list} className="divide-y divide-slate-100" data-testid="bill-run-history-list">
            {rows.map((run) => (
              <li key={run.id ?? run.createdAt ?? ''} data-row tabIndex={-1} className="py-2 text-sm focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500" data-testid="bill-run-history-row">
                <details>
                  <summary className="cursor-pointer rounded py-1 marker:text-slate-500">
                    <span className={`mr-2 inline-flex rounded-md px-2 py-0.5 text-xs font-medium ring-1 ring-inset ${STATUS_TONES[run.status]}`}>{T.status_(run.status)}</span>
                    <span className="font-medium text-slate-900">{T.throughDate(run.through)}</span>
                    <span className="block pl-5 text-slate-600 sm:inline sm:pl-0">
                      <span className="hidden sm:inline"> · </span>
                      {T.summary(run)}
                    </span>
                  </summary>
                  <div className="mt-2 space-y-2 pl-5">
                    <dl className="grid grid-cols-[auto_minmax(0,1fr)] gap-x-3 gap-y-1 text-slate-600">
                      <dt>{T.started}</dt>
                      <dd>{run.startedAt ? formatDateTime(run.startedAt) : '—'}</dd>
                      <dt>{T.finished}</dt>
                      <dd>{run.finishedAt ? formatDateTime(run.finishedAt) : '—'}</dd>
                    </dl>
                    {run.error ? <p className="break-words text-rose-700">{run.error}</p> : null}
                    {run.totals.length > 0 ? <Totals totals={run.totals} label={`${T.runTotals} · ${T.throughDate(run.through)}`} /> : <p className="text-slate-600">{T.noTotals}</p>}
                  </div>
                </details>
              </li>
            ))}
          </ul>
          <LoadMore shown={rows.length} noun={(count) => translate('billRuns.runsNoun', { count })} hasNextPage={runs.hasNextPage} loading={runs.isFetchingNextPage} onLoad={() => runs.fetchNextPage()} list={list} />
        </>
      )}
    </Card>
  );
}

const problemText = (error: unknown) => problemOf(error, T.requestFailed);

function Totals({ totals, label }: { totals: ItemTotal[]; label: string }) {
  useT();
  return (
    <Table label={label}>
      <thead>
        <tr>
          <th className={th}>{T.item}</th>
          <th className={thNum}>{T.lines}</th>
          <th className={thNum}>{T.charges}</th>
          <th className={thNum}>{T.discounts}</th>
          <th className={thNum}>{T.amount}</th>
        </tr>
      </thead>
      <tbody data-testid="bill-run-totals">
        {totals.map((total) => (
          <tr key={`${total.itemCode}-${total.currency}`}>
            <td className={`${td} font-mono text-xs`}>{total.itemCode}</td>
            <td className={tdNum}>{formatCount(total.lines)}</td>
            <td className={tdNum}>{formatMoney(total.charges, total.currency)}</td>
            <td className={tdNum}>{formatMoney(total.discounts, total.currency)}</td>
            <td className={`${tdNum} font-medium`}>{formatMoney(total.amount, total.currency)}</td>
          </tr>
        ))}
      </tbody>
    </Table>
  );
}

export function BillRunsPage() {
  useT();
  const { can } = useSession();
  const queryClient = useQueryClient();
  const schools = useQuery(schoolOptionsQuery());
  const [params, setParams] = useSearchParams();
  const schoolId = params.get('schoolId') ?? schools.data?.[0]?.id ?? '';
  const school = schools.data?.find((s) => s.id === schoolId);
  const [through, setThrough] = useState(() => new Date().toISOString().slice(0, 10));
  const [runId, setRunId] = useState('');
  const preview = useMutation({ mutationFn: startBillRun });
  const start = useMutation({
    mutationFn: startBillRun,
    onSuccess: async (run) => {
      setRunId(run.id ?? '');
      await queryClient.invalidateQueries({ queryKey: ['bill-runs', 'list'] });
    },
  });
  const run = useQuery(billRunQuery(runId));
  const current = run.data ?? start.data;
  const finished = current?.status === 'finished';
  useEffect(() => {
    if (finished) {
      // Everything the run billed, and the history (its row is finished now); not the run itself, which just said so.
      void queryClient.invalidateQueries({ predicate: (query) => query.queryKey[0] !== 'bill-runs' || query.queryKey[1] === 'list' });
    }
  }, [finished, queryClient]);

  const submit = (dryRun: boolean) => (event?: FormEvent) => {
    event?.preventDefault();
    if (!schoolId || preview.isPending || start.isPending) {
      return;
    }
    if (dryRun) {
      preview.mutate({ schoolId, through, dryRun: true });
    } else {
      setRunId('');
      start.mutate({ schoolId, through, dryRun: false });
    }
  };
  const data = preview.data?.preview;
  return (
    <>
      <PageHeader title={T.title} subtitle={T.subtitle} />
      <Card className="mb-6">
        <form className="grid grid-cols-1 items-end gap-3 sm:grid-cols-[minmax(0,2fr)_minmax(0,1fr)_auto_auto]" onSubmit={submit(true)} noValidate>
          <Field label={T.school}>
            <Select
              name="schoolId"
              value={schoolId}
              onChange={(event) => {
                setParams({ schoolId: event.target.value });
                preview.reset();
                start.reset();
                setRunId('');
              }}
            >
              <SchoolOptions schools={schools.data} />
            </Select>
          </Field>
          <Field label={T.through}>
            <Input name="through" type="date" value={through} onChange={(event) => setThrough(event.target.value)} />
          </Field>
          <Button type="submit" busy={preview.isPending}>
            {preview.isPending ? T.previewing : T.preview}
          </Button>
          {can('billing:write') ? (
            <Button variant="primary" busy={start.isPending || current?.status === 'running' || current?.status === 'queued'} onClick={() => submit(false)()}>
              {start.isPending ? T.running : T.run}
            </Button>
          ) : null}
        </form>
        {!can('billing:write') ? <p className="mt-3 text-sm text-slate-600">{T.mayNot}</p> : null}
      </Card>
      {preview.isError ? (
        <div className="mb-6">
          <Notice tone="error" onDismiss={() => preview.reset()}>
            {problemText(preview.error)}
          </Notice>
        </div>
      ) : null}
      {start.isError ? (
        <div className="mb-6">
          <Notice tone="error" onDismiss={() => start.reset()}>
            {problemText(start.error)}
          </Notice>
        </div>
      ) : null}
      {current && !current.dryRun ? (
        <Card title={`${T.progress} · ${T.status_(current.status)}`} className="mb-6" testId="bill-run-progress">
          {run.isError ? <ErrorState error={run.error} onRetry={() => void run.refetch()} /> : null}
          <progress className="mb-3 h-2 w-full" max={Math.max(current.progress.total, 1)} value={current.progress.done} aria-label={T.progress} />
          {current.status === 'finished' ? (
            <div className="mb-3">
              <Notice tone="success" testId="bill-run-done">
                {T.done(current)}
              </Notice>
            </div>
          ) : current.status === 'failed' ? (
            <div className="mb-3">
              <Notice tone="error">
                {T.failed} {current.error}
              </Notice>
            </div>
          ) : null}
          <StatGrid cols={3} className="mb-3">
            <Stat label={T.created} value={formatCount(current.invoicesCreated)} testId="bill-run-invoices" />
            <Stat label={T.linesCreated} value={formatCount(current.linesCreated)} />
            <Stat label={T.skipped} value={formatCount(current.skipped)} />
          </StatGrid>
          {current.totals.length > 0 ? <Totals totals={current.totals} label={T.runTotals} /> : null}
        </Card>
      ) : null}
      {data ? (
        <Card title={`${T.previewTitle} · ${school?.name ?? ''} · ${formatDate(preview.data?.through ?? through)}`} testId="bill-run-preview">
          <StatGrid cols={2} className="mb-4">
            <Stat label={T.invoices} value={formatCount(data.invoices)} testId="preview-invoices" />
            <Stat label={T.lines} value={formatCount(data.lines)} testId="preview-lines" />
          </StatGrid>
          <h3 className="mb-2 text-sm font-semibold text-slate-700">{T.totals}</h3>
          <Totals totals={data.totals} label={T.previewTotals} />
          <h3 className="mb-2 mt-4 text-sm font-semibold text-slate-700">{T.firstRows}</h3>
          <Table label={T.firstRows}>
            <thead>
              <tr>
                <th className={th}>{T.student}</th>
                <th className={th}>{T.due}</th>
                <th className={th}>{T.lines}</th>
                <th className={thNum}>{T.amount}</th>
              </tr>
            </thead>
            <tbody>
              {data.firstRows.map((row, index) => (
                <tr key={`${row.studentId}-${row.dueDate}-${index}`}>
                  <td className={td}>{row.studentName}</td>
                  <td className={td}>{formatDate(row.dueDate)}</td>
                  <td className={`${td} text-xs`}>{row.lines.map((line) => `${line.description} ${school ? formatMoney(line.amount, school.currency) : line.amount}`).join(' · ')}</td>
                  <td className={tdNum}>{school ? formatMoney(row.amount, school.currency) : row.amount}</td>
                </tr>
              ))}
            </tbody>
          </Table>
        </Card>
      ) : null}
      {schoolId ? <BillRunHistory schoolId={schoolId} /> : null}
    </>
  );
}
