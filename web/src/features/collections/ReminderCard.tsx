import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { useSession } from '../../app/session';
import { fieldErrorsOf, problemText } from '../../components/money';
import { Button, Card, ErrorState, Input, Notice, Select, Skeleton } from '../../components/ui';
import { translate, useT } from '../../lib/i18n';
import { Link } from '../../lib/router';
import { Trans } from 'react-i18next';
import { putReminderPolicy, reminderPolicyQuery, type ReminderChannel, type ReminderPolicy, type ReminderStep, type ReminderTemplate } from './api';
import { CHANNELS, channelLabel, templateLabel, TEMPLATES } from './Messages';

/**
 * A school's reminder steps on its page (SPEC §8): each step in one line ("3 days before
 * the due date · E-mail · Upcoming payment"), and an editor of steps (billing:write).
 */
export function describeOffset(days: number): string {
  if (days === 0) {
    return translate('reminders.onDue');
  }
  return translate(days < 0 ? 'reminders.before' : 'reminders.after', { count: Math.abs(days) });
}

const SUGGESTED: ReminderStep[] = [
  { offsetDays: -3, channel: 'email', template: 'upcoming' },
  { offsetDays: 0, channel: 'email', template: 'due' },
  { offsetDays: 7, channel: 'email', template: 'overdue' },
  { offsetDays: 21, channel: 'email', template: 'final_notice' },
];

export function ReminderCard({ schoolId }: { schoolId: string }) {
  const { t } = useT();
  const { can } = useSession();
  const policy = useQuery(reminderPolicyQuery(schoolId));
  const [editing, setEditing] = useState(false);
  const mayChange = can('billing:write');

  if (policy.isPending) {
    return (
      <Card title={t('reminders.title')}>
        <Skeleton rows={2} />
      </Card>
    );
  }
  if (policy.isError) {
    return (
      <Card title={t('reminders.title')}>
        <ErrorState error={policy.error} onRetry={() => void policy.refetch()} />
      </Card>
    );
  }
  const current = policy.data;
  return (
    <Card
      title={t('reminders.title')}
      testId="reminders"
      actions={
        mayChange && !editing ? (
          <Button size="sm" onClick={() => setEditing(true)}>
            {current ? t('reminders.change') : t('reminders.setUp')}
          </Button>
        ) : null
      }
    >
      {current === null || current.steps.length === 0 ? (
        <p className="text-sm text-slate-700">{t('reminders.none')}</p>
      ) : (
        <>
          {!current.enabled ? <p className="text-sm font-medium text-amber-800">{t('reminders.switchedOff')}</p> : null}
          <ol className="space-y-1 text-sm text-slate-700" data-testid="reminder-steps">
            {current.steps.map((step) => (
              <li key={`${step.offsetDays}:${step.channel}`}>
                <span className="font-medium text-slate-900">{describeOffset(step.offsetDays)}</span> · {channelLabel(step.channel)} · {templateLabel(step.template)}
              </li>
            ))}
          </ol>
        </>
      )}
      <p className="mt-2 text-xs text-slate-600">
        <Trans t={t} i18nKey="reminders.explain" components={{ 1: <Link to="/outbox" className="text-indigo-700 underline">{null}</Link> }} />
      </p>
      {editing ? <StepsForm schoolId={schoolId} current={current} onDone={() => setEditing(false)} /> : null}
    </Card>
  );
}

function StepsForm({ schoolId, current, onDone }: { schoolId: string; current: ReminderPolicy | null; onDone: () => void }) {
  const { t } = useT();
  const queryClient = useQueryClient();
  const [steps, setSteps] = useState<{ offset: string; channel: ReminderChannel; template: ReminderTemplate }[]>(
    (current?.steps.length ? current.steps : SUGGESTED).map((step) => ({ offset: String(step.offsetDays), channel: step.channel, template: step.template })),
  );
  const [enabled, setEnabled] = useState(current?.enabled ?? true);
  const [invalid, setInvalid] = useState<string | null>(null);
  const mutation = useMutation({
    mutationFn: (body: { steps: ReminderStep[]; enabled: boolean }) => putReminderPolicy(schoolId, body),
    onSuccess: (saved) => {
      queryClient.setQueryData(reminderPolicyQuery(schoolId).queryKey, saved);
      onDone();
    },
  });
  const change = (index: number, patch: Partial<(typeof steps)[number]>) => setSteps((all) => all.map((step, i) => (i === index ? { ...step, ...patch } : step)));
  const submit = (event: FormEvent) => {
    event.preventDefault();
    const parsed: ReminderStep[] = [];
    for (const [index, step] of steps.entries()) {
      const offset = Number(step.offset.trim());
      if (step.offset.trim() === '' || !Number.isInteger(offset) || offset < -90 || offset > 365) {
        setInvalid(t('reminders.badDays', { n: index + 1 }));
        return;
      }
      if (parsed.some((other) => other.offsetDays === offset && other.channel === step.channel)) {
        setInvalid(t('reminders.duplicate', { n: index + 1, channel: channelLabel(step.channel) }));
        return;
      }
      parsed.push({ offsetDays: offset, channel: step.channel, template: step.template });
    }
    setInvalid(null);
    mutation.mutate({ steps: parsed, enabled });
  };
  // The API's first field error, named (the steps have no field of their own to show it under).
  const serverText = Object.entries(fieldErrorsOf(mutation.error)).map(([field, message]) => `${field}: ${message}`)[0];
  return (
    <form className="mt-4 space-y-3" onSubmit={submit} noValidate data-testid="reminder-form">
      <p className="text-xs text-slate-600">{t('reminders.daysHint')}</p>
      <ul className="space-y-2">
        {steps.map((step, index) => (
          <li key={index} className="grid grid-cols-[5rem_minmax(0,1fr)] gap-2 sm:grid-cols-[5rem_minmax(0,1fr)_minmax(0,1fr)_auto]" data-testid="reminder-step">
            <Input aria-label={t('reminders.stepDays', { n: index + 1 })} inputMode="numeric" value={step.offset} onChange={(event) => change(index, { offset: event.target.value })} />
            <Select aria-label={t('reminders.stepChannel', { n: index + 1 })} value={step.channel} onChange={(event) => change(index, { channel: event.target.value as ReminderChannel })}>
              {CHANNELS.map((channel) => (
                <option key={channel} value={channel}>
                  {channelLabel(channel)}
                </option>
              ))}
            </Select>
            <Select aria-label={t('reminders.stepMessage', { n: index + 1 })} value={step.template} onChange={(event) => change(index, { template: event.target.value as ReminderTemplate })}>
              {TEMPLATES.map((template) => (
                <option key={template} value={template}>
                  {templateLabel(template)}
                </option>
              ))}
            </Select>
            <Button size="sm" onClick={() => setSteps((all) => all.filter((_, i) => i !== index))} aria-label={t('reminders.removeStep', { n: index + 1 })}>
              {t('reminders.remove')}
            </Button>
          </li>
        ))}
      </ul>
      <Button size="sm" onClick={() => setSteps((all) => [...all, { offset: '14', channel: 'email', template: 'overdue' }])} disabled={steps.length >= 20}>
        {t('reminders.addStep')}
      </Button>
      <label className="flex items-center gap-2 text-sm text-slate-700">
        <input type="checkbox" checked={enabled} onChange={(event) => setEnabled(event.target.checked)} className="h-4 w-4 rounded border-slate-300" />
        {t('reminders.enabled')}
      </label>
      {invalid ?? serverText ? (
        <p className="text-sm text-rose-700" role="alert">
          {invalid ?? serverText}
        </p>
      ) : null}
      {mutation.isError ? (
        <Notice tone="error" onDismiss={() => mutation.reset()}>
          {problemText(mutation.error, t('reminders.saveFailed'))}
        </Notice>
      ) : null}
      <div className="flex gap-2">
        <Button type="submit" variant="primary" busy={mutation.isPending}>
          {t('reminders.save')}
        </Button>
        <Button onClick={onDone}>{t('reminders.cancel')}</Button>
      </div>
    </form>
  );
}
