import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useId, useRef, useState, type FormEvent, type ReactNode } from 'react';
import { fieldErrorsOf } from '../../components/money';
import { Button, Card, cx, describeError, EmptyState, ErrorState, Field, Input, LoadMore, Notice, PageHeader, SchoolOptions, Select, Skeleton, Stat, StatGrid } from '../../components/ui';
import { detailSentence } from '../../lib/problems';
import { ApiError } from '../../lib/api';
import { formatBytes, formatCount, formatDate, formatDateTime, formatMoney } from '../../lib/format';
import { textLocale, translate, useT } from '../../lib/i18n';
import { useSearchParams } from '../../lib/router';
import { schoolOptionsQuery, type SchoolOption } from '../../lib/schools';
import {
  countsQuery,
  DATE_FORMATS,
  familySearchQuery,
  findOpenInvoice,
  formatOfFile,
  ignoreLine,
  LINE_STATUSES,
  linesQuery,
  mappingQuery,
  matchLine,
  MAX_STATEMENT_BYTES,
  refreshAfterDecision,
  saveMapping,
  STATEMENT_FORMATS,
  unmatchLine,
  uploadStatement,
  type BankImport,
  type BankLine,
  type CsvMapping,
  type DateFormat,
  type LineCounts,
  type LineStatus,
  type MatchTarget,
  type StatementFormat,
  type StatementMapping,
} from './api';

/**
 * Bank reconciliation (SPEC §9): upload a statement, see how much of it matched, and work
 * the exceptions queue — confirm a suggestion in one click, match a line to an invoice or
 * a family by hand, set a line aside, or undo a match (a refund, with a reason). The
 * school and the queue's tab live in the query string. For super_admin and school_admin
 * (reconciliation:use): the lines carry payer names and remittance texts.
 */
export function ReconciliationPage() {
  const { t } = useT();
  const schools = useQuery(schoolOptionsQuery());
  const [params, setParams] = useSearchParams();
  const schoolId = params.get('schoolId') ?? schools.data?.[0]?.id ?? '';
  const school = schools.data?.find((candidate) => candidate.id === schoolId);
  const wanted = params.get('status');
  const status: LineStatus = LINE_STATUSES.find((candidate) => candidate === wanted) ?? 'suggested';

  return (
    <>
      <PageHeader title={t('reconciliation.title')} subtitle={t('reconciliation.subtitle')} />
      {schools.isPending ? (
        <Skeleton rows={4} />
      ) : schools.isError ? (
        <ErrorState error={schools.error} onRetry={() => void schools.refetch()} />
      ) : !school ? (
        <EmptyState>{t('reconciliation.noSchools')}</EmptyState>
      ) : (
        <div className="space-y-6">
          {(schools.data?.length ?? 0) > 1 ? (
            <div className="max-w-sm">
              <Field label={t('reconciliation.school')}>
                <Select name="schoolId" value={schoolId} onChange={(event) => setParams({ schoolId: event.target.value })} data-testid="recon-school">
                  <SchoolOptions schools={schools.data} />
                </Select>
              </Field>
            </div>
          ) : null}
          <div className="grid grid-cols-1 items-start gap-6 lg:grid-cols-2">
            <UploadCard key={`upload-${school.id}`} school={school} />
            <RateCard schoolId={school.id} />
          </div>
          <QueueCard key={`queue-${school.id}`} school={school} status={status} onStatus={(next) => setParams({ status: next === 'suggested' ? null : next })} />
          <MappingCard key={`mapping-${school.id}`} school={school} />
        </div>
      )}
    </>
  );
}

/** What a refused request says, for a person: the server's detail (it names the line and field; in Spanish where problems.ts knows it), 413 in words. */
function problemDetail(error: unknown): string {
  if (error instanceof ApiError) {
    if (error.status === 413) {
      return translate('reconciliation.errors.tooLarge');
    }
    return detailSentence(error.problem.detail) ?? error.problem.detail ?? error.message;
  }
  return describeError(error).detail;
}

// ---------------------------------------------------------------------------- upload

function UploadCard({ school }: { school: SchoolOption }) {
  const { t } = useT();
  const queryClient = useQueryClient();
  const [file, setFile] = useState<File | null>(null);
  const [format, setFormat] = useState<StatementFormat>('csv');
  const [problem, setProblem] = useState<string | null>(null);
  const [result, setResult] = useState<{ name: string; answer: BankImport } | null>(null);
  const ids = useId();
  const upload = useMutation({
    mutationFn: (chosen: File) => uploadStatement(school.id, format, chosen),
    onSuccess: async (answer, chosen) => {
      setResult({ name: chosen.name, answer });
      await refreshAfterDecision(queryClient);
    },
    onError: (error) => setProblem(problemDetail(error)),
  });

  const choose = (chosen: File | null) => {
    setFile(chosen);
    setProblem(null);
    setResult(null);
    if (chosen) {
      setFormat(formatOfFile(chosen.name) ?? 'csv');
    }
  };
  const submit = (event: FormEvent) => {
    event.preventDefault();
    setProblem(null);
    setResult(null);
    if (!file) {
      setProblem(t('reconciliation.upload.chooseFile'));
      return;
    }
    if (file.size > MAX_STATEMENT_BYTES) {
      setProblem(t('reconciliation.upload.tooLarge', { size: formatBytes(file.size) }));
      return;
    }
    upload.mutate(file);
  };

  return (
    <Card title={t('reconciliation.upload.title')} testId="recon-upload">
      <form onSubmit={submit} className="space-y-3" noValidate>
        <div className="min-w-0">
          <span id={`${ids}-label`} className="mb-1 block text-xs font-medium text-slate-700">
            {t('reconciliation.upload.file')}
          </span>
          <div className="flex flex-wrap items-center gap-x-3 gap-y-2 rounded-lg border border-slate-300 bg-white px-3 py-2 shadow-sm">
            {/* The browser's own "Choose file" text is in the browser's language: this button is in the dashboard's. */}
            <label className="inline-flex cursor-pointer items-center rounded-md border border-slate-300 bg-slate-50 px-3 py-1.5 text-sm font-medium text-slate-800 hover:bg-slate-100 focus-within:ring-2 focus-within:ring-indigo-500">
              {t('reconciliation.upload.choose')}
              <input
                type="file"
                name="statement"
                className="sr-only"
                aria-labelledby={`${ids}-label`}
                aria-describedby={`${ids}-chosen ${ids}-hint`}
                accept=".csv,.txt,.xml,.ofx,.qfx,text/csv,application/xml,text/xml,application/x-ofx"
                onChange={(event) => choose(event.target.files?.[0] ?? null)}
              />
            </label>
            <span id={`${ids}-chosen`} className="min-w-0 break-words text-sm text-slate-700 [overflow-wrap:anywhere]" data-testid="chosen-file">
              {file ? `${file.name} (${formatBytes(file.size)})` : t('reconciliation.upload.noFile')}
            </span>
          </div>
          <span id={`${ids}-hint`} className="mt-1 block text-xs text-slate-600">
            {t('reconciliation.upload.fileHint', { currency: school.currency })}
          </span>
        </div>
        <div className="flex flex-wrap items-end gap-3">
          <div className="min-w-[12rem] flex-1">
            <Field label={t('reconciliation.upload.format')} hint={t('reconciliation.upload.formatHint')}>
              <Select name="format" value={format} onChange={(event) => setFormat(event.target.value as StatementFormat)}>
                {STATEMENT_FORMATS.map((option) => (
                  <option key={option} value={option}>
                    {t(`reconciliation.formats.${option}`)}
                  </option>
                ))}
              </Select>
            </Field>
          </div>
        </div>
        <Button type="submit" variant="primary" busy={upload.isPending}>
          {upload.isPending ? t('reconciliation.upload.submitting') : t('reconciliation.upload.submit')}
        </Button>
      </form>
      {problem ? (
        <div className="mt-4">
          <Notice tone="error" testId="upload-error" onDismiss={() => setProblem(null)}>
            <span className="block font-semibold">{t('reconciliation.upload.failed')}</span>
            <span className="block">{problem}</span>
            {upload.isError ? <span className="mt-1 block text-xs">{t('reconciliation.upload.nothingAdded')}</span> : null}
          </Notice>
        </div>
      ) : null}
      {result ? (
        <div className="mt-4 space-y-3" data-testid="upload-result">
          <Notice tone={result.answer.duplicates === result.answer.lines && result.answer.lines > 0 ? 'info' : 'success'} onDismiss={() => setResult(null)}>
            {t('reconciliation.upload.done', { name: result.name })}
            {result.answer.duplicates === result.answer.lines && result.answer.lines > 0 ? ` ${t('reconciliation.upload.allKnown')}` : ''}
          </Notice>
          <StatGrid cols={3}>
            <Stat label={t('reconciliation.upload.lines')} value={formatCount(result.answer.lines)} testId="import-lines" />
            <Stat label={t('reconciliation.status.matched')} value={formatCount(result.answer.matched)} tone="good" testId="import-matched" />
            <Stat label={t('reconciliation.status.suggested')} value={formatCount(result.answer.suggested)} tone={result.answer.suggested > 0 ? 'warn' : 'default'} testId="import-suggested" />
            <Stat label={t('reconciliation.status.unmatched')} value={formatCount(result.answer.unmatched)} tone={result.answer.unmatched > 0 ? 'bad' : 'default'} testId="import-unmatched" />
            <Stat label={t('reconciliation.status.ignored')} value={formatCount(result.answer.ignored)} testId="import-ignored" />
            <Stat label={t('reconciliation.upload.duplicates')} value={formatCount(result.answer.duplicates)} testId="import-duplicates" />
          </StatGrid>
        </div>
      ) : null}
    </Card>
  );
}

// ---------------------------------------------------------------------------- match rate

const STATUS_COLOURS: Record<LineStatus, string> = {
  matched: 'bg-emerald-600',
  suggested: 'bg-amber-400',
  unmatched: 'bg-rose-600',
  ignored: 'bg-slate-400',
};
const RATE_ORDER: readonly LineStatus[] = ['matched', 'suggested', 'unmatched', 'ignored'];

function formatPercent(ratio: number): string {
  return new Intl.NumberFormat(textLocale(), { style: 'percent', maximumFractionDigits: 0 }).format(ratio);
}

function RateCard({ schoolId }: { schoolId: string }) {
  const { t } = useT();
  const counts = useQuery(countsQuery(schoolId));
  return (
    <Card title={t('reconciliation.rate.title')} testId="recon-rate">
      {counts.isPending ? (
        <Skeleton rows={3} />
      ) : counts.isError ? (
        <ErrorState error={counts.error} onRetry={() => void counts.refetch()} />
      ) : (
        <RateFigures counts={counts.data} />
      )}
    </Card>
  );
}

function RateFigures({ counts }: { counts: LineCounts }) {
  const { t } = useT();
  const total = RATE_ORDER.reduce((sum, status) => sum + counts[status], 0);
  if (total === 0) {
    return <EmptyState>{t('reconciliation.rate.none')}</EmptyState>;
  }
  const incoming = counts.matched + counts.suggested + counts.unmatched;
  const ratio = incoming === 0 ? 1 : counts.matched / incoming;
  const summary = RATE_ORDER.map((status) => `${t(`reconciliation.status.${status}`)} ${formatCount(counts[status])}`).join(', ');
  return (
    <div className="space-y-3">
      <div>
        <p className="text-2xl font-semibold tabular-nums text-slate-900" data-testid="match-rate">
          {t('reconciliation.rate.matched', { percent: formatPercent(ratio) })}
        </p>
        <p className="mt-1 text-sm text-slate-600">{t('reconciliation.rate.of', { matched: formatCount(counts.matched), total: formatCount(incoming) })}</p>
      </div>
      <div role="img" aria-label={t('reconciliation.rate.chart', { summary })} className="flex h-4 w-full overflow-hidden rounded-full bg-slate-100">
        {RATE_ORDER.filter((status) => counts[status] > 0).map((status) => (
          <div key={status} className={cx('h-full', STATUS_COLOURS[status])} style={{ width: `${(counts[status] / total) * 100}%` }} />
        ))}
      </div>
      <dl className="grid grid-cols-2 gap-x-4 gap-y-1 text-sm sm:grid-cols-4">
        {RATE_ORDER.map((status) => (
          <div key={status} className="flex items-center gap-2">
            <span aria-hidden="true" className={cx('inline-block h-2.5 w-2.5 shrink-0 rounded-sm', STATUS_COLOURS[status])} />
            <dt className="text-slate-600">{t(`reconciliation.status.${status}`)}</dt>
            <dd className="ml-auto font-semibold tabular-nums text-slate-900 sm:ml-0" data-testid={`count-${status}`}>
              {formatCount(counts[status])}
            </dd>
          </div>
        ))}
      </dl>
    </div>
  );
}

// ---------------------------------------------------------------------------- the queue

function QueueCard({ school, status, onStatus }: { school: SchoolOption; status: LineStatus; onStatus: (status: LineStatus) => void }) {
  const { t } = useT();
  const counts = useQuery(countsQuery(school.id));
  const lines = useInfiniteQuery(linesQuery(school.id, status));
  const rows = lines.data?.pages.flatMap((page) => page.data) ?? [];
  const list = useRef<HTMLUListElement>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const groupLabel = useId();

  return (
    <Card title={t('reconciliation.queue.title')} testId="recon-queue">
      <div role="group" aria-labelledby={groupLabel} className="mb-4 flex flex-wrap gap-2">
        <span id={groupLabel} className="sr-only">
          {t('reconciliation.queue.tabs')}
        </span>
        {LINE_STATUSES.map((option) => (
          <button
            key={option}
            type="button"
            aria-pressed={option === status}
            data-testid={`tab-${option}`}
            onClick={() => {
              setNotice(null);
              onStatus(option);
            }}
            className={cx(
              'inline-flex items-center gap-1.5 rounded-lg border px-3 py-1.5 text-sm font-medium',
              option === status ? 'border-indigo-600 bg-indigo-50 text-indigo-800' : 'border-slate-300 bg-white text-slate-700 hover:bg-slate-50',
            )}
          >
            {t(`reconciliation.status.${option}`)}
            {counts.data ? <span className="rounded-full bg-white/80 px-1.5 text-xs tabular-nums ring-1 ring-inset ring-slate-300">{formatCount(counts.data[option])}</span> : null}
          </button>
        ))}
      </div>
      {notice ? (
        <div className="mb-3">
          <Notice tone="success" testId="queue-notice" onDismiss={() => setNotice(null)}>
            {notice}
          </Notice>
        </div>
      ) : null}
      {lines.isPending ? (
        <Skeleton rows={6} />
      ) : lines.isError ? (
        <ErrorState error={lines.error} onRetry={() => void lines.refetch()} />
      ) : rows.length === 0 ? (
        <EmptyState>{t(`reconciliation.queue.empty.${status}`)}</EmptyState>
      ) : (
        <>
          <ul ref={list} className="divide-y divide-slate-100 border-y border-slate-100" data-testid="bank-lines">
            {rows.map((line) => (
              <LineItem key={line.id} line={line} school={school} onDone={setNotice} />
            ))}
          </ul>
          <LoadMore
            shown={rows.length}
            total={counts.data?.[status]}
            noun={(count) => t('reconciliation.queue.noun', { count })}
            hasNextPage={lines.hasNextPage}
            loading={lines.isFetchingNextPage}
            onLoad={() => lines.fetchNextPage()}
            list={list}
          />
        </>
      )}
    </Card>
  );
}

/** Why a line is where it is, in words. */
function reasonText(line: BankLine): string | null {
  const reason = line.reason;
  if (reason === null) {
    return null;
  }
  const known = ['invoice', 'reference', 'invoice_amount', 'invoices', 'reference_amount', 'check_digit', 'amount', 'none', 'outgoing', 'manual', 'unmatched', 'ignored'];
  if (known.includes(reason)) {
    return translate(`reconciliation.reason.${reason}`);
  }
  // An ignored line keeps the reason a person gave; any other unknown value is the error code of a match the ledger refused.
  return line.status === 'ignored' ? translate('reconciliation.reason.given', { reason }) : translate('reconciliation.reason.refused', { code: reason });
}

function targetText(line: BankLine): string | null {
  if (line.invoice) {
    return translate('reconciliation.queue.invoice', { number: line.invoice.number });
  }
  if (line.family) {
    return translate('reconciliation.queue.family', { name: line.family.name, reference: line.family.reference });
  }
  return null;
}

type Panel = 'match' | 'ignore' | 'unmatch' | null;

function LineItem({ line, school, onDone }: { line: BankLine; school: SchoolOption; onDone: (message: string) => void }) {
  const { t } = useT();
  const queryClient = useQueryClient();
  const [panel, setPanel] = useState<Panel>(null);
  const [failure, setFailure] = useState<string | null>(null);
  const amount = formatMoney(line.amount, line.currency);
  const target = targetText(line);
  const reason = reasonText(line);
  const confirm = useMutation({
    mutationFn: () => matchLine(line.id, {}),
    onSuccess: async () => {
      onDone(t('reconciliation.actions.confirmed', { amount }));
      await refreshAfterDecision(queryClient);
    },
    onError: (error) => setFailure(problemDetail(error)),
  });
  const open = (next: Panel) => {
    setFailure(null);
    setPanel((current) => (current === next ? null : next));
  };
  const done = async (message: string) => {
    onDone(message);
    await refreshAfterDecision(queryClient);
  };
  const incoming = line.amount > 0;

  return (
    <li data-row tabIndex={-1} data-testid="bank-line" data-bank-id={line.bankTransactionId} className="py-3 focus:outline-none focus-visible:bg-indigo-50">
      <div className="grid grid-cols-1 gap-x-6 gap-y-2 md:grid-cols-[minmax(0,1fr)_auto]">
        <div className="min-w-0 space-y-1">
          <div className="flex flex-wrap items-baseline justify-between gap-x-4 gap-y-1 md:justify-start">
            <span className="text-sm text-slate-600">
              <span className="sr-only">{t('reconciliation.queue.date')}: </span>
              {formatDate(line.date)}
            </span>
            <span className={cx('font-semibold tabular-nums', incoming ? 'text-slate-900' : 'text-rose-700')} data-testid="line-amount">
              <span className="sr-only">{t('reconciliation.queue.amount')}: </span>
              {amount}
            </span>
          </div>
          <p className="break-words text-sm text-slate-800" data-testid="line-description">
            <span className="sr-only">{t('reconciliation.queue.description')}: </span>
            {line.description}
          </p>
          <p className="break-words text-xs text-slate-600">
            {line.payerName ? (
              <>
                {t('reconciliation.queue.payer')}: {line.payerName} ·{' '}
              </>
            ) : null}
            {t('reconciliation.queue.bankId')}: <span className="font-mono [overflow-wrap:anywhere]">{line.bankTransactionId}</span>
          </p>
          {target && (line.status === 'suggested' || line.status === 'matched') ? (
            <p className="break-words text-sm" data-testid="line-target">
              <span className="font-medium text-slate-700">{line.status === 'matched' ? t('reconciliation.queue.matchedTo') : t('reconciliation.queue.suggestion')}: </span>
              <span className="font-semibold text-slate-900">{target}</span>
              {line.invoice && line.status === 'suggested' ? <span className="text-slate-600"> ({t('reconciliation.queue.owes', { amount: formatMoney(line.invoice.pendingAmount, line.currency) })})</span> : null}
            </p>
          ) : null}
          {reason ? (
            <p className="break-words text-xs text-slate-600" data-testid="line-reason">
              {reason}
              {line.decidedAt && (line.status === 'matched' || line.reason === 'manual' || line.reason === 'unmatched') ? ` · ${t('reconciliation.queue.decided', { at: formatDateTime(line.decidedAt, school.timezone) })}` : ''}
            </p>
          ) : null}
        </div>
        <div className="flex flex-wrap content-start items-start gap-2 md:max-w-[22rem] md:justify-end">
          {line.status === 'suggested' && target ? (
            <Button variant="primary" busy={confirm.isPending} onClick={() => confirm.mutate()} aria-label={t('reconciliation.actions.confirmLabel', { amount, target })} data-testid="confirm">
              {t('reconciliation.actions.confirm')}
            </Button>
          ) : null}
          {line.status !== 'matched' && incoming ? (
            <Button aria-expanded={panel === 'match'} onClick={() => open('match')} data-testid="open-match">
              {t('reconciliation.actions.match')}
            </Button>
          ) : null}
          {line.status === 'suggested' || line.status === 'unmatched' ? (
            <Button variant="ghost" aria-expanded={panel === 'ignore'} onClick={() => open('ignore')} data-testid="open-ignore">
              {t('reconciliation.actions.ignore')}
            </Button>
          ) : null}
          {line.status === 'matched' ? (
            <Button aria-expanded={panel === 'unmatch'} onClick={() => open('unmatch')} data-testid="open-unmatch">
              {t('reconciliation.actions.unmatch')}
            </Button>
          ) : null}
        </div>
      </div>
      <FailureNotice testId="line-error" failure={failure} onDismiss={() => setFailure(null)} />
      {panel === 'match' ? <MatchPanel line={line} school={school} amount={amount} onClose={() => setPanel(null)} onDone={done} /> : null}
      {panel === 'ignore' ? <IgnorePanel line={line} onClose={() => setPanel(null)} onDone={done} /> : null}
      {panel === 'unmatch' ? <UnmatchPanel line={line} amount={amount} onClose={() => setPanel(null)} onDone={done} /> : null}
    </li>
  );
}

function PanelBox({ title, children, testId }: { title: string; children: ReactNode; testId: string }) {
  return (
    <section className="mt-3 rounded-lg border border-slate-200 bg-slate-50 p-3" data-testid={testId} aria-label={title}>
      <h3 className="mb-2 text-sm font-semibold text-slate-800">{title}</h3>
      {children}
    </section>
  );
}

function MatchPanel({ line, school, amount, onClose, onDone }: { line: BankLine; school: SchoolOption; amount: string; onClose: () => void; onDone: (message: string) => Promise<void> }) {
  const { t } = useT();
  const [kind, setKind] = useState<'invoice' | 'family'>(line.family && !line.invoice ? 'family' : 'invoice');
  const [number, setNumber] = useState('');
  const [search, setSearch] = useState('');
  const [q, setQ] = useState('');
  const [fieldError, setFieldError] = useState<string | null>(null);
  const [failure, setFailure] = useState<string | null>(null);
  const name = useId();
  useEffect(() => {
    const timer = setTimeout(() => setQ(search.trim()), 250);
    return () => clearTimeout(timer);
  }, [search]);
  const families = useQuery(familySearchQuery(school.id, q));
  const match = useMutation({
    mutationFn: async (target: { invoice: string } | { familyId: string }) => {
      let body: MatchTarget;
      if ('invoice' in target) {
        const invoiceId = await findOpenInvoice(school.id, target.invoice);
        if (invoiceId === null) {
          throw new NotFoundInvoice(target.invoice);
        }
        body = { invoiceId };
      } else {
        body = target;
      }
      return matchLine(line.id, body);
    },
    onSuccess: () => onDone(t('reconciliation.match.done', { amount })),
    onError: (error) => {
      if (error instanceof NotFoundInvoice) {
        setFieldError(t('reconciliation.match.notFound', { number: error.number }));
        return;
      }
      const fields = fieldErrorsOf(error);
      const detail = problemDetail(error);
      if (fields.invoiceId && kind === 'invoice') {
        setFieldError(detail);
      } else {
        setFailure(detail);
      }
    },
  });
  const submitInvoice = (event: FormEvent) => {
    event.preventDefault();
    setFieldError(null);
    setFailure(null);
    if (number.trim() === '') {
      setFieldError(t('reconciliation.match.required'));
      return;
    }
    match.mutate({ invoice: number.trim() });
  };

  return (
    <PanelBox title={t('reconciliation.match.title')} testId="match-panel">
      <fieldset className="mb-3">
        <legend className="mb-1 text-xs font-medium text-slate-700">{t('reconciliation.match.to')}</legend>
        <div className="flex flex-wrap gap-4 text-sm">
          {(['invoice', 'family'] as const).map((option) => (
            <label key={option} className="inline-flex items-center gap-2">
              <input
                type="radio"
                name={name}
                value={option}
                checked={kind === option}
                onChange={() => {
                  setKind(option);
                  setFieldError(null);
                  setFailure(null);
                }}
              />
              {t(`reconciliation.match.${option}`)}
            </label>
          ))}
        </div>
      </fieldset>
      {kind === 'invoice' ? (
        <form onSubmit={submitInvoice} className="flex flex-wrap items-start gap-2" noValidate>
          <div className="min-w-0 flex-1 basis-56">
            <Field label={t('reconciliation.match.invoiceNumber')} hint={t('reconciliation.match.invoiceHint')} error={fieldError}>
              <Input name="invoice" autoComplete="off" value={number} maxLength={60} onChange={(event) => setNumber(event.target.value)} />
            </Field>
          </div>
          <div className="flex flex-wrap gap-2 pt-5">
            <Button type="submit" variant="primary" busy={match.isPending} data-testid="match-invoice">
              {match.isPending ? t('reconciliation.match.submitting') : t('reconciliation.match.submit')}
            </Button>
            <Button variant="ghost" onClick={onClose}>
              {t('reconciliation.actions.cancel')}
            </Button>
          </div>
        </form>
      ) : (
        <div className="space-y-2">
          <Field label={t('reconciliation.match.familySearch')} hint={t('reconciliation.match.familyHint')}>
            <Input name="family" type="search" autoComplete="off" value={search} maxLength={100} onChange={(event) => setSearch(event.target.value)} />
          </Field>
          {q.length < 2 ? null : families.isPending ? (
            <p className="text-sm text-slate-600">{t('reconciliation.match.searching')}</p>
          ) : families.isError ? (
            <ErrorState error={families.error} />
          ) : families.data.length === 0 ? (
            <p className="text-sm text-slate-600">{t('reconciliation.match.noFamily')}</p>
          ) : (
            <ul className="flex flex-col gap-1" data-testid="family-results">
              {families.data.map((family) => (
                <li key={family.id}>
                  <Button size="sm" className="max-w-full text-left" busy={match.isPending} onClick={() => match.mutate({ familyId: family.id })}>
                    <span className="break-words">{t('reconciliation.match.choose', { name: `${family.name} · ${family.reference}` })}</span>
                  </Button>
                </li>
              ))}
            </ul>
          )}
          <Button variant="ghost" onClick={onClose}>
            {t('reconciliation.actions.cancel')}
          </Button>
        </div>
      )}
      <FailureNotice testId="match-error" failure={failure} onDismiss={() => setFailure(null)} />
    </PanelBox>
  );
}

class NotFoundInvoice extends Error {
  constructor(readonly number: string) {
    super(`no open invoice ${number}`);
  }
}

function IgnorePanel({ line, onClose, onDone }: { line: BankLine; onClose: () => void; onDone: (message: string) => Promise<void> }) {
  const { t } = useT();
  const [reason, setReason] = useState('');
  const [failure, setFailure] = useState<string | null>(null);
  const ignore = useMutation({
    mutationFn: () => ignoreLine(line.id, reason.trim()),
    onSuccess: () => onDone(t('reconciliation.ignore.done')),
    onError: (error) => setFailure(problemDetail(error)),
  });
  return (
    <PanelBox title={t('reconciliation.ignore.title')} testId="ignore-panel">
      <form
        className="flex flex-wrap items-start gap-2"
        onSubmit={(event) => {
          event.preventDefault();
          setFailure(null);
          ignore.mutate();
        }}
      >
        <div className="min-w-0 flex-1 basis-56">
          <Field label={t('reconciliation.ignore.reason')} hint={t('reconciliation.ignore.hint')}>
            <Input name="reason" autoComplete="off" value={reason} maxLength={500} onChange={(event) => setReason(event.target.value)} />
          </Field>
        </div>
        <div className="flex flex-wrap gap-2 pt-5">
          <Button type="submit" variant="primary" busy={ignore.isPending} data-testid="ignore-submit">
            {t('reconciliation.ignore.submit')}
          </Button>
          <Button variant="ghost" onClick={onClose}>
            {t('reconciliation.actions.cancel')}
          </Button>
        </div>
      </form>
      <FailureNotice failure={failure} onDismiss={() => setFailure(null)} />
    </PanelBox>
  );
}

function UnmatchPanel({ line, amount, onClose, onDone }: { line: BankLine; amount: string; onClose: () => void; onDone: (message: string) => Promise<void> }) {
  const { t } = useT();
  const [reason, setReason] = useState('');
  const [fieldError, setFieldError] = useState<string | null>(null);
  const [failure, setFailure] = useState<string | null>(null);
  const warning = useId();
  const unmatch = useMutation({
    mutationFn: () => unmatchLine(line.id, reason.trim()),
    onSuccess: () => onDone(t('reconciliation.unmatch.done', { amount })),
    onError: (error) => {
      if (fieldErrorsOf(error).reason) {
        setFieldError(t('reconciliation.unmatch.short'));
      } else {
        setFailure(problemDetail(error));
      }
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    setFieldError(null);
    setFailure(null);
    if (reason.trim().length < 3) {
      setFieldError(t('reconciliation.unmatch.short'));
      return;
    }
    unmatch.mutate();
  };
  return (
    <PanelBox title={t('reconciliation.unmatch.title')} testId="unmatch-panel">
      <p id={warning} className="mb-3 rounded-md border border-amber-300 bg-amber-50 px-3 py-2 text-sm text-amber-900" data-testid="unmatch-warning">
        {t('reconciliation.unmatch.warning', { amount })}
      </p>
      <form className="flex flex-wrap items-start gap-2" onSubmit={submit} noValidate>
        <div className="min-w-0 flex-1 basis-56">
          <Field label={t('reconciliation.unmatch.reason')} hint={t('reconciliation.unmatch.hint')} error={fieldError}>
            <Input name="reason" autoComplete="off" value={reason} minLength={3} maxLength={500} required onChange={(event) => setReason(event.target.value)} />
          </Field>
        </div>
        <div className="flex flex-wrap gap-2 pt-5">
          <Button type="submit" variant="danger" busy={unmatch.isPending} aria-describedby={warning} data-testid="unmatch-submit">
            {t('reconciliation.unmatch.submit')}
          </Button>
          <Button variant="ghost" onClick={onClose}>
            {t('reconciliation.actions.cancel')}
          </Button>
        </div>
      </form>
      <FailureNotice testId="unmatch-error" failure={failure} onDismiss={() => setFailure(null)} />
    </PanelBox>
  );
}

// ---------------------------------------------------------------------------- CSV mapping

const MAPPING_KEYS = ['date', 'amount', 'description', 'id'] as const;

function MappingCard({ school }: { school: SchoolOption }) {
  const { t } = useT();
  const mapping = useQuery(mappingQuery(school.id));
  return (
    <Card title={t('reconciliation.mapping.title')} testId="recon-mapping">
      {mapping.isPending ? (
        <Skeleton rows={3} />
      ) : mapping.isError ? (
        <ErrorState error={mapping.error} onRetry={() => void mapping.refetch()} />
      ) : (
        <MappingForm school={school} saved={mapping.data} />
      )}
    </Card>
  );
}

function MappingForm({ school, saved }: { school: SchoolOption; saved: StatementMapping }) {
  const { t } = useT();
  const queryClient = useQueryClient();
  const [values, setValues] = useState<Record<(typeof MAPPING_KEYS)[number], string>>({
    date: saved.mapping.date ?? '',
    amount: saved.mapping.amount ?? '',
    description: saved.mapping.description ?? '',
    id: saved.mapping.id ?? '',
  });
  const [dateFormat, setDateFormat] = useState<DateFormat>(saved.mapping.dateFormat ?? 'YYYY-MM-DD');
  const [outcome, setOutcome] = useState<{ tone: 'success' | 'error'; text: string } | null>(null);
  const [fields, setFields] = useState<Record<string, string>>({});
  const save = useMutation({
    mutationFn: () => {
      const body: CsvMapping = { dateFormat };
      for (const key of MAPPING_KEYS) {
        const value = values[key].trim();
        if (value !== '') {
          body[key] = value;
        }
      }
      return saveMapping(school.id, body);
    },
    onSuccess: (answer) => {
      setOutcome({ tone: 'success', text: t('reconciliation.mapping.saved') });
      queryClient.setQueryData(mappingQuery(school.id).queryKey, answer);
    },
    onError: (error) => {
      setFields(fieldErrorsOf(error));
      setOutcome({ tone: 'error', text: `${t('reconciliation.mapping.failed')}: ${problemDetail(error)}` });
    },
  });
  return (
    <form
      className="space-y-3"
      onSubmit={(event) => {
        event.preventDefault();
        setOutcome(null);
        setFields({});
        save.mutate();
      }}
    >
      <p className="text-sm text-slate-600">{t('reconciliation.mapping.intro')}</p>
      <div className="grid grid-cols-1 items-end gap-3 sm:grid-cols-2 lg:grid-cols-5">
        {MAPPING_KEYS.map((key) => (
          <Field key={key} label={t(`reconciliation.mapping.${key}`)} error={fields[key] ?? null}>
            <Input name={`mapping-${key}`} autoComplete="off" value={values[key]} placeholder={key} maxLength={100} onChange={(event) => setValues((current) => ({ ...current, [key]: event.target.value }))} />
          </Field>
        ))}
        <Field label={t('reconciliation.mapping.dateFormat')} error={fields.dateFormat ?? null}>
          <Select name="mapping-dateFormat" value={dateFormat} onChange={(event) => setDateFormat(event.target.value as DateFormat)}>
            {DATE_FORMATS.map((format) => (
              <option key={format} value={format}>
                {format}
              </option>
            ))}
          </Select>
        </Field>
      </div>
      <div className="flex flex-wrap items-center gap-3">
        <Button type="submit" variant="primary" busy={save.isPending} data-testid="mapping-save">
          {save.isPending ? t('reconciliation.mapping.saving') : t('reconciliation.mapping.save')}
        </Button>
        <span className="text-xs text-slate-600" data-testid="mapping-updated">
          {saved.updatedAt ? t('reconciliation.mapping.updated', { at: formatDateTime(saved.updatedAt, school.timezone) }) : t('reconciliation.mapping.never')}
        </span>
      </div>
      {outcome ? (
        <Notice tone={outcome.tone} testId="mapping-outcome" onDismiss={() => setOutcome(null)}>
          {outcome.text}
        </Notice>
      ) : null}
    </form>
  );
}

/** What went wrong with an action on a line, under it, until dismissed. */
function FailureNotice({ testId, failure, onDismiss }: { testId?: string; failure: string | null; onDismiss: () => void }) {
  const { t } = useT();
  if (!failure) {
    return null;
  }
  return (
    <div className="mt-2">
      <Notice tone="error" {...(testId === undefined ? {} : { testId })} onDismiss={onDismiss}>
        <span className="font-semibold">{t('reconciliation.actions.failed')}:</span> {failure}
      </Notice>
    </div>
  );
}
