import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useId, useState, type FormEvent, type ReactNode } from 'react';
import { I18nextProvider, useTranslation } from 'react-i18next';
import { useSession } from '../../app/session';
import { parseAmount } from '../../lib/amount';
import { ApiError, downloadFile } from '../../lib/api';
import { currencyDecimals } from '../../lib/format';
import { Link, useLocation, useNavigate } from '../../lib/router';
import type { Invoice } from '../billing/api';
import {
  acceptInvitation,
  familyCheckout,
  invoiceCheckout,
  payLinkCheckout,
  payLinkQuery,
  portalInvoiceQuery,
  portalInvoicesQuery,
  portalMeQuery,
  portalReceiptsQuery,
  updatePortalMe,
  type Checkout,
  type PayLinkView,
  type PortalMe,
} from './api';
import { currentLanguage, LANGUAGES, localeOf, portalI18n, type PortalLanguage } from './i18n';

/**
 * The family portal at /portal (SPEC §8): its own mobile-first layout, in Spanish and
 * English (the choice remembered), for guardian users — balance and what is due next,
 * every child, the family's invoices with their lines, the bank-transfer reference and
 * reminder preferences. /portal/welcome?invitation=… turns an invitation into a login.
 */
export function PortalApp() {
  return (
    <I18nextProvider i18n={portalI18n}>
      <Portal />
    </I18nextProvider>
  );
}

function Portal() {
  const { me, loading } = useSession();
  const { pathname } = useLocation();
  const { t, i18n } = useTranslation();
  useEffect(() => {
    document.documentElement.lang = currentLanguage();
    document.title = `${t('title')} · Bursar`;
  }, [t, i18n.resolvedLanguage]);

  let body: ReactNode;
  if (pathname.startsWith('/pay/')) {
    body = <PayLink token={pathname.slice('/pay/'.length)} />;
  } else if (pathname === '/portal/welcome') {
    body = <Welcome />;
  } else if (loading) {
    body = <p className="py-10 text-center text-slate-600">{t('loading')}</p>;
  } else if (!me) {
    body = <SignIn />;
  } else if (me.role !== 'guardian') {
    body = (
      <div className="rounded-2xl bg-white p-6 shadow-sm ring-1 ring-slate-200" data-testid="portal-staff">
        <p className="text-slate-800">{t('staffOnly')}</p>
        <Link to="/" className="mt-3 inline-block font-medium text-indigo-700 underline">
          {t('toDashboard')}
        </Link>
      </div>
    );
  } else {
    body = <Home />;
  }
  return (
    <div className="min-h-screen bg-slate-50">
      <Header signedIn={me?.role === 'guardian' && !pathname.startsWith('/pay/')} />
      <main id="main" className="mx-auto max-w-2xl px-4 py-5">
        {body}
      </main>
    </div>
  );
}

function Header({ signedIn }: { signedIn: boolean }) {
  const { t, i18n } = useTranslation();
  const { logout } = useSession();
  const me = useQuery({ ...portalMeQuery(), enabled: signedIn });
  const language = currentLanguage();
  return (
    <header className="border-b border-slate-200 bg-white">
      <div className="mx-auto flex max-w-2xl flex-wrap items-center gap-x-3 gap-y-2 px-4 py-3">
        <div className="flex min-w-0 flex-1 items-center gap-2">
          <img src="/favicon.svg" alt="" className="h-7 w-7 shrink-0" />
          <div className="min-w-0">
            <p className="text-sm font-semibold leading-tight text-slate-900">{me.data?.school.name ?? 'Bursar'}</p>
            <p className="text-xs text-slate-600">{t('title')}</p>
          </div>
        </div>
        <div role="group" aria-label={t('language')} className="flex rounded-lg border border-slate-300 text-sm">
          {LANGUAGES.map((code) => (
            <button
              key={code}
              type="button"
              lang={code}
              aria-pressed={language === code}
              onClick={() => void i18n.changeLanguage(code)}
              className={`px-2.5 py-1.5 font-medium first:rounded-l-lg last:rounded-r-lg ${language === code ? 'bg-indigo-600 text-white' : 'text-slate-700 hover:bg-slate-100'}`}
            >
              {code.toUpperCase()}
              <span className="sr-only"> {t(`languages.${code}`)}</span>
            </button>
          ))}
        </div>
        {signedIn ? (
          <button type="button" onClick={() => void logout()} className="rounded-lg border border-slate-300 px-3 py-1.5 text-sm text-slate-700 hover:bg-slate-50">
            {t('signOut')}
          </button>
        ) : null}
      </div>
    </header>
  );
}

/** Money and dates in the reader's language, in the school's country. */
function useFormat(currency: string) {
  const language = currentLanguage();
  const locale = localeOf(language, currency);
  const decimals = currencyDecimals(currency);
  const money = new Intl.NumberFormat(locale, { style: 'currency', currency, minimumFractionDigits: decimals, maximumFractionDigits: decimals });
  const dates = new Intl.DateTimeFormat(locale, { dateStyle: 'long', timeZone: 'UTC' });
  return {
    money: (minor: number) => money.format(minor / 10 ** decimals),
    date: (day: string) => dates.format(new Date(`${day}T00:00:00Z`)),
  };
}

const card = 'rounded-2xl bg-white p-4 shadow-sm ring-1 ring-slate-200 sm:p-5';

function Home() {
  const { t } = useTranslation();
  const me = useQuery(portalMeQuery());
  if (me.isPending) {
    return <p className="py-10 text-center text-slate-600">{t('loading')}</p>;
  }
  if (me.isError) {
    return (
      <div className={card} role="alert">
        <p className="text-slate-800">{t('failed')}</p>
        <button type="button" onClick={() => void me.refetch()} className="mt-3 rounded-lg bg-indigo-600 px-4 py-2 text-sm font-medium text-white">
          {t('retry')}
        </button>
      </div>
    );
  }
  const data = me.data;
  return (
    <div className="space-y-5">
      <ReturnBanner />
      <h1 className="text-xl font-semibold text-slate-900">{data.family.name}</h1>
      <Balance me={data} />
      <Children me={data} />
      <Invoices currency={data.school.currency} />
      <Receipts currency={data.school.currency} />
      <Preferences me={data} />
    </div>
  );
}

function Balance({ me }: { me: PortalMe }) {
  const { t } = useTranslation();
  const format = useFormat(me.school.currency);
  const owed = me.family.balance.owed;
  return (
    <section className={card} aria-labelledby="balance-title" data-testid="portal-balance">
      <h2 id="balance-title" className="text-sm font-medium text-slate-600">
        {t('balance')}
      </h2>
      <p className="mt-1 text-3xl font-semibold tabular-nums text-slate-900" data-testid="portal-owed">
        {format.money(owed)}
      </p>
      {me.family.balance.credit > 0 ? <p className="mt-1 text-sm text-emerald-800">{t('credit', { amount: format.money(me.family.balance.credit) })}</p> : null}
      <p className="mt-2 text-sm text-slate-700" data-testid="portal-next">
        {me.nextDue ? t('nextDue', { number: me.nextDue.number, date: format.date(me.nextDue.dueDate) }) + ` · ${format.money(me.nextDue.pendingAmount)}` : t('nothingDue')}
      </p>
      {owed > 0 ? <PayAmount currency={me.school.currency} owed={owed} start={(amount) => familyCheckout(me.family.id, amount, currentLanguage())} /> : null}
      <div className="mt-4 rounded-xl bg-slate-50 p-3 text-sm text-slate-700">
        {t('transfer')} <span className="break-all font-mono font-semibold text-slate-900" data-testid="portal-reference">{me.family.reference}</span>
      </div>
      <Download path={`/portal/statement?lang=${currentLanguage()}`} fallbackName="statement.pdf" label={t('downloadStatement')} testId="download-statement" />
    </section>
  );
}

/** A PDF the API answers for the signed-in guardian, saved as a file. */
function Download({ path, fallbackName, label, testId }: { path: string; fallbackName: string; label: string; testId: string }) {
  const { t } = useTranslation();
  const download = useMutation({ mutationFn: () => downloadFile(path, fallbackName, 'application/pdf') });
  return (
    <div className="mt-3">
      <button type="button" onClick={() => download.mutate()} disabled={download.isPending} className="text-sm font-medium text-indigo-700 underline disabled:opacity-60" data-testid={testId}>
        {download.isPending ? t('downloading') : label}
      </button>
      {download.isError ? (
        <p role="alert" className="mt-1 text-sm text-rose-700">
          {t('downloadFailed')}
        </p>
      ) : null}
    </div>
  );
}

/** Opens a checkout and sends the payer to the gateway's page; says so, or why not. */
function useCheckout() {
  return useMutation({
    mutationFn: (start: () => Promise<Checkout>) => start(),
    onSuccess: (checkout) => window.location.assign(checkout.url),
  });
}

function CheckoutStatus({ checkout }: { checkout: ReturnType<typeof useCheckout> }) {
  const { t } = useTranslation();
  if (checkout.isPending || checkout.isSuccess) {
    return (
      <p role="status" className="mt-2 text-sm text-slate-700">
        {t('redirecting')}
      </p>
    );
  }
  return checkout.isError ? (
    <p role="alert" className="mt-2 text-sm text-rose-700">
      {t('checkoutFailed')}
    </p>
  ) : null;
}

const primary = 'rounded-lg bg-indigo-600 px-4 py-2.5 text-sm font-semibold text-white hover:bg-indigo-700 disabled:opacity-60';
const secondary = 'rounded-lg border border-slate-300 px-4 py-2.5 text-sm font-medium text-slate-800 hover:bg-slate-50 disabled:opacity-60';

/** Pay all that is due, or another amount up to it (a family checkout). */
function PayAmount({ currency, owed, start }: { currency: string; owed: number; start: (amount: number | undefined) => Promise<Checkout> }) {
  const { t } = useTranslation();
  const format = useFormat(currency);
  const checkout = useCheckout();
  const [other, setOther] = useState(false);
  const [text, setText] = useState('');
  const [error, setError] = useState<string | null>(null);
  const id = useId();
  const submit = (event: FormEvent) => {
    event.preventDefault();
    const parsed = parseAmount(text, currency);
    if (!parsed.ok || parsed.minor <= 0) {
      setError(t('amountInvalid'));
      return;
    }
    if (parsed.minor > owed) {
      setError(t('amountTooHigh', { max: format.money(owed) }));
      return;
    }
    setError(null);
    checkout.mutate(() => start(parsed.minor));
  };
  const busy = checkout.isPending || checkout.isSuccess;
  return (
    <div className="mt-4" data-testid="pay-family">
      <div className="flex flex-col gap-2 sm:flex-row">
        <button type="button" className={primary} disabled={busy} onClick={() => checkout.mutate(() => start(undefined))} data-testid="pay-all">
          {t('payAll')} · {format.money(owed)}
        </button>
        <button type="button" className={secondary} disabled={busy} aria-expanded={other} onClick={() => setOther(!other)}>
          {t('payOther')}
        </button>
      </div>
      {other ? (
        <form className="mt-3 flex flex-col gap-2 sm:flex-row sm:items-end" onSubmit={submit} noValidate>
          <Field id={`${id}-amount`} label={t('amountLabel', { currency })}>
            <input
              id={`${id}-amount`}
              inputMode="decimal"
              autoComplete="off"
              value={text}
              onChange={(event) => setText(event.target.value)}
              aria-invalid={error !== null}
              aria-describedby={error ? `${id}-error` : undefined}
              className={input}
              data-testid="pay-amount-input"
            />
          </Field>
          <button type="submit" className={primary} disabled={busy}>
            {t('continueToPay')}
          </button>
        </form>
      ) : null}
      {error ? (
        <p id={`${id}-error`} role="alert" className="mt-2 text-sm text-rose-700">
          {error}
        </p>
      ) : null}
      <CheckoutStatus checkout={checkout} />
      <p className="mt-2 text-xs text-slate-600">{t('secureNote')}</p>
    </div>
  );
}

/** Back from the gateway (`?checkout=…&result=paid|cancelled`): says what happened and refreshes what the payment changed. */
function ReturnBanner() {
  const { t } = useTranslation();
  const { pathname, search } = useLocation();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const result = new URLSearchParams(search).get('result');
  useEffect(() => {
    if (result !== 'paid') {
      return;
    }
    // The gateway reports the payment to Bursar on its own; refresh until it has (a few seconds at most).
    let tries = 0;
    const refresh = () => void queryClient.invalidateQueries();
    refresh();
    const timer = setInterval(() => (++tries >= 5 ? clearInterval(timer) : refresh()), 2000);
    return () => clearInterval(timer);
  }, [result, queryClient]);
  if (result !== 'paid' && result !== 'cancelled') {
    return null;
  }
  return (
    <div role="status" className={`flex items-start justify-between gap-3 rounded-2xl p-4 text-sm ${result === 'paid' ? 'bg-emerald-50 text-emerald-900 ring-1 ring-emerald-200' : 'bg-amber-50 text-amber-900 ring-1 ring-amber-200'}`} data-testid="checkout-return">
      <p>{result === 'paid' ? t('returnPaid') : t('returnCancelled')}</p>
      <button type="button" onClick={() => navigate(pathname, { replace: true })} className="shrink-0 font-medium underline">
        {t('dismiss')}
      </button>
    </div>
  );
}

function Children({ me }: { me: PortalMe }) {
  const { t } = useTranslation();
  return (
    <section className={card} aria-labelledby="children-title">
      <h2 id="children-title" className="font-semibold text-slate-900">
        {t('children')}
      </h2>
      <ul className="mt-2 divide-y divide-slate-100" data-testid="portal-children">
        {me.students.map((student) => (
          <li key={student.id} className="flex flex-wrap justify-between gap-2 py-2 text-sm">
            <span className="font-medium text-slate-900">
              {student.firstName} {student.lastName}
            </span>
            <span className="text-slate-600">{t('grade', { grade: student.grade })}</span>
          </li>
        ))}
      </ul>
    </section>
  );
}

const OPEN = new Set(['PENDING', 'PARTIAL', 'OVERDUE']);
const STATUS_TONE: Record<string, string> = {
  PENDING: 'bg-sky-50 text-sky-800 ring-sky-200',
  PARTIAL: 'bg-amber-50 text-amber-900 ring-amber-200',
  PAID: 'bg-emerald-50 text-emerald-800 ring-emerald-200',
  OVERDUE: 'bg-rose-50 text-rose-800 ring-rose-200',
  CANCELLED: 'bg-slate-100 text-slate-700 ring-slate-300',
};

function Invoices({ currency }: { currency: string }) {
  const { t } = useTranslation();
  const [show, setShow] = useState<'open' | 'all'>('open');
  const invoices = useInfiniteQuery(portalInvoicesQuery());
  const rows = (invoices.data?.pages.flatMap((page) => page.data) ?? [])
    .filter((invoice) => show === 'all' || OPEN.has(invoice.status))
    .sort((a, b) => (a.dueDate === b.dueDate ? a.number.localeCompare(b.number) : a.dueDate < b.dueDate ? -1 : 1));
  return (
    <section className={card} aria-labelledby="invoices-title">
      <div className="flex flex-wrap items-center justify-between gap-2">
        <h2 id="invoices-title" className="font-semibold text-slate-900">
          {t('invoices')}
        </h2>
        <div role="group" aria-label={t('invoices')} className="flex rounded-lg border border-slate-300 text-sm">
          {(['open', 'all'] as const).map((which) => (
            <button
              key={which}
              type="button"
              aria-pressed={show === which}
              onClick={() => setShow(which)}
              className={`px-3 py-1.5 first:rounded-l-lg last:rounded-r-lg ${show === which ? 'bg-slate-900 text-white' : 'text-slate-700 hover:bg-slate-100'}`}
            >
              {which === 'open' ? t('openInvoices') : t('allInvoices')}
            </button>
          ))}
        </div>
      </div>
      {invoices.isPending ? (
        <p className="mt-3 text-sm text-slate-600">{t('loading')}</p>
      ) : invoices.isError ? (
        <p className="mt-3 text-sm text-rose-700" role="alert">
          {t('failed')}
        </p>
      ) : rows.length === 0 ? (
        <p className="mt-3 text-sm text-slate-600">{t('noInvoices')}</p>
      ) : (
        <ul className="mt-3 space-y-3" data-testid="portal-invoices">
          {rows.map((invoice) => (
            <InvoiceItem key={invoice.id} invoice={invoice} currency={currency} />
          ))}
        </ul>
      )}
      {invoices.hasNextPage ? (
        <button type="button" onClick={() => void invoices.fetchNextPage()} className="mt-3 rounded-lg border border-slate-300 px-3 py-1.5 text-sm">
          {t('loadMore')}
        </button>
      ) : null}
    </section>
  );
}

function InvoiceItem({ invoice, currency }: { invoice: Invoice; currency: string }) {
  const { t } = useTranslation();
  const format = useFormat(currency);
  const early = invoice.earlyPayment;
  return (
    <li className="rounded-xl border border-slate-200 p-3" data-testid="portal-invoice">
      <div className="flex flex-wrap items-baseline justify-between gap-x-3 gap-y-1">
        <span className="font-medium text-slate-900">{invoice.number}</span>
        <span className={`rounded-full px-2 py-0.5 text-xs font-medium ring-1 ring-inset ${STATUS_TONE[invoice.status] ?? STATUS_TONE.PENDING}`}>{t(`status.${invoice.status}`)}</span>
      </div>
      <p className="mt-1 text-sm text-slate-700">{invoice.description}</p>
      <div className="mt-2 flex flex-wrap items-baseline justify-between gap-x-3 text-sm">
        <span className="text-slate-600">{t('due', { date: format.date(invoice.dueDate) })}</span>
        <span className="font-semibold tabular-nums text-slate-900">
          {OPEN.has(invoice.status) ? `${t('pending')}: ${format.money(invoice.pendingAmount)}` : format.money(invoice.amount)}
        </span>
      </div>
      {early?.available ? (
        <p className="mt-2 rounded-lg bg-emerald-50 p-2 text-sm text-emerald-900">{t('earlyOffer', { amount: format.money(early.amountDue), date: format.date(early.payBy), saving: format.money(early.discount) })}</p>
      ) : early?.applied ? (
        <p className="mt-2 text-sm text-emerald-800">{t('earlyTaken', { saving: format.money(early.discount) })}</p>
      ) : null}
      {OPEN.has(invoice.status) && invoice.pendingAmount > 0 ? <PayInvoice invoiceId={invoice.id} amount={early?.available ? early.amountDue : invoice.pendingAmount} currency={currency} /> : null}
      <InvoiceLines invoiceId={invoice.id} currency={currency} />
      <Download path={`/portal/invoices/${invoice.id}/pdf?lang=${currentLanguage()}`} fallbackName={`${invoice.number}.pdf`} label={t('downloadInvoice')} testId="download-invoice" />
    </li>
  );
}

function PayInvoice({ invoiceId, amount, currency }: { invoiceId: string; amount: number; currency: string }) {
  const { t } = useTranslation();
  const format = useFormat(currency);
  const checkout = useCheckout();
  return (
    <div className="mt-3">
      <button type="button" className={primary} disabled={checkout.isPending || checkout.isSuccess} onClick={() => checkout.mutate(() => invoiceCheckout(invoiceId, currentLanguage()))} data-testid="pay-invoice">
        {t('payNow', { amount: format.money(amount) })}
      </button>
      <CheckoutStatus checkout={checkout} />
    </div>
  );
}

function InvoiceLines({ invoiceId, currency }: { invoiceId: string; currency: string }) {
  const { t } = useTranslation();
  const [open, setOpen] = useState(false);
  const format = useFormat(currency);
  // Fetched when first opened: the list answers no lines.
  const detail = useQuery({ ...portalInvoiceQuery(invoiceId), enabled: open });
  const lines = detail.data?.lines;
  return (
    <details className="mt-2 text-sm" onToggle={(event) => setOpen((event.target as HTMLDetailsElement).open)}>
      <summary className="cursor-pointer text-indigo-700">{t('lines')}</summary>
      {lines === undefined ? (
        <p className="mt-1 text-slate-600">{t('loading')}</p>
      ) : (
        <ul className="mt-1 divide-y divide-slate-100">
          {lines.map((line, index) => (
            <li key={index} className="flex justify-between gap-3 py-1">
              <span className="min-w-0 break-words text-slate-700">{line.description}</span>
              <span className="shrink-0 tabular-nums text-slate-900">{format.money(line.amount)}</span>
            </li>
          ))}
        </ul>
      )}
    </details>
  );
}

function Receipts({ currency }: { currency: string }) {
  const { t } = useTranslation();
  const format = useFormat(currency);
  const receipts = useInfiniteQuery(portalReceiptsQuery());
  const rows = receipts.data?.pages.flatMap((page) => page.data) ?? [];
  return (
    <section className={card} aria-labelledby="receipts-title">
      <h2 id="receipts-title" className="font-semibold text-slate-900">
        {t('receipts')}
      </h2>
      {receipts.isPending ? (
        <p className="mt-3 text-sm text-slate-600">{t('loading')}</p>
      ) : receipts.isError ? (
        <p className="mt-3 text-sm text-rose-700" role="alert">
          {t('failed')}
        </p>
      ) : rows.length === 0 ? (
        <p className="mt-3 text-sm text-slate-600">{t('noReceipts')}</p>
      ) : (
        <ul className="mt-2 divide-y divide-slate-100" data-testid="portal-receipts">
          {rows.map((receipt) => (
            <li key={receipt.paymentId} className="flex flex-wrap items-center justify-between gap-x-3 gap-y-1 py-2 text-sm">
              <span className="min-w-0 text-slate-800">
                {t('receiptLine', { number: receipt.number, date: format.date(receipt.paidAt.slice(0, 10)) })}
                <span className="block text-xs text-slate-600">{t(`methods.${receipt.method}`, { defaultValue: receipt.method })}</span>
              </span>
              <span className="flex items-center gap-3">
                <span className="font-semibold tabular-nums text-slate-900">{format.money(receipt.amount)}</span>
                <ReceiptDownload paymentId={receipt.paymentId} number={receipt.number} />
              </span>
            </li>
          ))}
        </ul>
      )}
      {receipts.hasNextPage ? (
        <button type="button" onClick={() => void receipts.fetchNextPage()} className="mt-3 rounded-lg border border-slate-300 px-3 py-1.5 text-sm">
          {t('loadMore')}
        </button>
      ) : null}
    </section>
  );
}

function ReceiptDownload({ paymentId, number }: { paymentId: string; number: string }) {
  const { t } = useTranslation();
  const download = useMutation({ mutationFn: () => downloadFile(`/portal/payments/${paymentId}/receipt?lang=${currentLanguage()}`, `receipt-${number}.pdf`, 'application/pdf') });
  return (
    <button
      type="button"
      onClick={() => download.mutate()}
      disabled={download.isPending}
      className={`rounded-lg border px-2.5 py-1 text-xs font-medium ${download.isError ? 'border-rose-300 text-rose-700' : 'border-slate-300 text-indigo-700'}`}
    >
      {download.isPending ? t('downloading') : t('receiptPdf')}
      <span className="sr-only"> {t('receiptPdfLabel', { number })}</span>
    </button>
  );
}

function Preferences({ me }: { me: PortalMe }) {
  const { t } = useTranslation();
  const queryClient = useQueryClient();
  const [remind, setRemind] = useState(!me.guardian.remindersOptOut);
  const [language, setLanguage] = useState<PortalLanguage>(me.guardian.preferredLanguage);
  const id = useId();
  const mutation = useMutation({
    mutationFn: () => updatePortalMe({ remindersOptOut: !remind, preferredLanguage: language }),
    onSuccess: (saved) => queryClient.setQueryData(portalMeQuery().queryKey, saved),
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    mutation.mutate();
  };
  return (
    <section className={card} aria-labelledby="preferences-title">
      <h2 id="preferences-title" className="font-semibold text-slate-900">
        {t('preferences')}
      </h2>
      <form className="mt-3 space-y-3" onSubmit={submit} data-testid="portal-preferences">
        <label className="flex items-center gap-2 text-sm text-slate-800">
          <input type="checkbox" checked={remind} onChange={(event) => setRemind(event.target.checked)} className="h-5 w-5 rounded border-slate-300" />
          {t('remindMe')}
        </label>
        <div>
          <label htmlFor={`${id}-language`} className="block text-sm font-medium text-slate-700">
            {t('reminderLanguage')}
          </label>
          <select
            id={`${id}-language`}
            value={language}
            onChange={(event) => setLanguage(event.target.value === 'en' ? 'en' : 'es')}
            className="mt-1 w-full rounded-lg border border-slate-300 px-3 py-2 text-sm sm:w-auto"
          >
            {LANGUAGES.map((code) => (
              <option key={code} value={code}>
                {t(`languages.${code}`)}
              </option>
            ))}
          </select>
        </div>
        <div className="flex items-center gap-3">
          <button type="submit" disabled={mutation.isPending} className="rounded-lg bg-indigo-600 px-4 py-2 text-sm font-medium text-white disabled:opacity-60">
            {t('save')}
          </button>
          <span role="status" className="text-sm text-slate-700">
            {mutation.isSuccess ? t('saved') : mutation.isError ? t('saveFailed') : ''}
          </span>
        </div>
      </form>
    </section>
  );
}

function SignIn() {
  const { t } = useTranslation();
  const { login } = useSession();
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const id = useId();
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await login(username, password);
    } catch {
      setError(t('badLogin'));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className={card}>
      <h1 className="text-xl font-semibold text-slate-900">{t('signInTitle')}</h1>
      <p className="mt-1 text-sm text-slate-600">{t('signInLead')}</p>
      <form className="mt-4 space-y-3" onSubmit={(event) => void submit(event)}>
        <Field id={`${id}-u`} label={t('username')}>
          <input id={`${id}-u`} autoComplete="username" value={username} onChange={(event) => setUsername(event.target.value)} className={input} required />
        </Field>
        <Field id={`${id}-p`} label={t('password')}>
          <input id={`${id}-p`} type="password" autoComplete="current-password" value={password} onChange={(event) => setPassword(event.target.value)} className={input} required />
        </Field>
        {error ? (
          <p role="alert" className="text-sm text-rose-700">
            {error}
          </p>
        ) : null}
        <button type="submit" disabled={busy} className="w-full rounded-lg bg-indigo-600 px-4 py-2.5 font-medium text-white disabled:opacity-60">
          {busy ? t('signingIn') : t('signIn')}
        </button>
      </form>
    </div>
  );
}

const input = 'mt-1 w-full rounded-lg border border-slate-300 px-3 py-2 text-base';

function Field({ id, label, hint, children }: { id: string; label: string; hint?: string; children: ReactNode }) {
  return (
    <div>
      <label htmlFor={id} className="block text-sm font-medium text-slate-700">
        {label}
      </label>
      {children}
      {hint ? (
        <p id={`${id}-hint`} className="mt-1 text-xs text-slate-600">
          {hint}
        </p>
      ) : null}
    </div>
  );
}

function Welcome() {
  const { t } = useTranslation();
  const { login } = useSession();
  const navigate = useNavigate();
  const { search } = useLocation();
  const token = new URLSearchParams(search).get('invitation') ?? '';
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [again, setAgain] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const id = useId();
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{2,63}$/.test(username)) {
      setError(t('usernameRule'));
      return;
    }
    if (password.length < 12) {
      setError(t('passwordShort'));
      return;
    }
    if (password !== again) {
      setError(t('passwordsDiffer'));
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const created = await acceptInvitation({ token, username, password });
      await login(created.username, password);
      navigate('/portal', { replace: true });
    } catch (failure) {
      const status = failure instanceof ApiError ? failure.status : 0;
      const field = failure instanceof ApiError ? failure.problem.errors?.[0]?.field : undefined;
      setError(
        status === 410 ? t('invitationExpired') : status === 409 && field === 'username' ? t('usernameTaken') : status === 409 ? t('invitationUsed') : status === 404 || !token ? t('invitationInvalid') : t('saveFailed'),
      );
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className={card}>
      <h1 className="text-xl font-semibold text-slate-900">{t('welcomeTitle')}</h1>
      <p className="mt-1 text-sm text-slate-600">{t('welcomeLead')}</p>
      <form className="mt-4 space-y-3" onSubmit={(event) => void submit(event)} data-testid="portal-welcome">
        <Field id={`${id}-u`} label={t('username')} hint={t('usernameRule')}>
          <input id={`${id}-u`} aria-describedby={`${id}-u-hint`} autoComplete="username" value={username} onChange={(event) => setUsername(event.target.value)} className={input} required />
        </Field>
        <Field id={`${id}-p`} label={t('password')} hint={t('passwordShort')}>
          <input id={`${id}-p`} aria-describedby={`${id}-p-hint`} type="password" autoComplete="new-password" value={password} onChange={(event) => setPassword(event.target.value)} className={input} required />
        </Field>
        <Field id={`${id}-a`} label={t('passwordAgain')}>
          <input id={`${id}-a`} type="password" autoComplete="new-password" value={again} onChange={(event) => setAgain(event.target.value)} className={input} required />
        </Field>
        {error ? (
          <p role="alert" className="text-sm text-rose-700">
            {error}
          </p>
        ) : null}
        <button type="submit" disabled={busy} className="w-full rounded-lg bg-indigo-600 px-4 py-2.5 font-medium text-white disabled:opacity-60">
          {t('create')}
        </button>
      </form>
    </div>
  );
}

/**
 * A pay link (/pay/<token>, no login): the school, the invoice number (or the family's
 * reference) and the amount due, nothing else, and the Pay button that opens the gateway's
 * checkout. Back from the gateway, it says what happened.
 */
function PayLink({ token }: { token: string }) {
  const { t } = useTranslation();
  const view = useQuery(payLinkQuery(token));
  if (view.isPending) {
    return <p className="py-10 text-center text-slate-600">{t('loading')}</p>;
  }
  if (view.isError) {
    const status = view.error instanceof ApiError ? view.error.status : 0;
    return (
      <div className={card} role="alert" data-testid="pay-link-error">
        <p className="text-slate-800">{status === 410 ? t('payExpired') : t('payInvalid')}</p>
      </div>
    );
  }
  return (
    <div className="space-y-4">
      <ReturnBanner />
      <PayLinkCard token={token} view={view.data} />
    </div>
  );
}

function PayLinkCard({ token, view }: { token: string; view: PayLinkView }) {
  const { t } = useTranslation();
  const format = useFormat(view.currency);
  const checkout = useCheckout();
  return (
    <section className={card} aria-labelledby="pay-title" data-testid="pay-link">
      <p className="text-sm text-slate-600">{view.schoolName}</p>
      <h1 id="pay-title" className="mt-1 text-xl font-semibold text-slate-900">
        {view.kind === 'family' ? t('payFamily', { reference: view.familyReference }) : t('payInvoice', { number: view.invoiceNumber })}
      </h1>
      {view.status === 'open' ? (
        <>
          <p className="mt-4 text-sm text-slate-600">{t('payAmount')}</p>
          <p className="text-3xl font-semibold tabular-nums text-slate-900" data-testid="pay-amount">
            {format.money(view.amountDue)}
          </p>
          {view.kind === 'family' ? (
            <PayAmount currency={view.currency} owed={view.amountDue} start={(amount) => payLinkCheckout(token, amount, currentLanguage())} />
          ) : (
            <div className="mt-4">
              <button type="button" className={`${primary} w-full sm:w-auto`} disabled={checkout.isPending || checkout.isSuccess} onClick={() => checkout.mutate(() => payLinkCheckout(token, undefined, currentLanguage()))} data-testid="pay-link-pay">
                {t('payNow', { amount: format.money(view.amountDue) })}
              </button>
              <CheckoutStatus checkout={checkout} />
              <p className="mt-2 text-xs text-slate-600">{t('secureNote')}</p>
            </div>
          )}
          <p className="mt-3 text-xs text-slate-600">{t('payExpires', { date: format.date(view.expiresAt.slice(0, 10)) })}</p>
        </>
      ) : (
        <p className="mt-4 text-slate-800">{view.status === 'paid' ? t('payPaid') : t('payCancelled')}</p>
      )}
    </section>
  );
}
