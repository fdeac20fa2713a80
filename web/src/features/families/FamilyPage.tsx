import { translate, useT } from '../../lib/i18n';
import { HistoryCard } from '../audit/History';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useId, useRef, useState, type FormEvent } from 'react';
import { FamilyMessages } from '../collections/Messages';
import { useSession } from '../../app/session';
import { AmountField, checkAmount, fieldErrorsOf, MethodField, problemText, ReceiptButton, ReferenceField, useAttemptKey, useReceiptDownload } from '../../components/money';
import { Button, Card, describeError, EmptyState, ErrorState, Field, Input, Notice, PageHeader, Skeleton, Stat, StatGrid, Table, td, tdNum, th, thNum } from '../../components/ui';
import { downloadFile } from '../../lib/api';
import { describeZone, formatBytes, formatDateTime, formatMoney, methodLabel } from '../../lib/format';
import { Link } from '../../lib/router';
import { schoolQuery } from '../billing/api';
import { addGuardian, familyPaymentsQuery, familyQuery, recordFamilyPayment, removeGuardian, updateGuardian, type Family, type FamilyPaymentReceipt, type Guardian, type GuardianInput } from './api';

/** This page's strings (lib/strings), read in the current language each time. */
const T = {
  get families() {
    return translate('family.families');
  },
  get family() {
    return translate('family.family');
  },
  get reference() {
    return translate('family.reference');
  },
  get owed() {
    return translate('family.owed');
  },
  get credit() {
    return translate('family.credit');
  },
  get children() {
    return translate('family.children');
  },
  get noChildren() {
    return translate('family.noChildren');
  },
  get grade() {
    return translate('family.grade');
  },
  get status() {
    return translate('family.status');
  },
  get active() {
    return translate('family.active');
  },
  get inactive() {
    return translate('family.inactive');
  },
  get guardians() {
    return translate('family.guardians');
  },
  get noGuardians() {
    return translate('family.noGuardians');
  },
  get primary() {
    return translate('family.primary');
  },
  get addGuardian() {
    return translate('family.addGuardian');
  },
  editGuardian: (name: string) => translate('family.editGuardian', { name }),
  removeGuardian: (name: string) => translate('family.removeGuardian', { name }),
  confirmRemove: (name: string) => translate('family.confirmRemove', { name }),
  get edit() {
    return translate('family.edit');
  },
  get remove() {
    return translate('family.remove');
  },
  get cancel() {
    return translate('family.cancel');
  },
  get firstName() {
    return translate('family.firstName');
  },
  get lastName() {
    return translate('family.lastName');
  },
  get relationship() {
    return translate('family.relationship');
  },
  get email() {
    return translate('family.email');
  },
  get phone() {
    return translate('family.phone');
  },
  get makePrimary() {
    return translate('family.makePrimary');
  },
  get saveGuardian() {
    return translate('family.saveGuardian');
  },
  get saving() {
    return translate('family.saving');
  },
  guardianAdded: (name: string) => translate('family.guardianAdded', { name }),
  guardianSaved: (name: string) => translate('family.guardianSaved', { name }),
  guardianRemoved: (name: string) => translate('family.guardianRemoved', { name }),
  get requestFailed() {
    return translate('family.requestFailed');
  },
  get statement() {
    return translate('family.statement');
  },
  get statementHint() {
    return translate('family.statementHint');
  },
  downloadAs: (format: string) => translate('family.downloadAs', { format }),
  get preparing() {
    return translate('family.preparing');
  },
  get saved() {
    return translate('family.saved');
  },
  get downloadFailed() {
    return translate('family.downloadFailed');
  },
  get payments() {
    return translate('family.payments');
  },
  get noPayments() {
    return translate('family.noPayments');
  },
  get paidAt() {
    return translate('family.paidAt');
  },
  get amount() {
    return translate('family.amount');
  },
  get allocated() {
    return translate('family.allocated');
  },
  get credited() {
    return translate('family.credited');
  },
  get method() {
    return translate('family.method');
  },
  get receipt() {
    return translate('family.receipt');
  },
  get record() {
    return translate('family.record');
  },
  get mayNot() {
    return translate('family.mayNot');
  },
  amountHint: (owed: string) => translate('family.amountHint', { owed }),
  get submit() {
    return translate('family.submit');
  },
  get submitting() {
    return translate('family.submitting');
  },
  get sendFailed() {
    return translate('family.sendFailed');
  },
  recorded: (r: FamilyPaymentReceipt) =>
    translate('family.recorded', {
      amount: formatMoney(r.amount, r.currency),
      receipt: r.receiptNumber ? translate('family.recordedReceipt', { number: r.receiptNumber }) : '',
      allocated: formatMoney(r.allocated, r.currency),
      invoices: translate(r.allocations.length === 1 ? 'family.oneInvoice' : 'family.manyInvoices', { count: r.allocations.length }),
      credited: formatMoney(r.credited, r.currency),
      owed: formatMoney(r.balance.owed, r.currency),
      credit: r.balance.credit > 0 ? translate('family.recordedCredit', { amount: formatMoney(r.balance.credit, r.currency) }) : '',
    }),
};

export function FamilyPage({ familyId }: { familyId: string }) {
  useT();
  const { can } = useSession();
  const family = useQuery(familyQuery(familyId));
  const school = useQuery({ ...schoolQuery(family.data?.schoolId ?? ''), enabled: family.data !== undefined });
  const [receipt, setReceipt] = useState<FamilyPaymentReceipt | null>(null);

  if (family.isPending) {
    return <Skeleton rows={6} />;
  }
  if (family.isError) {
    return <ErrorState error={family.error} onRetry={() => void family.refetch()} />;
  }
  const data = family.data;
  return (
    <>
      <nav aria-label={translate('family.breadcrumb')} className="mb-2 text-sm text-slate-600">
        <Link to={`/families?schoolId=${data.schoolId}`} className="hover:underline">
          {T.families}
        </Link>{' '}
        / {school.data?.name ?? '…'}
      </nav>
      <PageHeader title={`${T.family} ${data.name}`} subtitle={<span className="font-mono">{data.reference}</span>} />
      <StatGrid cols={2} className="mb-6">
        <Stat label={T.owed} value={formatMoney(data.balance.owed, data.currency)} tone={data.balance.owed > 0 ? 'warn' : 'default'} testId="family-owed" />
        <Stat label={T.credit} value={formatMoney(data.balance.credit, data.currency)} tone="good" testId="family-credit" />
      </StatGrid>
      <div className="grid grid-cols-1 gap-6 lg:grid-cols-[minmax(0,2fr)_minmax(0,1fr)]">
        {/* On a phone the form comes first: it is what a bursar opens this page for. */}
        <div className="order-first min-w-0 lg:order-last">
          {can('billing:write') ? (
            <FamilyPaymentForm family={data} receipt={receipt} onRecorded={setReceipt} />
          ) : (
            <Card title={T.record} testId="family-payment-closed">
              <p className="text-sm text-slate-600">{T.mayNot}</p>
            </Card>
          )}
        </div>
        <div className="min-w-0 space-y-6">
          <Card title={T.children}>
            {data.students.length === 0 ? (
              <EmptyState>{T.noChildren}</EmptyState>
            ) : (
              <ul className="divide-y divide-slate-100" data-testid="family-children">
                {data.students.map((student) => (
                  <li key={student.id} className="flex flex-wrap items-baseline justify-between gap-2 py-2 text-sm">
                    <Link to={`/students/${student.id}`} className="font-medium text-indigo-700 hover:underline" data-testid="child-link">
                      {student.firstName} {student.lastName}
                    </Link>
                    <span className="text-slate-600">
                      {T.grade} {student.grade} · {student.isActive ? T.active : T.inactive}
                    </span>
                  </li>
                ))}
              </ul>
            )}
          </Card>
          <Guardians family={data} canWrite={can('billing:write')} />
          <StatementDownloads family={data} />
        </div>
      </div>
      <div className="mt-6">
        <FamilyPayments familyId={familyId} timeZone={school.data?.timezone} />
      </div>
      <div className="mt-6">
        <Card title={translate('family.reminders')} testId="family-messages">
          <FamilyMessages familyId={familyId} />
        </Card>
      </div>
      <div className="mt-6">
        <HistoryCard entityType="family" entityId={familyId} currency={school.data?.currency} />
      </div>
    </>
  );
}

type Download = { kind: 'running'; format: 'pdf' | 'csv' } | { kind: 'done'; filename: string; bytes: number } | { kind: 'failed'; error: unknown } | null;

function StatementDownloads({ family }: { family: Family }) {
  useT();
  const [download, setDownload] = useState<Download>(null);
  const running = download?.kind === 'running' ? download.format : null;
  const start = async (format: 'pdf' | 'csv') => {
    if (running !== null) {
      return;
    }
    setDownload({ kind: 'running', format });
    try {
      setDownload({ kind: 'done', ...(await downloadFile(`/families/${family.id}/statement?format=${format}&lang=${family.preferredLanguage}`, `${family.reference}-statement.${format}`)) });
    } catch (error) {
      setDownload({ kind: 'failed', error });
    }
  };
  return (
    <Card
      title={T.statement}
      testId="family-statement"
      actions={
        <div className="flex gap-2" role="group" aria-label={T.statement}>
          {(['pdf', 'csv'] as const).map((format) => (
            <Button key={format} size="sm" onClick={() => void start(format)} busy={running !== null} aria-label={T.downloadAs(format.toUpperCase())}>
              {running === format ? T.preparing : format.toUpperCase()}
            </Button>
          ))}
        </div>
      }
    >
      {download?.kind === 'done' ? (
        <div className="mb-3">
          <Notice tone="success" onDismiss={() => setDownload(null)} testId="download-done">
            {T.saved} <span className="font-medium">{download.filename}</span> ({formatBytes(download.bytes)}).
          </Notice>
        </div>
      ) : download?.kind === 'failed' ? (
        <div className="mb-3">
          <Notice tone="error" onDismiss={() => setDownload(null)}>
            <span className="font-semibold">{T.downloadFailed}</span> {describeError(download.error).detail}
          </Notice>
        </div>
      ) : null}
      <p className="text-sm text-slate-600">{T.statementHint}</p>
    </Card>
  );
}

function FamilyPayments({ familyId, timeZone }: { familyId: string; timeZone: string | undefined }) {
  useT();
  const payments = useQuery(familyPaymentsQuery(familyId));
  const receipts = useReceiptDownload();
  return (
    <Card title={timeZone ? `${T.payments} · ${describeZone(timeZone, 'school')}` : T.payments}>
      {receipts.failure}
      {payments.isPending ? (
        <Skeleton rows={3} />
      ) : payments.isError ? (
        <ErrorState error={payments.error} onRetry={() => void payments.refetch()} />
      ) : payments.data.data.length === 0 ? (
        <EmptyState>{T.noPayments}</EmptyState>
      ) : (
        <Table label={T.payments}>
          <thead>
            <tr>
              <th className={th}>{T.paidAt}</th>
              <th className={thNum}>{T.amount}</th>
              <th className={thNum}>{T.allocated}</th>
              <th className={thNum}>{T.credited}</th>
              <th className={th}>{T.method}</th>
              <th className={th}>{T.receipt}</th>
            </tr>
          </thead>
          <tbody data-testid="family-payments-table">
            {payments.data.data.map((payment) => (
              <tr key={payment.id}>
                <td className={td}>{timeZone ? formatDateTime(payment.paidAt, timeZone) : '…'}</td>
                <td className={tdNum}>{formatMoney(payment.amount, payment.currency)}</td>
                <td className={tdNum}>{formatMoney(payment.allocated, payment.currency)}</td>
                <td className={tdNum}>{formatMoney(payment.credited, payment.currency)}</td>
                <td className={td}>{methodLabel(payment.method)}</td>
                <td className={td}>
                  <ReceiptButton paymentId={payment.id} receiptNumber={payment.receiptNumber} onDownload={receipts.download} />
                </td>
              </tr>
            ))}
          </tbody>
        </Table>
      )}
    </Card>
  );
}

function FamilyPaymentForm({ family, receipt, onRecorded }: { family: Family; receipt: FamilyPaymentReceipt | null; onRecorded: (receipt: FamilyPaymentReceipt | null) => void }) {
  useT();
  const queryClient = useQueryClient();
  const [amount, setAmount] = useState('');
  const [method, setMethod] = useState('bank_transfer');
  const [reference, setReference] = useState('');
  const [invalid, setInvalid] = useState<string | null>(null);
  const amountInput = useRef<HTMLInputElement>(null);
  const attempt = useAttemptKey();

  const mutation = useMutation({
    mutationFn: recordFamilyPayment,
    onSuccess: async (result) => {
      attempt.succeeded();
      onRecorded(result);
      setAmount('');
      setReference('');
      queryClient.setQueryData<Family>(['families', family.id], (current) => (current ? { ...current, balance: result.balance } : current));
      // Everything derived from this family's invoices: lists, statements, reports.
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
    const checked = checkAmount(amount, family.currency);
    setInvalid(checked.ok ? null : checked.error);
    if (!checked.ok) {
      amountInput.current?.focus();
      return;
    }
    const body = { familyId: family.id, amount: checked.minor, method, ...(reference.trim() ? { reference: reference.trim() } : {}) };
    mutation.mutate({ ...body, idempotencyKey: attempt.keyFor(body) });
  };

  return (
    <Card title={T.record} testId="family-payment-form">
      {receipt ? (
        <div className="mb-3">
          <Notice tone="success" onDismiss={() => onRecorded(null)} testId="family-payment-success">
            {T.recorded(receipt)}
          </Notice>
        </div>
      ) : null}
      <form className="space-y-3" onSubmit={submit} noValidate>
        <AmountField
          ref={amountInput}
          currency={family.currency}
          hint={T.amountHint(formatMoney(family.balance.owed, family.currency))}
          error={invalid}
          value={amount}
          onChange={(value) => {
            setAmount(value);
            setInvalid(null);
          }}
        />
        <MethodField value={method} onChange={setMethod} />
        <ReferenceField value={reference} onChange={setReference} placeholder={family.reference} />
        {mutation.isError ? (
          <Notice tone="error" onDismiss={() => mutation.reset()} testId="family-payment-error">
            {problemText(mutation.error, T.sendFailed)}
          </Notice>
        ) : null}
        <Button type="submit" variant="primary" className="w-full" busy={mutation.isPending}>
          {mutation.isPending ? T.submitting : T.submit}
        </Button>
      </form>
    </Card>
  );
}

const fullName = (guardian: Pick<Guardian, 'firstName' | 'lastName'>) => `${guardian.firstName} ${guardian.lastName}`;

/** The family's guardians; with billing:write, add one, edit one in place, or remove one (after a confirmation). */
function Guardians({ family, canWrite }: { family: Family; canWrite: boolean }) {
  useT();
  const queryClient = useQueryClient();
  /** The guardian being edited ('new' for the add form), or null. */
  const [editing, setEditing] = useState<string | null>(null);
  const [confirming, setConfirming] = useState<string | null>(null);
  const [outcome, setOutcome] = useState<string | null>(null);
  const remove = useMutation({
    mutationFn: (guardian: Guardian) => removeGuardian(guardian.id),
    onSuccess: async (_, guardian) => {
      setConfirming(null);
      setOutcome(T.guardianRemoved(fullName(guardian)));
      await queryClient.invalidateQueries({ queryKey: ['families'] });
    },
  });
  const saved = async (message: string) => {
    setEditing(null);
    setOutcome(message);
    await queryClient.invalidateQueries({ queryKey: ['families'] });
  };
  return (
    <Card
      title={T.guardians}
      testId="family-guardians-card"
      actions={
        canWrite && editing !== 'new' ? (
          <Button
            size="sm"
            onClick={() => {
              setOutcome(null);
              setEditing('new');
            }}
          >
            {T.addGuardian}
          </Button>
        ) : null
      }
    >
      {outcome ? (
        <div className="mb-3">
          <Notice tone="success" onDismiss={() => setOutcome(null)} testId="guardian-success">
            {outcome}
          </Notice>
        </div>
      ) : null}
      {remove.isError ? (
        <div className="mb-3">
          <Notice tone="error" onDismiss={() => remove.reset()} testId="guardian-error">
            {problemText(remove.error, T.requestFailed)}
          </Notice>
        </div>
      ) : null}
      {editing === 'new' ? (
        <div className="mb-4 rounded-lg border border-slate-200 p-3">
          <GuardianForm family={family} onSaved={(guardian) => void saved(T.guardianAdded(fullName(guardian)))} onCancel={() => setEditing(null)} />
        </div>
      ) : null}
      {family.guardians.length === 0 ? (
        <EmptyState>{T.noGuardians}</EmptyState>
      ) : (
        <ul className="divide-y divide-slate-100" data-testid="family-guardians">
          {family.guardians.map((guardian) => (
            <li key={guardian.id} className="py-2 text-sm" data-testid="guardian">
              {editing === guardian.id ? (
                <GuardianForm family={family} guardian={guardian} onSaved={(next) => void saved(T.guardianSaved(fullName(next)))} onCancel={() => setEditing(null)} />
              ) : (
                <>
                  <div className="flex flex-wrap items-center gap-2">
                    <span className="font-medium text-slate-900" data-testid="guardian-name">
                      {fullName(guardian)}
                    </span>
                    <span className="text-slate-600">{guardian.relationship}</span>
                    {guardian.isPrimary ? (
                      <span className="rounded-md bg-indigo-50 px-2 py-0.5 text-xs font-medium text-indigo-700 ring-1 ring-inset ring-indigo-600/20" data-testid="primary-badge">
                        {T.primary}
                      </span>
                    ) : null}
                    {canWrite ? (
                      <span className="ml-auto flex gap-1">
                        <Button size="sm" variant="ghost" aria-label={T.editGuardian(fullName(guardian))} onClick={() => { setOutcome(null); setConfirming(null); setEditing(guardian.id); }}>
                          {T.edit}
                        </Button>
                        <Button size="sm" variant="ghost" aria-label={T.removeGuardian(fullName(guardian))} onClick={() => { setOutcome(null); setConfirming(guardian.id); }}>
                          {T.remove}
                        </Button>
                      </span>
                    ) : null}
                  </div>
                  <div className="break-words text-slate-600">{[guardian.email, guardian.phone].filter(Boolean).join(' · ') || '—'}</div>
                  {confirming === guardian.id ? (
                    <div className="mt-2 flex flex-wrap items-center gap-2 rounded-lg border border-rose-200 bg-rose-50 px-3 py-2" role="group" aria-label={T.removeGuardian(fullName(guardian))}>
                      <span className="text-rose-900">{T.confirmRemove(fullName(guardian))}</span>
                      <Button size="sm" variant="danger" busy={remove.isPending} onClick={() => remove.mutate(guardian)}>
                        {T.remove}
                      </Button>
                      <Button size="sm" onClick={() => setConfirming(null)}>
                        {T.cancel}
                      </Button>
                    </div>
                  ) : null}
                </>
              )}
            </li>
          ))}
        </ul>
      )}
    </Card>
  );
}

/** Add a guardian (no `guardian`) or change one; the API's field errors show under their fields. */
function GuardianForm({ family, guardian, onSaved, onCancel }: { family: Family; guardian?: Guardian; onSaved: (guardian: Guardian) => void; onCancel: () => void }) {
  useT();
  const headingId = useId();
  const [values, setValues] = useState({
    firstName: guardian?.firstName ?? '',
    lastName: guardian?.lastName ?? '',
    relationship: guardian?.relationship ?? '',
    email: guardian?.email ?? '',
    phone: guardian?.phone ?? '',
    isPrimary: guardian?.isPrimary ?? family.guardians.length === 0,
  });
  const mutation = useMutation({
    mutationFn: (input: Partial<GuardianInput>) => (guardian ? updateGuardian({ guardianId: guardian.id, ...input }) : addGuardian({ familyId: family.id, ...input })),
    onSuccess: onSaved,
  });
  const set = (field: keyof typeof values) => (event: { target: { value: string } }) => setValues((current) => ({ ...current, [field]: event.target.value }));
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (mutation.isPending) {
      return;
    }
    const text = (value: string) => value.trim();
    const input: Partial<GuardianInput> = {
      firstName: text(values.firstName),
      lastName: text(values.lastName),
      email: text(values.email) || null,
      phone: text(values.phone) || null,
      isPrimary: values.isPrimary,
      ...(text(values.relationship) ? { relationship: text(values.relationship) } : {}),
    };
    mutation.mutate(input);
  };
  const fields = fieldErrorsOf(mutation.error);
  return (
    <form className="space-y-3" onSubmit={submit} noValidate aria-labelledby={headingId} data-testid="guardian-form">
      <h3 id={headingId} className="text-sm font-semibold text-slate-700">
        {guardian ? T.editGuardian(fullName(guardian)) : T.addGuardian}
      </h3>
      <div className="grid grid-cols-1 gap-3 sm:grid-cols-2">
        <Field label={T.firstName} error={fields.firstName ?? null}>
          <Input name="firstName" value={values.firstName} maxLength={100} onChange={set('firstName')} autoComplete="off" />
        </Field>
        <Field label={T.lastName} error={fields.lastName ?? null}>
          <Input name="lastName" value={values.lastName} maxLength={100} onChange={set('lastName')} autoComplete="off" />
        </Field>
        <Field label={T.relationship} error={fields.relationship ?? null}>
          <Input name="relationship" value={values.relationship} maxLength={40} onChange={set('relationship')} placeholder="mother, father, guardian…" autoComplete="off" />
        </Field>
        <Field label={T.email} error={fields.email ?? null}>
          <Input name="email" type="email" value={values.email} maxLength={254} onChange={set('email')} autoComplete="off" />
        </Field>
        <Field label={T.phone} error={fields.phone ?? null}>
          <Input name="phone" type="tel" value={values.phone} maxLength={40} onChange={set('phone')} autoComplete="off" />
        </Field>
        <label className="flex items-center gap-2 self-end pb-2 text-sm text-slate-700">
          <input type="checkbox" name="isPrimary" checked={values.isPrimary} onChange={(event) => setValues((current) => ({ ...current, isPrimary: event.target.checked }))} className="h-4 w-4 rounded border-slate-300" />
          {T.makePrimary}
        </label>
      </div>
      {mutation.isError ? (
        <Notice tone="error" onDismiss={() => mutation.reset()} testId="guardian-error">
          {problemText(mutation.error, T.requestFailed)}
        </Notice>
      ) : null}
      <div className="flex flex-wrap gap-2">
        <Button type="submit" variant="primary" busy={mutation.isPending}>
          {mutation.isPending ? T.saving : T.saveGuardian}
        </Button>
        <Button onClick={onCancel}>{T.cancel}</Button>
      </div>
    </form>
  );
}
