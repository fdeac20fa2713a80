import {
  cloneElement,
  forwardRef,
  isValidElement,
  useEffect,
  useId,
  useRef,
  useState,
  type ButtonHTMLAttributes,
  type InputHTMLAttributes,
  type MouseEvent,
  type ReactElement,
  type ReactNode,
  type SelectHTMLAttributes,
} from 'react';
import { ApiError } from '../lib/api';
import { formatCount, enumLabel } from '../lib/format';
import { translate, useT } from '../lib/i18n';
import { detailSentence, problemSentence } from '../lib/problems';

export function cx(...classes: (string | false | null | undefined)[]): string {
  return classes.filter(Boolean).join(' ');
}

/**
 * A page's heading and the document title ("Pending payments · Bursar"). The <h1> can
 * take focus (tabIndex −1): after a route change the shell moves focus there, so a
 * keyboard or screen-reader user starts reading the new page, not the old nav link.
 * `documentTitle` overrides the heading in the tab title when they should differ.
 */
export function PageHeader({ title, subtitle, actions, documentTitle }: { title: string; subtitle?: ReactNode; actions?: ReactNode; documentTitle?: string }) {
  const tabTitle = documentTitle ?? title;
  // Again on a change of language: the shell has just put the route's title back.
  const { i18n } = useT();
  const language = i18n.resolvedLanguage;
  useEffect(() => {
    document.title = `${tabTitle} · Bursar`;
  }, [tabTitle, language]);
  return (
    <div className="mb-6 flex flex-col gap-3 sm:flex-row sm:items-end sm:justify-between">
      <div className="min-w-0">
        <h1 tabIndex={-1} className="break-words text-2xl font-semibold tracking-tight text-slate-900 focus:outline-none">
          {title}
        </h1>
        {subtitle ? <p className="mt-1 break-words text-sm text-slate-600">{subtitle}</p> : null}
      </div>
      {actions ? <div className="flex flex-wrap items-center gap-2">{actions}</div> : null}
    </div>
  );
}

export function Card({ title, actions, children, className, testId }: { title?: ReactNode; actions?: ReactNode; children: ReactNode; className?: string; testId?: string }) {
  return (
    <section className={cx('min-w-0 rounded-xl border border-slate-200 bg-white shadow-sm', className)} data-testid={testId}>
      {title || actions ? (
        <header className="flex flex-wrap items-center justify-between gap-2 border-b border-slate-100 px-4 py-3">
          {title ? <h2 className="text-sm font-semibold text-slate-700">{title}</h2> : <span />}
          {actions}
        </header>
      ) : null}
      <div className="p-4">{children}</div>
    </section>
  );
}

/**
 * Figures in a grid of cards. Below 480 px there is one column and each card is one
 * line (label left, figure right: see .stat-grid in index.css), so a large amount
 * ("COP 31,450,000.00") keeps a readable size on a phone; from 480 px two columns,
 * from `lg` `cols` (4 by default).
 */
export function StatGrid({ children, cols = 4, className }: { children: ReactNode; cols?: 2 | 3 | 4; className?: string }) {
  const wide = { 2: '', 3: 'lg:grid-cols-3', 4: 'lg:grid-cols-4' }[cols];
  return <div className={cx('stat-grid grid grid-cols-1 gap-2 min-[480px]:grid-cols-2 min-[480px]:gap-3', wide, className)}>{children}</div>;
}

/** One figure. Numbers are tabular; a figure wider than its card wraps instead of spilling out. */
export function Stat({ label, value, hint, tone = 'default', testId }: { label: string; value: ReactNode; hint?: ReactNode; tone?: 'default' | 'good' | 'bad' | 'warn'; testId?: string }) {
  const tones = { default: 'text-slate-900', good: 'text-emerald-700', bad: 'text-rose-700', warn: 'text-amber-700' };
  return (
    <div className="stat min-w-0 rounded-xl border border-slate-200 bg-white p-4 shadow-sm" data-testid={testId}>
      <div className="stat-label text-xs font-medium uppercase tracking-wide text-slate-600">{label}</div>
      <div
        className={cx('stat-value mt-1 min-w-0 text-lg font-semibold leading-snug tabular-nums [overflow-wrap:anywhere] xl:text-xl', tones[tone])}
        data-testid={testId ? `${testId}-value` : undefined}
      >
        {value}
      </div>
      {hint ? <div className="stat-hint mt-1 text-xs text-slate-600">{hint}</div> : null}
    </div>
  );
}

type ButtonProps = ButtonHTMLAttributes<HTMLButtonElement> & {
  variant?: 'primary' | 'secondary' | 'ghost' | 'danger';
  size?: 'sm' | 'md';
  /**
   * Working on it: the button ignores clicks and says so (aria-disabled, aria-busy) but
   * stays focusable. A `disabled` button drops keyboard focus to <body>, which is what
   * Export, Load more and Record payment used to do.
   */
  busy?: boolean;
};
export const Button = forwardRef<HTMLButtonElement, ButtonProps>(function Button({ variant = 'secondary', size = 'md', className, type = 'button', busy = false, onClick, ...rest }, ref) {
  const variants = {
    primary: 'bg-indigo-600 text-white hover:bg-indigo-700 disabled:bg-indigo-300 aria-disabled:bg-indigo-400',
    secondary: 'border border-slate-300 bg-white text-slate-700 hover:bg-slate-50 disabled:text-slate-400 aria-disabled:bg-slate-50',
    ghost: 'text-slate-700 hover:bg-slate-100 disabled:text-slate-300',
    danger: 'bg-rose-600 text-white hover:bg-rose-700 disabled:bg-rose-300',
  };
  const sizes = { sm: 'px-2.5 py-1 text-xs', md: 'px-3.5 py-2 text-sm' };
  const click = (event: MouseEvent<HTMLButtonElement>) => {
    if (busy) {
      event.preventDefault();
      return;
    }
    onClick?.(event);
  };
  return (
    <button
      ref={ref}
      type={type}
      className={cx('inline-flex items-center justify-center gap-1.5 rounded-lg font-medium transition-colors disabled:cursor-not-allowed aria-disabled:cursor-progress', variants[variant], sizes[size], className)}
      aria-disabled={busy || undefined}
      aria-busy={busy || undefined}
      onClick={click}
      {...rest}
    />
  );
});

const control = 'block w-full rounded-lg border border-slate-300 bg-white px-3 py-2 text-sm text-slate-900 shadow-sm placeholder:text-slate-500 focus:border-indigo-500 aria-[invalid=true]:border-rose-500 focus:ring-1 focus:ring-indigo-500 focus:outline-none';

type Describable = ReactElement<{ 'aria-describedby'?: string; 'aria-invalid'?: boolean }>;

/**
 * A labelled control. The hint and the error are tied to the control
 * (aria-describedby), and an error marks it aria-invalid, so a screen reader reads
 * "Amount, invalid, At most MX$4,500.00 is owed" when focus lands on it.
 */
export function Field({ label, children, hint, error }: { label: string; children: Describable; hint?: ReactNode; error?: string | null }) {
  const id = useId();
  const hintId = hint ? `${id}-hint` : undefined;
  const errorId = error ? `${id}-error` : undefined;
  const describedBy = [errorId, hintId].filter(Boolean).join(' ') || undefined;
  const control = isValidElement(children) ? cloneElement(children, { 'aria-describedby': describedBy, 'aria-invalid': error ? true : undefined }) : children;
  return (
    <label className="block min-w-0">
      <span className="mb-1 block text-xs font-medium text-slate-700">{label}</span>
      {control}
      {error ? (
        <span id={errorId} className="mt-1 block text-xs font-medium text-rose-700" data-testid="field-error">
          {error}
        </span>
      ) : null}
      {hint ? (
        <span id={hintId} className="mt-1 block text-xs text-slate-600">
          {hint}
        </span>
      ) : null}
    </label>
  );
}

export const Input = forwardRef<HTMLInputElement, InputHTMLAttributes<HTMLInputElement>>(function Input({ className, ...rest }, ref) {
  return <input ref={ref} className={cx(control, className)} {...rest} />;
});

export function Select({ className, children, ...rest }: SelectHTMLAttributes<HTMLSelectElement>) {
  return (
    <select className={cx(control, 'pr-8', className)} {...rest}>
      {children}
    </select>
  );
}

/** The `<option>`s of a school picker: the schools the caller may see (schoolOptionsQuery), by name. */
export function SchoolOptions({ schools }: { schools: readonly { id: string; name: string }[] | undefined }) {
  return (
    <>
      {(schools ?? []).map((school) => (
        <option key={school.id} value={school.id}>
          {school.name}
        </option>
      ))}
    </>
  );
}

export function Spinner({ label }: { label?: string }) {
  const { t } = useT();
  return (
    <div role="status" className="flex items-center gap-2 py-6 text-sm text-slate-600">
      <span className="h-4 w-4 animate-spin rounded-full border-2 border-slate-300 border-t-indigo-600" aria-hidden="true" />
      {label ?? t('ui.loading')}
    </div>
  );
}

export function Skeleton({ rows = 3 }: { rows?: number }) {
  const { t } = useT();
  return (
    <div role="status" aria-label={t('ui.loadingLabel')} className="space-y-2 py-2">
      {Array.from({ length: rows }, (_, index) => (
        <div key={index} className="h-4 animate-pulse rounded bg-slate-100" style={{ width: `${90 - index * 12}%` }} />
      ))}
    </div>
  );
}

/** What to tell a person about a failed request, by status. */
export function describeError(error: unknown): { title: string; detail: string } {
  if (error instanceof ApiError) {
    switch (error.status) {
      case 403:
        return { title: translate('error.forbidden'), detail: translate('error.forbiddenDetail') };
      case 404:
        return { title: translate('error.notFound'), detail: detailSentence(error.problem.detail) ?? error.problem.detail ?? translate('error.notFoundDetail') };
      case 429:
        return { title: translate('error.tooMany'), detail: translate('error.tooManyDetail') };
      default: {
        const message = problemSentence(error) ?? error.message;
        return {
          title: translate(error.status >= 500 ? 'error.server' : 'error.failed'),
          detail: error.problem.requestId ? translate('error.requestId', { message, id: error.problem.requestId }) : message,
        };
      }
    }
  }
  return { title: translate('error.network'), detail: error instanceof Error ? error.message : translate('error.networkDetail') };
}

export function ErrorState({ error, onRetry, title }: { error: unknown; onRetry?: () => void; title?: string }) {
  const { t } = useT();
  const described = describeError(error);
  return (
    <div role="alert" className="rounded-lg border border-rose-200 bg-rose-50 p-4 text-sm text-rose-800" data-testid="error-state">
      <div className="font-semibold">{title ?? described.title}</div>
      <div className="mt-1 text-rose-700">{described.detail}</div>
      {onRetry ? (
        <Button size="sm" className="mt-3" onClick={onRetry}>
          {t('ui.tryAgain')}
        </Button>
      ) : null}
    </div>
  );
}

export function EmptyState({ children }: { children: ReactNode }) {
  return (
    <div className="rounded-lg border border-dashed border-slate-300 px-4 py-8 text-center text-sm text-slate-600" data-testid="empty-state">
      {children}
    </div>
  );
}

const STATUS_TONES: Record<string, string> = {
  PAID: 'bg-emerald-50 text-emerald-700 ring-emerald-600/20',
  PARTIAL: 'bg-sky-50 text-sky-700 ring-sky-600/20',
  PENDING: 'bg-slate-100 text-slate-700 ring-slate-500/20',
  OVERDUE: 'bg-rose-50 text-rose-700 ring-rose-600/20',
  // Struck through, and still 4.5:1 (slate-400 on slate-50 was 2.45:1).
  CANCELLED: 'bg-slate-100 text-slate-600 ring-slate-400/30 line-through',
};
export function StatusBadge({ status }: { status: string }) {
  // Named in the reader's language ("Overdue", "Vencida"); the server's value stays on data-status.
  useT();
  return (
    <span className={cx('inline-flex rounded-md px-2 py-0.5 text-xs font-medium ring-1 ring-inset', STATUS_TONES[status] ?? STATUS_TONES.PENDING)} data-status={status}>
      {enumLabel('status', status)}
    </span>
  );
}

/**
 * A table that never widens the page: on a narrow screen it scrolls sideways inside
 * its own box. When it does, the box says so — a fade on the cut edge, a visible
 * scrollbar and a line of text — and it becomes a keyboard-focusable, named region so
 * arrow keys scroll it. `stickyFirst` keeps the first column (the row's name) in view.
 */
export function Table({ children, label, stickyFirst = false }: { children: ReactNode; label: string; stickyFirst?: boolean }) {
  const { t } = useT();
  const box = useRef<HTMLDivElement>(null);
  const [edges, setEdges] = useState({ left: false, right: false });
  useEffect(() => {
    const element = box.current;
    if (!element) {
      return;
    }
    const update = () => {
      const left = element.scrollLeft > 1;
      const right = element.scrollLeft + element.clientWidth < element.scrollWidth - 1;
      setEdges((current) => (current.left === left && current.right === right ? current : { left, right }));
    };
    update();
    const observer = new ResizeObserver(update);
    observer.observe(element);
    if (element.firstElementChild) {
      observer.observe(element.firstElementChild);
    }
    element.addEventListener('scroll', update, { passive: true });
    return () => {
      observer.disconnect();
      element.removeEventListener('scroll', update);
    };
  }, []);
  const scrolls = edges.left || edges.right;
  return (
    <div className="relative">
      <div
        ref={box}
        className="table-scroll -mx-4 overflow-x-auto px-4 focus-visible:outline-offset-[-2px]"
        tabIndex={scrolls ? 0 : undefined}
        role={scrolls ? 'region' : undefined}
        aria-label={scrolls ? t('ui.scrolls', { label }) : undefined}
        data-scrolls={scrolls || undefined}
      >
        <table className={cx('w-full min-w-max text-left text-sm', stickyFirst && 'sticky-first')} aria-label={label}>
          {children}
        </table>
      </div>
      {edges.left ? <div aria-hidden="true" className="pointer-events-none absolute inset-y-0 -left-4 w-6 bg-gradient-to-r from-white" /> : null}
      {edges.right ? <div aria-hidden="true" className="pointer-events-none absolute inset-y-0 -right-4 w-10 bg-gradient-to-l from-white" /> : null}
      {scrolls ? (
        <p className="mt-1 text-xs text-slate-600" aria-hidden="true">
          {edges.right ? t('ui.moreColumns') : t('ui.scrollBack')}
        </p>
      ) : null}
    </div>
  );
}

/**
 * A message after an action: what happened, kept on screen until dismissed or the next
 * action (never a flash). It takes focus when it appears (`focusOnMount`), so a
 * keyboard user who pressed Export or Record payment hears the outcome and continues
 * from there instead of from <body>.
 */
export const Notice = forwardRef<HTMLDivElement, { tone: 'success' | 'error' | 'info'; children: ReactNode; onDismiss?: () => void; testId?: string; focusOnMount?: boolean }>(
  function Notice({ tone, children, onDismiss, testId, focusOnMount = true }, ref) {
    const { t } = useT();
    const own = useRef<HTMLDivElement | null>(null);
    useEffect(() => {
      if (focusOnMount) {
        own.current?.focus();
      }
    }, [focusOnMount]);
    const tones = {
      success: 'border-emerald-200 bg-emerald-50 text-emerald-900',
      error: 'border-rose-200 bg-rose-50 text-rose-900',
      info: 'border-slate-200 bg-slate-50 text-slate-800',
    };
    return (
      <div
        ref={(node) => {
          own.current = node;
          if (typeof ref === 'function') {
            ref(node);
          } else if (ref) {
            ref.current = node;
          }
        }}
        tabIndex={-1}
        role={tone === 'error' ? 'alert' : 'status'}
        className={cx('flex items-start justify-between gap-3 rounded-lg border px-3 py-2 text-sm focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500', tones[tone])}
        data-testid={testId}
      >
        <div className="min-w-0 break-words">{children}</div>
        {onDismiss ? (
          <button type="button" onClick={onDismiss} className="shrink-0 rounded px-1.5 text-xs font-medium underline underline-offset-2 hover:no-underline">
            {t('ui.dismiss')}
          </button>
        ) : null}
      </div>
    );
  },
);

/**
 * "Load more" for a keyset-paged list. After the next page arrives, focus moves to the
 * first new row (rows carry `data-row`, tabIndex −1), so the keyboard user reads on
 * where the list grew; with no new row, to the count. The button stays focusable while
 * loading (busy), and the count is a polite live region.
 */
export function LoadMore({
  shown,
  total,
  noun,
  hasNextPage,
  loading,
  onLoad,
  list,
}: {
  shown: number;
  total?: number;
  /** What the list holds, for a count (i18next plural forms: "1 school", "2 schools"). */
  noun: (count: number) => string;
  hasNextPage: boolean;
  loading: boolean;
  onLoad: () => Promise<unknown>;
  /** The element holding the rows (each with a data-row attribute). */
  list: { current: HTMLElement | null };
}) {
  const { t } = useT();
  const count = useRef<HTMLSpanElement>(null);
  /** The row count when Load more was pressed, until focus has moved. */
  const from = useRef<number | null>(null);
  useEffect(() => {
    if (from.current !== null && shown > from.current) {
      list.current?.querySelectorAll<HTMLElement>('[data-row]')[from.current]?.focus();
      from.current = null;
    }
  }, [shown, list]);
  const load = async () => {
    from.current = shown;
    await onLoad();
    // Nothing new arrived (an error, or the list was already complete): focus the count.
    setTimeout(() => {
      if (from.current !== null) {
        from.current = null;
        count.current?.focus();
      }
    }, 0);
  };
  return (
    <div className="mt-4 flex flex-wrap items-center gap-3 text-sm text-slate-600">
      <span ref={count} tabIndex={-1} role="status" className="focus:outline-none" data-testid="load-more-count">
        {total !== undefined
          ? t('ui.showingOf', { shown: formatCount(shown), total: formatCount(total), noun: noun(total) })
          : t('ui.showing', { shown: formatCount(shown), noun: noun(shown) })}
      </span>
      {hasNextPage ? (
        <Button onClick={() => void load()} busy={loading}>
          {loading ? t('ui.loading') : t('ui.loadMore')}
        </Button>
      ) : null}
    </div>
  );
}

export const th = 'border-b border-slate-200 px-3 py-2 text-xs font-semibold uppercase tracking-wide text-slate-600';
export const td = 'border-b border-slate-100 px-3 py-2 text-slate-700';
export const tdNum = `${td} text-right tabular-nums`;
export const thNum = `${th} text-right`;
