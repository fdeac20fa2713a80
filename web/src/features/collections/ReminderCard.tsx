import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { useSession } from '../../app/session';
import { fieldErrorsOf, problemText } from '../../components/money';
import { Button, Card, ErrorState, Input, Notice, Select, Skeleton } from '../../components/ui';
import { Link } from '../../lib/router';
import { putReminderPolicy, reminderPolicyQuery, type ReminderChannel, type ReminderPolicy, type ReminderStep, type ReminderTemplate } from './api';
import { CHANNELS, channelLabel, templateLabel, TEMPLATES } from './Messages';

/**
 * A school's reminder steps on its page (SPEC §8): each step in one line ("3 days before
 * the due date · E-mail · Upcoming payment"), and an editor of steps (billing:write).
 */
export function describeOffset(days: number): string {
  if (days === 0) {
    return 'On the due date';
  }
  const n = Math.abs(days);
  return `${n} ${n === 1 ? 'day' : 'days'} ${days < 0 ? 'before' : 'after'} the due date`;
}



const SUGGESTED: ReminderStep[] = [
  { offsetDays: -3, channel: 'email', template: 'upcoming' },
  { offsetDays: 0, channel: 'email', template: 'due' },
  { offsetDays: 7, channel: 'email', template: 'overdue' },
  { offsetDays: 21, channel: 'email', template: 'final_notice' },
];

export function ReminderCard({ schoolId }: { schoolId: string }) {
  const { can } = useSession();
  const policy = useQuery(reminderPolicyQuery(schoolId));
  const [editing, setEditing] = useState(false);
  const mayChange = can('billing:write');

  if (policy.isPending) {
    return (
      <Card title="Reminders">
        <Skeleton rows={2} />
      </Card>
    );
  }
  if (policy.isError) {
    return (
      <Card title="Reminders">
        <ErrorState error={policy.error} onRetry={() => void policy.refetch()} />
      </Card>
    );
  }
  const current = policy.data;
  return (
    <Card
      title="Reminders"
      testId="reminders"
      actions={
        mayChange && !editing ? (
          <Button size="sm" onClick={() => setEditing(true)}>
            {current ? 'Change' : 'Set up reminders'}
          </Button>
        ) : null
      }
    >
      {current === null || current.steps.length === 0 ? (
        <p className="text-sm text-slate-700">This school sends no payment reminders.</p>
      ) : (
        <>
          {!current.enabled ? <p className="text-sm font-medium text-amber-800">Switched off: no reminder goes out.</p> : null}
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
        Each step goes once per invoice to the guardians who pay it, in their language, with the amount, the family reference and a pay link. Without a mail
        or SMS server configured, reminders wait in the <Link to="/outbox" className="text-indigo-700 underline">outbox</Link>.
      </p>
      {editing ? <StepsForm schoolId={schoolId} current={current} onDone={() => setEditing(false)} /> : null}
    </Card>
  );
}

function StepsForm({ schoolId, current, onDone }: { schoolId: string; current: ReminderPolicy | null; onDone: () => void }) {
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
        setInvalid(`Step ${index + 1}: enter whole days from −90 (before the due date) to 365 (after).`);
        return;
      }
      if (parsed.some((other) => other.offsetDays === offset && other.channel === step.channel)) {
        setInvalid(`Step ${index + 1}: there is already a ${channelLabel(step.channel)} step on that day.`);
        return;
      }
      parsed.push({ offsetDays: offset, channel: step.channel, template: step.template });
    }
    setInvalid(null);
    mutation.mutate({ steps: parsed, enabled });
  };
  const serverFields = fieldErrorsOf(mutation.error);
  return (
    <form className="mt-4 space-y-3" onSubmit={submit} noValidate data-testid="reminder-form">
      <p className="text-xs text-slate-600">Days: negative before the due date, 0 on it, positive after.</p>
      <ul className="space-y-2">
        {steps.map((step, index) => (
          <li key={index} className="grid grid-cols-[5rem_minmax(0,1fr)] gap-2 sm:grid-cols-[5rem_minmax(0,1fr)_minmax(0,1fr)_auto]" data-testid="reminder-step">
            <Input aria-label={`Step ${index + 1}: days from the due date`} inputMode="numeric" value={step.offset} onChange={(event) => change(index, { offset: event.target.value })} />
            <Select aria-label={`Step ${index + 1}: channel`} value={step.channel} onChange={(event) => change(index, { channel: event.target.value as ReminderChannel })}>
              {CHANNELS.map((channel) => (
                <option key={channel} value={channel}>
                  {channelLabel(channel)}
                </option>
              ))}
            </Select>
            <Select aria-label={`Step ${index + 1}: message`} value={step.template} onChange={(event) => change(index, { template: event.target.value as ReminderTemplate })}>
              {TEMPLATES.map((template) => (
                <option key={template} value={template}>
                  {templateLabel(template)}
                </option>
              ))}
            </Select>
            <Button size="sm" onClick={() => setSteps((all) => all.filter((_, i) => i !== index))} aria-label={`Remove step ${index + 1}`}>
              Remove
            </Button>
          </li>
        ))}
      </ul>
      <Button size="sm" onClick={() => setSteps((all) => [...all, { offset: '14', channel: 'email', template: 'overdue' }])} disabled={steps.length >= 20}>
        Add a step
      </Button>
      <label className="flex items-center gap-2 text-sm text-slate-700">
        <input type="checkbox" checked={enabled} onChange={(event) => setEnabled(event.target.checked)} className="h-4 w-4 rounded border-slate-300" />
        Send reminders
      </label>
      {invalid ?? Object.values(serverFields)[0] ? (
        <p className="text-sm text-rose-700" role="alert">
          {invalid ?? Object.values(serverFields)[0]}
        </p>
      ) : null}
      {mutation.isError ? (
        <Notice tone="error" onDismiss={() => mutation.reset()}>
          {problemText(mutation.error, 'The reminders could not be saved; try again.')}
        </Notice>
      ) : null}
      <div className="flex gap-2">
        <Button type="submit" variant="primary" busy={mutation.isPending}>
          Save reminders
        </Button>
        <Button onClick={onDone}>Cancel</Button>
      </div>
    </form>
  );
}
