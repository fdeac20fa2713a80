import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { useSession } from '../../app/session';
import { Button, Card, EmptyState, ErrorState, Field, Input, PageHeader, Select, Skeleton, Stat, StatusBadge, Table, td, tdNum, th, thNum } from '../../components/ui';
import { ApiError } from '../../lib/api';
import { currencyDecimals, formatDate, formatDateTime, formatMoney, methodLabel, minorToInput, parseMoney, PAYMENT_METHODS } from '../../lib/format';
import { Link } from '../../lib/router';
import { invoicePaymentsQuery, invoiceQuery, recordPayment, type Invoice, type PaymentReceipt } from './api';

export function InvoicePage({ invoiceId }: { invoiceId: string }) {
  const { can } = useSession();
  const invoice = useQuery(invoiceQuery(invoiceId));
  const payments = useQuery(invoicePaymentsQuery(invoiceId));

  if (invoice.isPending) {
    return <Skeleton rows={6} />;
  }
  if (invoice.isError) {
    return <ErrorState error={invoice.error} onRetry={() => void invoice.refetch()} />;
  }
  const data = invoice.data;
  const payable = can('billing:write') && data.pendingAmount > 0 && data.status !== 'CANCELLED';
  return (
    <>
      <nav aria-label="Breadcrumb" className="mb-2 text-sm text-slate-500">
        <Link to={`/schools/${data.schoolId}`} className="hover:underline">
          School
        </Link>{' '}
        /{' '}
        <Link to={`/students/${data.studentId}`} className="hover:underline">
          Student
        </Link>{' '}
        / {data.number}
      </nav>
      <PageHeader title={`Invoice ${data.number}`} subtitle={`${data.description ?? 'No description'} · due ${formatDate(data.dueDate)}`} actions={<StatusBadge status={data.status} />} />
      <div className="mb-6 grid grid-cols-2 gap-3 lg:grid-cols-3">
        <Stat label="Amount" value={formatMoney(data.amount, data.currency)} />
        <Stat label="Paid" value={formatMoney(data.paidAmount, data.currency)} tone="good" testId="invoice-paid" />
        <Stat label="Pending" value={formatMoney(data.pendingAmount, data.currency)} tone={data.status === 'OVERDUE' ? 'bad' : 'default'} testId="invoice-pending" />
      </div>
      <div className="grid gap-6 lg:grid-cols-[2fr_1fr]">
        <Card title="Payments">
          {payments.isPending ? (
            <Skeleton rows={3} />
          ) : payments.isError ? (
            <ErrorState error={payments.error} onRetry={() => void payments.refetch()} />
          ) : payments.data.data.length === 0 ? (
            <EmptyState>No payments yet.</EmptyState>
          ) : (
            <Table label="Payments">
              <thead>
                <tr>
                  <th className={th}>Paid at</th>
                  <th className={th}>Method</th>
                  <th className={th}>Reference</th>
                  <th className={thNum}>Amount</th>
                  <th className={thNum}>Refunded</th>
                </tr>
              </thead>
              <tbody data-testid="payments-table">
                {payments.data.data.map((payment) => (
                  <tr key={payment.id}>
                    <td className={td}>{formatDateTime(payment.paidAt)}</td>
                    <td className={td}>{methodLabel(payment.method)}</td>
                    <td className={td}>{payment.reference ?? '—'}</td>
                    <td className={tdNum}>{formatMoney(payment.amount, payment.currency)}</td>
                    <td className={tdNum}>{payment.refundedAmount ? formatMoney(payment.refundedAmount, payment.currency) : '—'}</td>
                  </tr>
                ))}
              </tbody>
            </Table>
          )}
        </Card>
        {payable ? (
          <PaymentForm invoice={data} />
        ) : (
          <Card title="Record a payment">
            <p className="text-sm text-slate-500">
              {!can('billing:write') ? 'Your role may not record payments.' : data.status === 'CANCELLED' ? 'This invoice is cancelled.' : 'This invoice is fully paid.'}
            </p>
          </Card>
        )}
      </div>
    </>
  );
}

function PaymentForm({ invoice }: { invoice: Invoice }) {
  const queryClient = useQueryClient();
  const [amount, setAmount] = useState(() => minorToInput(invoice.pendingAmount, invoice.currency));
  const [method, setMethod] = useState('bank_transfer');
  const [reference, setReference] = useState('');
  const [receipt, setReceipt] = useState<PaymentReceipt | null>(null);
  const [invalid, setInvalid] = useState<string | null>(null);

  const mutation = useMutation({
    mutationFn: recordPayment,
    onSuccess: async (result) => {
      setReceipt(result);
      setReference('');
      setAmount(minorToInput(result.invoice.pendingAmount, invoice.currency));
      // Everything derived from this invoice: lists, statements, reports.
      await queryClient.invalidateQueries();
    },
  });

  const submit = (event: FormEvent) => {
    event.preventDefault();
    setReceipt(null);
    const minor = parseMoney(amount, invoice.currency);
    if (minor === null) {
      setInvalid(`Enter a positive amount with at most ${currencyDecimals(invoice.currency)} decimals.`);
      return;
    }
    if (minor > invoice.pendingAmount) {
      setInvalid(`At most ${formatMoney(invoice.pendingAmount, invoice.currency)} is owed.`);
      return;
    }
    setInvalid(null);
    mutation.mutate({ invoiceId: invoice.id, amount: minor, method, ...(reference.trim() ? { reference: reference.trim() } : {}) });
  };

  const serverError = mutation.error instanceof ApiError ? mutation.error : null;
  return (
    <Card title="Record a payment" testId="payment-form">
      <form className="space-y-3" onSubmit={submit} noValidate>
        <Field label={`Amount (${invoice.currency})`} hint={`Pending: ${formatMoney(invoice.pendingAmount, invoice.currency)}`}>
          <Input name="amount" inputMode="decimal" value={amount} onChange={(event) => setAmount(event.target.value)} aria-invalid={invalid !== null} required />
        </Field>
        <Field label="Method">
          <Select name="method" value={method} onChange={(event) => setMethod(event.target.value)}>
            {PAYMENT_METHODS.map((value) => (
              <option key={value} value={value}>
                {methodLabel(value)}
              </option>
            ))}
          </Select>
        </Field>
        <Field label="Reference (optional)">
          <Input name="reference" value={reference} maxLength={120} onChange={(event) => setReference(event.target.value)} placeholder="e.g. SPEI-20261201-7781" />
        </Field>
        {invalid ? (
          <p role="alert" className="text-sm text-rose-700">
            {invalid}
          </p>
        ) : null}
        {mutation.isError ? (
          <p role="alert" className="rounded-lg bg-rose-50 px-3 py-2 text-sm text-rose-700">
            {serverError ? `${serverError.problem.code ?? serverError.status}: ${serverError.message}` : 'The payment could not be sent. Nothing was recorded; try again.'}
          </p>
        ) : null}
        {receipt ? (
          <p role="status" className="rounded-lg bg-emerald-50 px-3 py-2 text-sm text-emerald-800" data-testid="payment-success">
            Payment of {formatMoney(receipt.payment.amount, receipt.payment.currency)} recorded. Invoice is now {receipt.invoice.status}.
          </p>
        ) : null}
        <Button type="submit" variant="primary" className="w-full" disabled={mutation.isPending}>
          {mutation.isPending ? 'Recording…' : 'Record payment'}
        </Button>
      </form>
    </Card>
  );
}
