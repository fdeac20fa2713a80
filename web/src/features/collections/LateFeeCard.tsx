import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { useSession } from '../../app/session';
import { checkAmount, fieldErrorsOf, problemText } from '../../components/money';
import { Button, Card, ErrorState, Field, Input, Notice, Select, Skeleton } from '../../components/ui';
import { formatDate, formatMoney } from '../../lib/format';
import { textLocale, translate, useT } from '../../lib/i18n';
import { collectionDaysQuery, lateFeePolicyQuery, putLateFeePolicy, runCollections, type LateFeeKind, type LateFeePolicy } from './api';

/**
 * A school's late fees on its page (SPEC §8): the policy in one sentence, the form to
 * set it (billing:write), and "Run today" — the daily run on demand, which answers what
 * it posted (a second run of the day posts nothing).
 */
const KINDS: LateFeeKind[] = ['fixed', 'percent', 'daily_interest'];

/** "MXN 500.00 once, from the 4th day after the due date, at most MXN 2,000.00 per invoice." */
export function describePolicy(policy: LateFeePolicy, currency: string): string {
  const fee =
    policy.kind === 'fixed'
      ? translate('lateFees.feeFixed', { amount: formatMoney(policy.value, currency) })
      : translate(policy.kind === 'percent' ? 'lateFees.feePercent' : 'lateFees.feeDaily', { percent: formatPercent(policy.value) });
  // "the 6th day" in English (i18next's ordinal plurals), "el día 6" in Spanish.
  const from = policy.graceDays === 0 ? translate('lateFees.fromNextDay') : translate('lateFees.fromDay', { count: policy.graceDays + 1, ordinal: true });
  const cap = policy.cap === null ? translate('lateFees.noCap') : translate('lateFees.cap', { amount: formatMoney(policy.cap, currency) });
  return translate('lateFees.policy', { fee, from, cap });
}

const formatPercent = (value: number) => `${new Intl.NumberFormat(textLocale(), { maximumFractionDigits: 4 }).format(value)} %`;

/** A percent as typed ("1,5" or "1.5"), or why not. */
function parsePercent(text: string): { ok: true; value: number } | { ok: false; error: string } {
  const value = Number(text.trim().replace(',', '.'));
  if (text.trim() === '' || !Number.isFinite(value) || value <= 0 || value > 100) {
    return { ok: false, error: translate('lateFees.badPercent') };
  }
  return { ok: true, value };
}

export function LateFeeCard({ schoolId, currency }: { schoolId: string; currency: string | undefined }) {
  const { t } = useT();
  const { can } = useSession();
  const policy = useQuery(lateFeePolicyQuery(schoolId));
  const [editing, setEditing] = useState(false);
  const mayChange = can('billing:write');

  if (currency === undefined || policy.isPending) {
    return (
      <Card title={t('lateFees.title')}>
        <Skeleton rows={2} />
      </Card>
    );
  }
  if (policy.isError) {
    return (
      <Card title={t('lateFees.title')}>
        <ErrorState error={policy.error} onRetry={() => void policy.refetch()} />
      </Card>
    );
  }
  const current = policy.data;
  return (
    <Card
      title={t('lateFees.title')}
      testId="late-fees"
      actions={
        mayChange && !editing ? (
          <Button size="sm" onClick={() => setEditing(true)}>
            {current ? t('lateFees.change') : t('lateFees.setPolicy')}
          </Button>
        ) : null
      }
    >
      <p className="text-sm text-slate-700" data-testid="late-fee-policy">
        {current === null
          ? t('lateFees.none')
          : current.enabled
            ? describePolicy(current, currency)
            : t('lateFees.switchedOff', { policy: describePolicy(current, currency) })}
      </p>
      <p className="mt-1 text-xs text-slate-600">
        {t('lateFees.explain')}
      </p>
      {editing ? <PolicyForm schoolId={schoolId} currency={currency} current={current} onDone={() => setEditing(false)} /> : null}
      {current !== null ? <RecentDays schoolId={schoolId} currency={currency} /> : null}
      {mayChange && current !== null ? <RunToday schoolId={schoolId} currency={currency} /> : null}
    </Card>
  );
}

function PolicyForm({ schoolId, currency, current, onDone }: { schoolId: string; currency: string; current: LateFeePolicy | null; onDone: () => void }) {
  const { t } = useT();
  const queryClient = useQueryClient();
  const [kind, setKind] = useState<LateFeeKind>(current?.kind ?? 'fixed');
  const [value, setValue] = useState(current ? (current.kind === 'fixed' ? String(current.value / 100) : String(current.value)) : '');
  const [graceDays, setGraceDays] = useState(String(current?.graceDays ?? 0));
  const [cap, setCap] = useState(current?.cap ? String(current.cap / 100) : '');
  const [enabled, setEnabled] = useState(current?.enabled ?? true);
  const [invalid, setInvalid] = useState<Record<string, string>>({});
  const mutation = useMutation({
    mutationFn: (body: Parameters<typeof putLateFeePolicy>[1]) => putLateFeePolicy(schoolId, body),
    onSuccess: (saved) => {
      queryClient.setQueryData(lateFeePolicyQuery(schoolId).queryKey, saved);
      onDone();
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    const errors: Record<string, string> = {};
    let amount = 0;
    if (kind === 'fixed') {
      const checked = checkAmount(value, currency);
      if (checked.ok) {
        amount = checked.minor;
      } else {
        errors.value = checked.error;
      }
    } else {
      const checked = parsePercent(value);
      if (checked.ok) {
        amount = checked.value;
      } else {
        errors.value = checked.error;
      }
    }
    const grace = Number(graceDays);
    if (!Number.isInteger(grace) || grace < 0 || grace > 365) {
      errors.graceDays = t('lateFees.badGrace');
    }
    let capMinor: number | null = null;
    if (cap.trim() !== '') {
      const checked = checkAmount(cap, currency);
      if (checked.ok) {
        capMinor = checked.minor;
      } else {
        errors.cap = checked.error;
      }
    }
    setInvalid(errors);
    if (Object.keys(errors).length === 0) {
      mutation.mutate({ kind, value: amount, graceDays: grace, cap: capMinor, enabled });
    }
  };
  const fields = fieldErrorsOf(mutation.error, currency);
  return (
    <form className="mt-4 grid grid-cols-1 gap-3 sm:grid-cols-2" onSubmit={submit} noValidate data-testid="late-fee-form">
      <Field label={t('lateFees.kind')}>
        <Select name="kind" value={kind} onChange={(event) => setKind(event.target.value as LateFeeKind)}>
          {KINDS.map((k) => (
            <option key={k} value={k}>
              {t(`lateFees.kinds.${k}`)}
            </option>
          ))}
        </Select>
      </Field>
      <Field
        label={kind === 'fixed' ? t('lateFees.amountIn', { currency }) : kind === 'percent' ? t('lateFees.percentOpen') : t('lateFees.percentDay')}
        hint={kind === 'daily_interest' ? t('lateFees.percentDayHint') : undefined}
        error={invalid.value ?? fields.value ?? null}
      >
        <Input name="value" inputMode="decimal" autoComplete="off" value={value} onChange={(event) => setValue(event.target.value)} />
      </Field>
      <Field label={t('lateFees.graceDays')} hint={t('lateFees.graceHint')} error={invalid.graceDays ?? fields.graceDays ?? null}>
        <Input name="graceDays" inputMode="numeric" value={graceDays} onChange={(event) => setGraceDays(event.target.value)} />
      </Field>
      <Field label={t('lateFees.capIn', { currency })} hint={t('lateFees.capHint')} error={invalid.cap ?? fields.cap ?? null}>
        <Input name="cap" inputMode="decimal" autoComplete="off" value={cap} onChange={(event) => setCap(event.target.value)} />
      </Field>
      <label className="flex items-center gap-2 text-sm text-slate-700 sm:col-span-2">
        <input type="checkbox" name="enabled" checked={enabled} onChange={(event) => setEnabled(event.target.checked)} className="h-4 w-4 rounded border-slate-300" />
        {t('lateFees.enabled')}
      </label>
      {mutation.isError ? (
        <div className="sm:col-span-2">
          <Notice tone="error" onDismiss={() => mutation.reset()}>
            {problemText(mutation.error, t('lateFees.saveFailed'))}
          </Notice>
        </div>
      ) : null}
      <div className="flex gap-2 sm:col-span-2">
        <Button type="submit" variant="primary" busy={mutation.isPending}>
          {t('lateFees.save')}
        </Button>
        <Button onClick={onDone}>{t('lateFees.cancel')}</Button>
      </div>
    </form>
  );
}

/** The last days the run did something (or ran), newest first. */
function RecentDays({ schoolId, currency }: { schoolId: string; currency: string }) {
  const { t } = useT();
  const days = useQuery(collectionDaysQuery(schoolId));
  if (days.isPending || days.isError || days.data.data.length === 0) {
    return null;
  }
  return (
    <div className="mt-4">
      <h3 className="text-xs font-semibold uppercase tracking-wide text-slate-600">{t('lateFees.lastRuns')}</h3>
      <ul className="mt-1 divide-y divide-slate-100 text-sm" data-testid="collection-days">
        {days.data.data.map((day) => (
          <li key={day.date} className="flex flex-wrap justify-between gap-x-3 py-1.5">
            <span className="text-slate-700">{formatDate(day.date)}</span>
            <span className="tabular-nums text-slate-900">
              {day.lateFeesPosted === 0 ? t('lateFees.noFees') : t('lateFees.fees', { count: day.lateFeesPosted, amount: formatMoney(day.lateFeeAmount, currency) })}
              {day.remindersSent > 0 ? ` · ${t('lateFees.reminders', { count: day.remindersSent })}` : ''}
              {day.runs > 1 ? ` · ${t('lateFees.ran', { count: day.runs })}` : ''}
            </span>
          </li>
        ))}
      </ul>
    </div>
  );
}

function RunToday({ schoolId, currency }: { schoolId: string; currency: string }) {
  const { t } = useT();
  const queryClient = useQueryClient();
  const mutation = useMutation({
    mutationFn: () => runCollections(schoolId),
    onSuccess: () => queryClient.invalidateQueries(),
  });
  const result = mutation.data;
  return (
    <div className="mt-4 flex flex-wrap items-center gap-3">
      <Button onClick={() => mutation.mutate()} busy={mutation.isPending} data-testid="run-collections">
        {t('lateFees.runToday')}
      </Button>
      {result ? (
        <span className="text-sm text-slate-700" role="status" data-testid="collections-result">
          {t('lateFees.resultDay', { date: formatDate(result.date) })}{' '}
          {result.lateFeesPosted === 0
            ? result.runs > 1
              ? t('lateFees.alreadyRan')
              : t('lateFees.nothingLate')
            : t('lateFees.posted', { count: result.lateFeesPosted, amount: formatMoney(result.lateFeeAmount, currency) })}
          {result.remindersSent > 0 ? ` ${t('lateFees.remindersSent', { count: result.remindersSent })}` : ''}
        </span>
      ) : null}
      {mutation.isError ? (
        <Notice tone="error" onDismiss={() => mutation.reset()}>
          {problemText(mutation.error, t('lateFees.runFailed'))}
        </Notice>
      ) : null}
    </div>
  );
}
