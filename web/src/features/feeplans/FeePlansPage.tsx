import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { useSession } from '../../app/session';
import { fieldErrorsOf, translateAmountError } from '../../components/money';
import { Button, Card, EmptyState, ErrorState, Field, Input, Notice, PageHeader, SchoolOptions, Select, Skeleton, Table, td, tdNum, th, thNum } from '../../components/ui';
import { parseAmount } from '../../lib/amount';
import { ApiError } from '../../lib/api';
import { formatDate, formatMoney } from '../../lib/format';
import { translate, useT } from '../../lib/i18n';
import { refusalText } from '../../lib/problems';
import { useSearchParams } from '../../lib/router';
import { gradeOptionsQuery, schoolOptionsQuery, type SchoolOption } from '../../lib/schools';
import { createFeePlan, enrolGrade, feePlansQuery, renameFeePlan, type EarlyPaymentTerms, type FeePlan, type FeePlanItemInput, type Schedule } from './api';

/** A schedule as a person reads it: "10 × monthly from 5 Sept 2026", "Once, 15 Aug 2026". */
function scheduleText(schedule: Schedule): string {
  switch (schedule.kind) {
    case 'once':
      return translate('feePlans.onceOn', { date: formatDate(schedule.dueDate) });
    case 'monthly':
      return translate('feePlans.monthlyFrom', { count: schedule.count, date: formatDate(schedule.firstDue) });
    case 'termly':
      return translate('feePlans.termlyOn', { dates: schedule.dueDates.map(formatDate).join(', ') });
    case 'custom':
      return translate('feePlans.customOn', { dates: schedule.dueDates.map(formatDate).join(', ') });
  }
}

const problemText = (error: unknown) => (error instanceof ApiError ? refusalText(error) : translate('feePlans.failed'));

export function FeePlansPage() {
  const { t } = useT();
  const { can } = useSession();
  const schools = useQuery(schoolOptionsQuery());
  const [params, setParams] = useSearchParams();
  const schoolId = params.get('schoolId') ?? schools.data?.[0]?.id ?? '';
  const school = schools.data?.find((s) => s.id === schoolId);
  const plans = useQuery(feePlansQuery(schoolId));
  const writer = can('billing:write');
  return (
    <>
      <PageHeader title={t('feePlans.title')} subtitle={t('feePlans.subtitle')} />
      <div className="mb-4 max-w-md">
        <Field label={t('feePlans.school')}>
          <Select name="schoolId" value={schoolId} onChange={(event) => setParams({ schoolId: event.target.value })}>
            <SchoolOptions schools={schools.data} />
          </Select>
        </Field>
      </div>
      <div className="grid grid-cols-1 gap-6 lg:grid-cols-[minmax(0,2fr)_minmax(0,1fr)]">
        <div className="min-w-0 space-y-6">
          {schools.isPending || plans.isPending ? (
            <Skeleton rows={5} />
          ) : plans.isError ? (
            <ErrorState error={plans.error} onRetry={() => void plans.refetch()} />
          ) : plans.data.data.length === 0 ? (
            <EmptyState>{t('feePlans.none')}</EmptyState>
          ) : (
            plans.data.data.map((plan) => <PlanCard key={plan.id} plan={plan} school={school} writer={writer} />)
          )}
        </div>
        {writer && school ? <CreatePlanForm school={school} /> : null}
      </div>
    </>
  );
}

function PlanCard({ plan, school, writer }: { plan: FeePlan; school: SchoolOption | undefined; writer: boolean }) {
  const { t } = useT();
  const currency = school?.currency ?? '';
  const [renaming, setRenaming] = useState(false);
  return (
    <Card
      title={t('feePlans.planTitle', { name: plan.name, year: plan.academicYear })}
      testId="fee-plan"
      actions={
        writer && !renaming ? (
          <Button size="sm" onClick={() => setRenaming(true)} aria-label={t('feePlans.renameLabel', { name: plan.name })}>
            {t('feePlans.rename')}
          </Button>
        ) : null
      }
    >
      {renaming ? <RenamePlanForm plan={plan} onDone={() => setRenaming(false)} /> : null}
      <Table label={t('feePlans.itemsOf', { name: plan.name })}>
        <thead>
          <tr>
            <th className={th}>{t('feePlans.item')}</th>
            <th className={thNum}>{t('feePlans.amount')}</th>
            <th className={th}>{t('feePlans.schedule')}</th>
          </tr>
        </thead>
        <tbody>
          {plan.items.map((item) => (
            <tr key={item.code}>
              <td className={td}>
                <span className="font-medium text-slate-900">{item.description}</span> <span className="font-mono text-xs text-slate-600">{item.code}</span>
                {item.optional ? <span className="ml-1 text-xs text-slate-600">({t('feePlans.optional')})</span> : null}
              </td>
              <td className={tdNum}>{currency ? formatMoney(item.amount, currency) : item.amount}</td>
              <td className={`${td} whitespace-normal`}>{scheduleText(item.schedule)}</td>
            </tr>
          ))}
        </tbody>
      </Table>
      {plan.earlyPayment || plan.items.some((item) => item.earlyPayment) ? (
        <ul className="mt-3 space-y-1 text-sm text-slate-700" data-testid="early-payment-terms">
          {plan.earlyPayment ? <li>{t('feePlans.earlyPlan', { terms: describeEarly(plan.earlyPayment, currency) })}</li> : null}
          {plan.items
            .filter((item) => item.earlyPayment)
            .map((item) => (
              <li key={item.code}>
                {t('feePlans.earlyItem', { item: item.description, terms: item.earlyPayment ? describeEarly(item.earlyPayment, currency) : '' })}
              </li>
            ))}
        </ul>
      ) : null}
      {writer ? <EnrolGradeForm plan={plan} /> : null}
    </Card>
  );
}

/** The smallest plan edit: its name (PATCH /fee-plans/:id); the API's field error shows under the field. */
function RenamePlanForm({ plan, onDone }: { plan: FeePlan; onDone: () => void }) {
  const { t } = useT();
  const queryClient = useQueryClient();
  const [name, setName] = useState(plan.name);
  const mutation = useMutation({
    mutationFn: renameFeePlan,
    onSuccess: async () => {
      await queryClient.invalidateQueries({ queryKey: ['fee-plans'] });
      onDone();
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (!mutation.isPending) {
      mutation.mutate({ planId: plan.id, name: name.trim() });
    }
  };
  return (
    <form className="mb-4 grid grid-cols-1 items-end gap-3 border-b border-slate-100 pb-4 sm:grid-cols-[minmax(0,1fr)_auto_auto]" onSubmit={submit} noValidate aria-label={t('feePlans.renameLabel', { name: plan.name })} data-testid="rename-plan-form">
      <Field label={t('feePlans.name')} error={fieldErrorsOf(mutation.error).name ?? null}>
        <Input name="name" value={name} maxLength={200} onChange={(event) => setName(event.target.value)} autoComplete="off" />
      </Field>
      <Button type="submit" variant="primary" busy={mutation.isPending}>
        {t('feePlans.saveName')}
      </Button>
      <Button onClick={onDone}>{t('feePlans.cancel')}</Button>
      {mutation.isError ? (
        <div className="sm:col-span-3">
          <Notice tone="error" onDismiss={() => mutation.reset()}>
            {problemText(mutation.error)}
          </Notice>
        </div>
      ) : null}
    </form>
  );
}

/** "5 % off when paid in full by 5 days before the due date". */
function describeEarly(terms: EarlyPaymentTerms, currency: string): string {
  const off = terms.basis === 'percent' ? `${terms.value} %` : currency ? formatMoney(terms.value, currency) : String(terms.value);
  const by = terms.byDay === 0 ? translate('feePlans.earlyByDue') : translate(terms.byDay < 0 ? 'feePlans.earlyBefore' : 'feePlans.earlyAfter', { count: Math.abs(terms.byDay) });
  return translate('feePlans.earlyOff', { off, by });
}

function EnrolGradeForm({ plan }: { plan: FeePlan }) {
  const { t } = useT();
  const grades = useQuery(gradeOptionsQuery(plan.schoolId));
  const [grade, setGrade] = useState('');
  const [from, setFrom] = useState(plan.yearStart);
  const queryClient = useQueryClient();
  const mutation = useMutation({ mutationFn: enrolGrade, onSuccess: () => queryClient.invalidateQueries({ queryKey: ['fee-plans'] }) });
  const chosen = grade || grades.data?.data[0] || '';
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (!mutation.isPending && chosen) {
      mutation.mutate({ planId: plan.id, grade: chosen, from });
    }
  };
  return (
    <form className="mt-4 grid grid-cols-1 items-end gap-3 border-t border-slate-100 pt-4 sm:grid-cols-3" onSubmit={submit} noValidate aria-label={t('feePlans.enrolLabel', { name: plan.name })} data-testid="enrol-form">
      <Field label={t('feePlans.grade')}>
        <Select name="grade" value={chosen} onChange={(event) => setGrade(event.target.value)}>
          {(grades.data?.data ?? []).map((value) => (
            <option key={value} value={value}>
              {value}
            </option>
          ))}
        </Select>
      </Field>
      <Field label={t('feePlans.from')}>
        <Input name="from" type="date" value={from} min={plan.yearStart} max={plan.yearEnd} onChange={(event) => setFrom(event.target.value)} />
      </Field>
      <Button type="submit" busy={mutation.isPending}>
        {mutation.isPending ? t('feePlans.enrolling') : t('feePlans.enrol')}
      </Button>
      {mutation.isSuccess ? (
        <div className="sm:col-span-3">
          <Notice tone="success" onDismiss={() => mutation.reset()} testId="enrol-success">
            {t(mutation.data.skipped ? 'feePlans.enrolledSkipped' : 'feePlans.enrolled', { count: mutation.data.enrolled, skipped: mutation.data.skipped, grade: mutation.variables.grade })}
          </Notice>
        </div>
      ) : mutation.isError ? (
        <div className="sm:col-span-3">
          <Notice tone="error" onDismiss={() => mutation.reset()}>
            {problemText(mutation.error)}
          </Notice>
        </div>
      ) : null}
    </form>
  );
}

interface ItemDraft {
  code: string;
  description: string;
  amount: string;
  optional: boolean;
  kind: 'once' | 'monthly' | 'termly';
  dueDate: string;
  firstDue: string;
  count: string;
  dueDates: string;
}
const emptyItem = (): ItemDraft => ({ code: '', description: '', amount: '', optional: false, kind: 'monthly', dueDate: '', firstDue: '', count: '10', dueDates: '' });

function CreatePlanForm({ school }: { school: SchoolOption }) {
  const { t } = useT();
  const queryClient = useQueryClient();
  const [name, setName] = useState('');
  const [year, setYear] = useState('2026-2027');
  const [yearStart, setYearStart] = useState('2026-08-01');
  const [yearEnd, setYearEnd] = useState('2027-07-31');
  const [items, setItems] = useState<ItemDraft[]>([emptyItem()]);
  const [invalid, setInvalid] = useState<string | null>(null);
  const mutation = useMutation({
    mutationFn: createFeePlan,
    onSuccess: async () => {
      setName('');
      setItems([emptyItem()]);
      await queryClient.invalidateQueries({ queryKey: ['fee-plans'] });
    },
  });
  const update = (index: number, patch: Partial<ItemDraft>) => setItems((current) => current.map((item, i) => (i === index ? { ...item, ...patch } : item)));
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (mutation.isPending) {
      return;
    }
    mutation.reset();
    const built: FeePlanItemInput[] = [];
    const problems: string[] = [];
    items.forEach((item, index) => {
      const amount = parseAmount(item.amount, school.currency);
      if (!amount.ok) {
        problems.push(t('feePlans.itemProblem', { n: index + 1, problem: translateAmountError(amount.error) }));
        return;
      }
      const schedule: Schedule =
        item.kind === 'once'
          ? { kind: 'once', dueDate: item.dueDate }
          : item.kind === 'monthly'
            ? { kind: 'monthly', firstDue: item.firstDue, count: Number(item.count) }
            : { kind: 'termly', dueDates: item.dueDates.split(/[,\s]+/).filter(Boolean) };
      built.push({ code: item.code.trim(), description: item.description.trim(), amount: amount.minor, ...(item.optional ? { optional: true } : {}), schedule });
    });
    if (problems.length > 0 || !name.trim()) {
      setInvalid(problems.join(' ') || t('feePlans.fix'));
      return;
    }
    setInvalid(null);
    mutation.mutate({ schoolId: school.id, name: name.trim(), academicYear: year.trim(), yearStart, yearEnd, items: built });
  };
  return (
    <div className="order-first min-w-0 lg:order-last">
      <Card title={t('feePlans.create')} testId="fee-plan-form">
        <form className="space-y-3" onSubmit={submit} noValidate>
          <Field label={t('feePlans.name')}>
            <Input name="name" value={name} maxLength={200} autoComplete="off" onChange={(event) => setName(event.target.value)} />
          </Field>
          <div className="grid grid-cols-1 gap-3 sm:grid-cols-3 lg:grid-cols-1 xl:grid-cols-3">
            <Field label={t('feePlans.year')}>
              <Input name="academicYear" value={year} maxLength={20} onChange={(event) => setYear(event.target.value)} />
            </Field>
            <Field label={t('feePlans.yearStart')}>
              <Input name="yearStart" type="date" value={yearStart} onChange={(event) => setYearStart(event.target.value)} />
            </Field>
            <Field label={t('feePlans.yearEnd')}>
              <Input name="yearEnd" type="date" value={yearEnd} onChange={(event) => setYearEnd(event.target.value)} />
            </Field>
          </div>
          {items.map((item, index) => (
            <fieldset key={index} className="space-y-2 rounded-lg border border-slate-200 p-3" data-testid="item-draft">
              <legend className="px-1 text-xs font-semibold text-slate-700">{t('feePlans.itemN', { n: index + 1 })}</legend>
              <div className="grid grid-cols-2 gap-2">
                <Field label={t('feePlans.code')}>
                  <Input name={`code-${index}`} value={item.code} maxLength={40} onChange={(event) => update(index, { code: event.target.value })} />
                </Field>
                <Field label={t('feePlans.amountIn', { currency: school.currency })}>
                  <Input name={`amount-${index}`} inputMode="decimal" value={item.amount} onChange={(event) => update(index, { amount: event.target.value })} />
                </Field>
              </div>
              <Field label={t('feePlans.description')}>
                <Input name={`description-${index}`} value={item.description} maxLength={200} onChange={(event) => update(index, { description: event.target.value })} />
              </Field>
              <Field label={t('feePlans.schedule')}>
                <Select name={`kind-${index}`} value={item.kind} onChange={(event) => update(index, { kind: event.target.value as ItemDraft['kind'] })}>
                  <option value="once">{t('feePlans.once')}</option>
                  <option value="monthly">{t('feePlans.monthly')}</option>
                  <option value="termly">{t('feePlans.termly')}</option>
                </Select>
              </Field>
              {item.kind === 'once' ? (
                <Field label={t('feePlans.dueDate')}>
                  <Input name={`dueDate-${index}`} type="date" value={item.dueDate} onChange={(event) => update(index, { dueDate: event.target.value })} />
                </Field>
              ) : item.kind === 'monthly' ? (
                <div className="grid grid-cols-2 gap-2">
                  <Field label={t('feePlans.firstDue')}>
                    <Input name={`firstDue-${index}`} type="date" value={item.firstDue} onChange={(event) => update(index, { firstDue: event.target.value })} />
                  </Field>
                  <Field label={t('feePlans.count')}>
                    <Input name={`count-${index}`} type="number" min={1} max={24} value={item.count} onChange={(event) => update(index, { count: event.target.value })} />
                  </Field>
                </div>
              ) : (
                <Field label={t('feePlans.dueDates')}>
                  <Input name={`dueDates-${index}`} value={item.dueDates} placeholder="2026-09-05, 2027-01-10, 2027-04-05" onChange={(event) => update(index, { dueDates: event.target.value })} />
                </Field>
              )}
              <label className="flex items-center gap-2 text-sm text-slate-700">
                <input type="checkbox" checked={item.optional} onChange={(event) => update(index, { optional: event.target.checked })} />
                {t('feePlans.optionalItem')}
              </label>
              {items.length > 1 ? (
                <Button size="sm" variant="ghost" onClick={() => setItems((current) => current.filter((_, i) => i !== index))}>
                  {t('feePlans.removeItem', { n: index + 1 })}
                </Button>
              ) : null}
            </fieldset>
          ))}
          <Button size="sm" onClick={() => setItems((current) => [...current, emptyItem()])}>
            {t('feePlans.addItem')}
          </Button>
          {invalid ? (
            <Notice tone="error" onDismiss={() => setInvalid(null)}>
              {invalid}
            </Notice>
          ) : mutation.isError ? (
            <Notice tone="error" onDismiss={() => mutation.reset()} testId="fee-plan-error">
              {problemText(mutation.error)}
            </Notice>
          ) : mutation.isSuccess ? (
            <Notice tone="success" onDismiss={() => mutation.reset()} testId="fee-plan-success">
              {t('feePlans.created', { name: mutation.data.name })}
            </Notice>
          ) : null}
          <Button type="submit" variant="primary" className="w-full" busy={mutation.isPending}>
            {mutation.isPending ? t('feePlans.submitting') : t('feePlans.submit')}
          </Button>
        </form>
      </Card>
    </div>
  );
}
