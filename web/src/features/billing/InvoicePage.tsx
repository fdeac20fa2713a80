import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { HistoryCard } from '../audit/History';
import { useRef, useState, type FormEvent } from 'react';
import { InvoiceMessages } from '../collections/Messages';
import { useSession } from '../../app/session';
import { AmountField, checkAmount, fieldErrorsOf, MethodField, problemText, ReceiptButton, ReferenceField, useAttemptKey, useReceiptDownload } from '../../components/money';
import { Button, Card, EmptyState, ErrorState, Field, Input, Notice, PageHeader, Select, Skeleton, Stat, StatGrid, StatusBadge, Table, td, tdNum, th, thNum } from '../../components/ui';
import { describeZone, enumLabel, formatDate, formatDateTime, formatMoney, methodLabel, minorToInput } from '../../lib/format';
import { Link } from '../../lib/router';
import { Trans } from 'react-i18next';
import { translate, useT } from '../../lib/i18n';
import {
  adjustInvoice,
  invoicePaymentsQuery,
  invoiceQuery,
  recordPayment,
  schoolQuery,
  type AdjustmentKind,
  type Invoice,
  type InvoiceLine,
  type PaymentReceipt,
} from './api';

const lineKind = (kind: InvoiceLine['kind']) => translate(`invoice.lineKind.${kind}`);
const adjustmentKind = (kind: AdjustmentKind) => translate(`invoice.adjustmentKind.${kind}`);

export function InvoicePage({ invoiceId }: { invoiceId: string }) {
  const { t } = useT();
  const { can } = useSession();
  const invoice = useQuery(invoiceQuery(invoiceId));
  const payments = useQuery(invoicePaymentsQuery(invoiceId));
  const school = useQuery({ ...schoolQuery(invoice.data?.schoolId ?? ''), enabled: invoice.data !== undefined });
  const receipts = useReceiptDownload();
  // The last payment recorded here: kept by the page, not the form, so its message stays
  // when the invoice becomes fully paid and the form gives way (it used to last 21 ms).
  const [receipt, setReceipt] = useState<PaymentReceipt | null>(null);

  if (invoice.isPending) {
    return <Skeleton rows={6} />;
  }
  if (invoice.isError) {
    return <ErrorState error={invoice.error} onRetry={() => void invoice.refetch()} />;
  }
  const data = invoice.data;
  const timeZone = school.data?.timezone;
  const open = data.pendingAmount > 0 && data.status !== 'CANCELLED';
  const payable = can('billing:write') && open;
  const adjustments = data.adjustments ?? [];
  return (
    <>
      <nav aria-label={t('school.breadcrumb')} className="mb-2 text-sm text-slate-600">
        <Link to={`/schools/${data.schoolId}`} className="hover:underline">
          {school.data?.name ?? t('school.fallback')}
        </Link>{' '}
        /{' '}
        <Link to={`/students/${data.studentId}`} className="hover:underline">
          {t('invoice.student')}
        </Link>{' '}
        / {data.number}
      </nav>
      {data.kind === 'late_fee' && data.relatedInvoiceId ? (
        <p className="mb-2 text-sm text-slate-700" data-testid="late-fee-of">
          <span className="mr-2 inline-flex items-center rounded-md bg-rose-50 px-1.5 py-0.5 text-xs font-medium text-rose-800 ring-1 ring-inset ring-rose-600/30">{t('invoice.lateFee')}</span>
          <Trans t={t} i18nKey="invoice.lateFeeOf" components={{ 1: <Link to={`/invoices/${data.relatedInvoiceId}`} className="font-medium text-indigo-700 hover:underline">{null}</Link> }} />
        </p>
      ) : null}
      {data.lateFeeInvoice ? (
        <p className="mb-2 text-sm text-slate-700" data-testid="late-fee-invoice">
          {t('invoice.lateFeesCharged')}{' '}
          <Link to={`/invoices/${data.lateFeeInvoice.id}`} className="font-medium text-indigo-700 hover:underline">
            {data.lateFeeInvoice.number}
          </Link>{' '}
          ({formatMoney(data.lateFeeInvoice.amount, data.currency)}
          {data.lateFeeInvoice.pendingAmount > 0 ? t('invoice.lateFeeOpen', { amount: formatMoney(data.lateFeeInvoice.pendingAmount, data.currency) }) : t('invoice.lateFeePaid')}).
        </p>
      ) : null}
      {data.earlyPayment && (data.earlyPayment.available || data.earlyPayment.applied) ? (
        <p className="mb-2 text-sm text-slate-700" data-testid="early-payment">
          <span className="mr-2 inline-flex items-center rounded-md bg-emerald-50 px-1.5 py-0.5 text-xs font-medium text-emerald-800 ring-1 ring-inset ring-emerald-600/30">{t('invoice.early')}</span>
          {data.earlyPayment.applied
            ? t('invoice.earlyApplied', { date: formatDate(data.earlyPayment.payBy), discount: formatMoney(data.earlyPayment.discount, data.currency) })
            : t('invoice.earlyOffer', { date: formatDate(data.earlyPayment.payBy), amount: formatMoney(data.earlyPayment.amountDue, data.currency), discount: formatMoney(data.earlyPayment.discount, data.currency) })}
        </p>
      ) : null}
      <PageHeader title={t('invoice.title', { number: data.number })} subtitle={t('invoice.subtitle', { description: data.description ?? t('invoice.noDescription'), date: formatDate(data.dueDate) })} actions={<StatusBadge status={data.status} />} />
      <StatGrid cols={4} className="mb-6">
        <Stat label={t('invoice.amount')} value={formatMoney(data.amount, data.currency)} />
        <Stat label={t('invoice.paid')} value={formatMoney(data.paidAmount, data.currency)} tone="good" testId="invoice-paid" />
        <Stat label={t('invoice.credited')} value={formatMoney(data.creditedAmount, data.currency)} hint={t('invoice.creditedHint')} testId="invoice-credited" />
        <Stat label={t('invoice.pending')} value={formatMoney(data.pendingAmount, data.currency)} tone={data.status === 'OVERDUE' ? 'bad' : 'default'} testId="invoice-pending" />
      </StatGrid>
      <div className="grid grid-cols-1 gap-6 lg:grid-cols-[minmax(0,2fr)_minmax(0,1fr)]">
        {/* The forms' column: on a phone its parts are placed one by one (display: contents) — the payment form first, it is what a bursar opens this page for; the credit note form after the lists. */}
        <div className="contents lg:col-start-2 lg:row-start-1 lg:block lg:min-w-0 lg:space-y-6">
          <div className="order-first min-w-0 lg:order-none">
            {payable ? (
              // Keyed by what is open: after a payment, credit note or write-off the amount starts again from it.
              <PaymentForm key={data.pendingAmount} invoice={data} receipt={receipt} onRecorded={setReceipt} />
            ) : (
              <Card title={t('invoice.recordTitle')} testId="payment-form-closed">
                {receipt ? <Receipt receipt={receipt} onDismiss={() => setReceipt(null)} /> : null}
                <p className="text-sm text-slate-600">
                  {!can('billing:write') ? t('invoice.mayNotPay') : data.status === 'CANCELLED' ? t('invoice.cancelled') : t('invoice.fullyPaid')}
                </p>
              </Card>
            )}
          </div>
          {payable ? (
            <div className="order-last min-w-0 lg:order-none">
              <AdjustmentForm invoice={data} />
            </div>
          ) : null}
        </div>
        <div className="min-w-0 space-y-6 lg:col-start-1 lg:row-start-1">
          <Card title={t('invoice.lines')}>
            {(data.lines ?? []).length === 0 ? (
              <EmptyState>{t('invoice.noLines')}</EmptyState>
            ) : (
              <Table label={t('invoice.lines')}>
                {/* On a phone, kind and item go under the description: the amount stays in view without scrolling sideways. */}
                <thead>
                  <tr>
                    <th className={`${th} hidden sm:table-cell`}>{t('invoice.kind')}</th>
                    <th className={th}>{t('invoice.description')}</th>
                    <th className={`${th} hidden sm:table-cell`}>{t('invoice.item')}</th>
                    <th className={thNum}>{t('invoice.amount')}</th>
                  </tr>
                </thead>
                <tbody data-testid="invoice-lines">
                  {(data.lines ?? []).map((line, index) => (
                    <tr key={`${line.code}-${index}`}>
                      <td className={`${td} hidden sm:table-cell`}>{lineKind(line.kind)}</td>
                      <td className={td}>
                        {line.description}
                        <span className="block text-xs text-slate-600 sm:hidden">
                          {lineKind(line.kind)} · <span className="font-mono">{line.code}</span>
                        </span>
                      </td>
                      <td className={`${td} hidden font-mono text-xs sm:table-cell`}>{line.code}</td>
                      <td className={`${tdNum} ${line.amount < 0 ? 'text-emerald-700' : ''}`}>{formatMoney(line.amount, data.currency)}</td>
                    </tr>
                  ))}
                </tbody>
                <tfoot>
                  <tr>
                    <th scope="row" className="px-3 py-2 text-left text-sm font-semibold text-slate-700 sm:hidden">
                      {t('invoice.total')}
                    </th>
                    <th scope="row" colSpan={3} className="hidden px-3 py-2 text-left text-sm font-semibold text-slate-700 sm:table-cell">
                      {t('invoice.total')}
                    </th>
                    <td className="px-3 py-2 text-right text-sm font-semibold tabular-nums text-slate-900">{formatMoney(data.amount, data.currency)}</td>
                  </tr>
                </tfoot>
              </Table>
            )}
          </Card>
          <Card title={timeZone ? t('invoice.paymentsIn', { zone: describeZone(timeZone, 'school') }) : t('invoice.payments')}>
            {receipts.failure}
            {payments.isPending ? (
              <Skeleton rows={3} />
            ) : payments.isError ? (
              <ErrorState error={payments.error} onRetry={() => void payments.refetch()} />
            ) : payments.data.data.length === 0 ? (
              <EmptyState>{t('invoice.noPayments')}</EmptyState>
            ) : (
              <Table label={t('invoice.payments')}>
                <thead>
                  <tr>
                    <th className={th}>{t('invoice.paidAt')}</th>
                    <th className={thNum}>{t('invoice.amount')}</th>
                    <th className={th}>{t('invoice.method')}</th>
                    <th className={th}>{t('invoice.reference')}</th>
                    <th className={thNum}>{t('invoice.refunded')}</th>
                    <th className={th}>{t('invoice.receipt')}</th>
                  </tr>
                </thead>
                <tbody data-testid="payments-table">
                  {payments.data.data.map((payment) => (
                    <tr key={payment.id}>
                      <td className={td}>{timeZone ? formatDateTime(payment.paidAt, timeZone) : '…'}</td>
                      <td className={tdNum}>{formatMoney(payment.amount, payment.currency)}</td>
                      <td className={td}>{methodLabel(payment.method)}</td>
                      <td className={td}>{payment.reference ?? '—'}</td>
                      <td className={tdNum}>{payment.refundedAmount ? formatMoney(payment.refundedAmount, payment.currency) : '—'}</td>
                      <td className={td}>
                        <ReceiptButton paymentId={payment.id} receiptNumber={payment.receiptNumber} onDownload={receipts.download} />
                      </td>
                    </tr>
                  ))}
                </tbody>
              </Table>
            )}
          </Card>
          {adjustments.length > 0 ? (
            <Card title={`${data.kind === 'late_fee' ? t('invoice.adjustmentsLateFee') : t('invoice.adjustments')}${timeZone ? ` · ${describeZone(timeZone, 'school')}` : ''}`} testId="invoice-adjustments">
              <ul className="divide-y divide-slate-100" data-testid="adjustments-list">
                {adjustments.map((adjustment) => (
                  <li key={adjustment.id} className="grid grid-cols-[minmax(0,1fr)_auto] items-baseline gap-x-3 py-2 text-sm" data-testid="adjustment">
                    <span className="min-w-0">
                      <span className="font-medium text-slate-900">
                        {adjustmentKind(adjustment.kind)}
                        {adjustment.number ? <span className="whitespace-nowrap"> {adjustment.number}</span> : null}
                      </span>
                      <span className="block break-words text-slate-600">{adjustment.reason}</span>
                      <span className="block text-xs text-slate-600">{timeZone ? formatDateTime(adjustment.createdAt, timeZone) : '…'}</span>
                    </span>
                    <span className="text-right font-medium tabular-nums text-slate-900">{formatMoney(adjustment.amount, data.currency)}</span>
                  </li>
                ))}
              </ul>
            </Card>
          ) : null}
          {data.kind === 'regular' ? (
            <Card title={t('invoice.reminders')} testId="invoice-messages">
              <InvoiceMessages invoiceId={data.id} />
            </Card>
          ) : null}
          <HistoryCard entityType="invoice" entityId={data.id} currency={data.currency} />
        </div>
      </div>
    </>
  );
}

/** The outcome of the last payment: stays until dismissed or the next submit, and takes focus when it appears. */
function Receipt({ receipt, onDismiss }: { receipt: PaymentReceipt; onDismiss: () => void }) {
  const { t } = useT();
  return (
    <div className="mb-3">
      <Notice tone="success" onDismiss={onDismiss} testId="payment-success">
        {t('invoice.paymentDone', { amount: formatMoney(receipt.amount, receipt.currency), status: enumLabel('status', receipt.invoice.status) })}
        {receipt.invoice.pendingAmount > 0 ? t('invoice.stillPending', { amount: formatMoney(receipt.invoice.pendingAmount, receipt.currency) }) : ''}.
      </Notice>
    </div>
  );
}

function PaymentForm({ invoice, receipt, onRecorded }: { invoice: Invoice; receipt: PaymentReceipt | null; onRecorded: (receipt: PaymentReceipt | null) => void }) {
  const { t } = useT();
  const queryClient = useQueryClient();
  // With an early-payment discount on offer, the amount that earns it.
  const [amount, setAmount] = useState(() => minorToInput(invoice.earlyPayment?.available ? invoice.earlyPayment.amountDue : invoice.pendingAmount, invoice.currency));
  const [method, setMethod] = useState('bank_transfer');
  const [reference, setReference] = useState('');
  const [invalid, setInvalid] = useState<string | null>(null);
  const amountInput = useRef<HTMLInputElement>(null);

  const mutation = useMutation({
    mutationFn: recordPayment,
    onSuccess: async (result) => {
      onRecorded(result);
      setReference('');
      setAmount(minorToInput(result.invoice.pendingAmount, invoice.currency));
      // Everything derived from this invoice: lists, statements, reports.
      await queryClient.invalidateQueries();
    },
  });

  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (mutation.isPending) {
      return;
    }
    onRecorded(null);
    mutation.reset();
    const checked = checkAmount(amount, invoice.currency, { minor: invoice.pendingAmount, message: (max) => t('invoice.atMostOwed', { max }) });
    setInvalid(checked.ok ? null : checked.error);
    if (!checked.ok) {
      // Focus goes to the field; its error is read with it (aria-describedby).
      amountInput.current?.focus();
      return;
    }
    mutation.mutate({ invoiceId: invoice.id, amount: checked.minor, method, ...(reference.trim() ? { reference: reference.trim() } : {}) });
  };

  return (
    <Card title={t('invoice.recordTitle')} testId="payment-form">
      {receipt ? <Receipt receipt={receipt} onDismiss={() => onRecorded(null)} /> : null}
      <form className="space-y-3" onSubmit={submit} noValidate>
        <AmountField
          ref={amountInput}
          currency={invoice.currency}
          hint={t('invoice.amountHint', { amount: formatMoney(invoice.pendingAmount, invoice.currency) })}
          error={invalid}
          value={amount}
          onChange={(value) => {
            setAmount(value);
            setInvalid(null);
          }}
        />
        <MethodField value={method} onChange={setMethod} />
        <ReferenceField value={reference} onChange={setReference} placeholder={t('invoice.referencePlaceholder')} />
        {mutation.isError ? (
          <Notice tone="error" onDismiss={() => mutation.reset()} testId="payment-error">
            {problemText(mutation.error, t('invoice.paymentFailed'))}
          </Notice>
        ) : null}
        <Button type="submit" variant="primary" className="w-full" busy={mutation.isPending}>
          {mutation.isPending ? t('invoice.recording') : t('invoice.record')}
        </Button>
      </form>
    </Card>
  );
}

/**
 * A credit note (a fee correction) or a write-off (bad debt): lowers what is open
 * without moving money, never above it. The amount is checked here against what is
 * open; the API has the last word (another user may have settled part meanwhile), and
 * its field errors are shown under their fields.
 */
function AdjustmentForm({ invoice }: { invoice: Invoice }) {
  const { t } = useT();
  const queryClient = useQueryClient();
  const kinds: AdjustmentKind[] = invoice.kind === 'late_fee' ? ['waiver', 'credit_note', 'write_off'] : ['credit_note', 'write_off'];
  const [kind, setKind] = useState<AdjustmentKind>(kinds[0] ?? 'credit_note');
  const [amount, setAmount] = useState('');
  const [reason, setReason] = useState('');
  const [invalid, setInvalid] = useState<string | null>(null);
  const amountInput = useRef<HTMLInputElement>(null);
  const attempt = useAttemptKey();

  const mutation = useMutation({
    mutationFn: adjustInvoice,
    onSuccess: async () => {
      attempt.succeeded();
      setAmount('');
      setReason('');
      await queryClient.invalidateQueries();
    },
    // Refused (say, more than is open now that someone else settled part): show what is open now.
    onError: () => queryClient.invalidateQueries({ queryKey: ['invoices', invoice.id] }),
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (mutation.isPending) {
      return;
    }
    mutation.reset();
    const checked = checkAmount(amount, invoice.currency, { minor: invoice.pendingAmount, message: (max) => t('invoice.atMostOpen', { max }) });
    setInvalid(checked.ok ? null : checked.error);
    if (!checked.ok) {
      amountInput.current?.focus();
      return;
    }
    const body = { invoiceId: invoice.id, kind, amount: checked.minor, reason };
    mutation.mutate({ ...body, idempotencyKey: attempt.keyFor(body) });
  };
  const fields = fieldErrorsOf(mutation.error, invoice.currency);
  const done = mutation.data;
  const verb = t(`invoice.verb.${kind}`);
  return (
    <Card title={invoice.kind === 'late_fee' ? t('invoice.adjustTitleLateFee') : t('invoice.adjustTitle')} testId="adjustment-form">
      {done ? (
        <div className="mb-3">
          <Notice tone="success" onDismiss={() => mutation.reset()} testId="adjustment-success">
            {t('invoice.adjustmentDone', { kind: adjustmentKind(done.kind), number: done.number ? ` ${done.number}` : '', amount: formatMoney(done.amount, invoice.currency), status: enumLabel('status', done.invoice.status) })}
            {done.invoice.pendingAmount > 0 ? t('invoice.stillPending', { amount: formatMoney(done.invoice.pendingAmount, invoice.currency) }) : ''}.
          </Notice>
        </div>
      ) : null}
      <form className="space-y-3" onSubmit={submit} noValidate>
        <Field label={t('invoice.kind')} hint={t(`invoice.adjustmentHint.${kind}`)}>
          <Select name="kind" value={kind} onChange={(event) => setKind(event.target.value as AdjustmentKind)}>
            {kinds.map((k) => (
              <option key={k} value={k}>
                {adjustmentKind(k)}
              </option>
            ))}
          </Select>
        </Field>
        <AmountField
          ref={amountInput}
          currency={invoice.currency}
          hint={t('invoice.openHint', { amount: formatMoney(invoice.pendingAmount, invoice.currency) })}
          error={invalid ?? fields.amount ?? null}
          value={amount}
          onChange={(value) => {
            setAmount(value);
            setInvalid(null);
          }}
        />
        <Field label={t('invoice.reason')} hint={t('invoice.reasonHint')} error={fields.reason ?? null}>
          <Input name="reason" value={reason} maxLength={500} onChange={(event) => setReason(event.target.value)} />
        </Field>
        {mutation.isError ? (
          <Notice tone="error" onDismiss={() => mutation.reset()} testId="adjustment-error">
            {problemText(mutation.error, t('invoice.adjustFailed'))}
          </Notice>
        ) : null}
        <Button type="submit" variant={kind === 'write_off' ? 'danger' : 'primary'} className="w-full" busy={mutation.isPending}>
          {mutation.isPending ? 'Recording…' : verb}
        </Button>
      </form>
    </Card>
  );
}
