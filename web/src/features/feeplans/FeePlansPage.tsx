import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { useSession } from '../../app/session';
import { fieldErrorsOf, translateAmountError } from '../../components/money';
import { Button, Card, EmptyState, ErrorState, Field, Input, Notice, PageHeader, SchoolOptions, Select, Skeleton, Table, td, tdNum, th, thNum } from '../../components/ui';
import { parseAmount } from '../../lib/amount';
import { ApiError } from '../../lib/api';
import { formatDate, formatMoney } from '../../lib/format';
import { useSearchParams } from '../../lib/router';
import { gradeOptionsQuery, schoolOptionsQuery, type SchoolOption } from '../../lib/schools';
import { createFeePlan, enrolGrade, feePlansQuery, renameFeePlan, type EarlyPaymentTerms, type FeePlan, type FeePlanItemInput, type Schedule } from './api';

/** Every string of this page, in one place (translated in issue 17). */
const T = {
  title: 'Fee plans',
  subtitle: 'What each school charges over the year, and who is enrolled in it.',
  school: 'School',
  plans: 'Plans',
  none: 'This school has no fee plans yet.',
  item: 'Item',
  amount: 'Amount',
  schedule: 'Schedule',
  optional: 'optional',
  once: 'Once',
  monthly: 'Monthly',
  termly: 'Termly',
  scheduleText: (s: Schedule) =>
    s.kind === 'once' ? `Once, ${formatDate(s.dueDate)}` : s.kind === 'monthly' ? `${s.count} × monthly from ${formatDate(s.firstDue)}` : `${s.kind === 'termly' ? 'Termly' : 'Custom'}: ${s.dueDates.map(formatDate).join(', ')}`,
  enrol: 'Enrol a grade',
  grade: 'Grade',
  from: 'From',
  fromHint: 'The first day billed: instalments due before it are not billed.',
  enrolSubmit: 'Enrol grade',
  enrolling: 'Enrolling…',
  enrolled: (n: number, skipped: number, grade: string) => `${n} student${n === 1 ? '' : 's'} of grade ${grade} enrolled${skipped ? `, ${skipped} already enrolled` : ''}.`,
  create: 'New fee plan',
  name: 'Plan name',
  year: 'Academic year',
  yearStart: 'Year starts',
  yearEnd: 'Year ends',
  items: 'Items',
  code: 'Code',
  description: 'Description',
  optionalItem: 'Optional (only enrolments that choose it)',
  kind: 'Schedule',
  dueDate: 'Due date',
  firstDue: 'First due',
  count: 'Instalments',
  dueDates: 'Due dates (YYYY-MM-DD, separated by commas)',
  addItem: 'Add an item',
  removeItem: (n: number) => `Remove item ${n}`,
  submit: 'Create plan',
  submitting: 'Creating…',
  created: (name: string) => `Fee plan ${name} created.`,
  fix: 'Fill in every field of the plan and its items.',
  itemN: (n: number) => `Item ${n}`,
  failed: 'The request failed.',
};

const problemText = (error: unknown) =>
  error instanceof ApiError ? `${error.message}${error.problem.errors?.length ? ` (${error.problem.errors.map((e) => `${e.field}: ${e.message}`).join('; ')})` : ''}` : T.failed;

export function FeePlansPage() {
  const { can } = useSession();
  const schools = useQuery(schoolOptionsQuery());
  const [params, setParams] = useSearchParams();
  const schoolId = params.get('schoolId') ?? schools.data?.[0]?.id ?? '';
  const school = schools.data?.find((s) => s.id === schoolId);
  const plans = useQuery(feePlansQuery(schoolId));
  const writer = can('billing:write');
  return (
    <>
      <PageHeader title={T.title} subtitle={T.subtitle} />
      <div className="mb-4 max-w-md">
        <Field label={T.school}>
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
            <EmptyState>{T.none}</EmptyState>
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
  const currency = school?.currency ?? '';
  const [renaming, setRenaming] = useState(false);
  return (
    <Card
      title={`${plan.name} · ${plan.academicYear}`}
      testId="fee-plan"
      actions={
        writer && !renaming ? (
          <Button size="sm" onClick={() => setRenaming(true)} aria-label={`Rename ${plan.name}`}>
            Rename
          </Button>
        ) : null
      }
    >
      {renaming ? <RenamePlanForm plan={plan} onDone={() => setRenaming(false)} /> : null}
      <Table label={`${T.items}: ${plan.name}`}>
        <thead>
          <tr>
            <th className={th}>{T.item}</th>
            <th className={thNum}>{T.amount}</th>
            <th className={th}>{T.schedule}</th>
          </tr>
        </thead>
        <tbody>
          {plan.items.map((item) => (
            <tr key={item.code}>
              <td className={td}>
                <span className="font-medium text-slate-900">{item.description}</span> <span className="font-mono text-xs text-slate-600">{item.code}</span>
                {item.optional ? <span className="ml-1 text-xs text-slate-600">({T.optional})</span> : null}
              </td>
              <td className={tdNum}>{currency ? formatMoney(item.amount, currency) : item.amount}</td>
              <td className={`${td} whitespace-normal`}>{T.scheduleText(item.schedule)}</td>
            </tr>
          ))}
        </tbody>
      </Table>
      {plan.earlyPayment || plan.items.some((item) => item.earlyPayment) ? (
        <ul className="mt-3 space-y-1 text-sm text-slate-700" data-testid="early-payment-terms">
          {plan.earlyPayment ? <li>Early payment: {describeEarly(plan.earlyPayment, currency)} (every item without its own terms).</li> : null}
          {plan.items
            .filter((item) => item.earlyPayment)
            .map((item) => (
              <li key={item.code}>
                Early payment on {item.description}: {item.earlyPayment ? describeEarly(item.earlyPayment, currency) : ''}.
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
    <form className="mb-4 grid grid-cols-1 items-end gap-3 border-b border-slate-100 pb-4 sm:grid-cols-[minmax(0,1fr)_auto_auto]" onSubmit={submit} noValidate aria-label={`Rename ${plan.name}`} data-testid="rename-plan-form">
      <Field label="Plan name" error={fieldErrorsOf(mutation.error).name ?? null}>
        <Input name="name" value={name} maxLength={200} onChange={(event) => setName(event.target.value)} autoComplete="off" />
      </Field>
      <Button type="submit" variant="primary" busy={mutation.isPending}>
        Save name
      </Button>
      <Button onClick={onDone}>Cancel</Button>
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
  const by = terms.byDay === 0 ? 'the due date' : `${Math.abs(terms.byDay)} ${Math.abs(terms.byDay) === 1 ? 'day' : 'days'} ${terms.byDay < 0 ? 'before' : 'after'} the due date`;
  return `${off} off when paid in full by ${by}`;
}

function EnrolGradeForm({ plan }: { plan: FeePlan }) {
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
    <form className="mt-4 grid grid-cols-1 items-end gap-3 border-t border-slate-100 pt-4 sm:grid-cols-3" onSubmit={submit} noValidate aria-label={`${T.enrol}: ${plan.name}`} data-testid="enrol-form">
      <Field label={T.grade}>
        <Select name="grade" value={chosen} onChange={(event) => setGrade(event.target.value)}>
          {(grades.data?.data ?? []).map((value) => (
            <option key={value} value={value}>
              {value}
            </option>
          ))}
        </Select>
      </Field>
      <Field label={T.from}>
        <Input name="from" type="date" value={from} min={plan.yearStart} max={plan.yearEnd} onChange={(event) => setFrom(event.target.value)} />
      </Field>
      <Button type="submit" busy={mutation.isPending}>
        {mutation.isPending ? T.enrolling : T.enrol}
      </Button>
      {mutation.isSuccess ? (
        <div className="sm:col-span-3">
          <Notice tone="success" onDismiss={() => mutation.reset()} testId="enrol-success">
            {T.enrolled(mutation.data.enrolled, mutation.data.skipped, mutation.variables.grade)}
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
        problems.push(`${T.itemN(index + 1)}: ${translateAmountError(amount.error)}`);
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
      setInvalid(problems.join(' ') || T.fix);
      return;
    }
    setInvalid(null);
    mutation.mutate({ schoolId: school.id, name: name.trim(), academicYear: year.trim(), yearStart, yearEnd, items: built });
  };
  return (
    <div className="order-first min-w-0 lg:order-last">
      <Card title={T.create} testId="fee-plan-form">
        <form className="space-y-3" onSubmit={submit} noValidate>
          <Field label={T.name}>
            <Input name="name" value={name} maxLength={200} autoComplete="off" onChange={(event) => setName(event.target.value)} />
          </Field>
          <div className="grid grid-cols-1 gap-3 sm:grid-cols-3 lg:grid-cols-1 xl:grid-cols-3">
            <Field label={T.year}>
              <Input name="academicYear" value={year} maxLength={20} onChange={(event) => setYear(event.target.value)} />
            </Field>
            <Field label={T.yearStart}>
              <Input name="yearStart" type="date" value={yearStart} onChange={(event) => setYearStart(event.target.value)} />
            </Field>
            <Field label={T.yearEnd}>
              <Input name="yearEnd" type="date" value={yearEnd} onChange={(event) => setYearEnd(event.target.value)} />
            </Field>
          </div>
          {items.map((item, index) => (
            <fieldset key={index} className="space-y-2 rounded-lg border border-slate-200 p-3" data-testid="item-draft">
              <legend className="px-1 text-xs font-semibold text-slate-700">{T.itemN(index + 1)}</legend>
              <div className="grid grid-cols-2 gap-2">
                <Field label={T.code}>
                  <Input name={`code-${index}`} value={item.code} maxLength={40} onChange={(event) => update(index, { code: event.target.value })} />
                </Field>
                <Field label={`${T.amount} (${school.currency})`}>
                  <Input name={`amount-${index}`} inputMode="decimal" value={item.amount} onChange={(event) => update(index, { amount: event.target.value })} />
                </Field>
              </div>
              <Field label={T.description}>
                <Input name={`description-${index}`} value={item.description} maxLength={200} onChange={(event) => update(index, { description: event.target.value })} />
              </Field>
              <Field label={T.kind}>
                <Select name={`kind-${index}`} value={item.kind} onChange={(event) => update(index, { kind: event.target.value as ItemDraft['kind'] })}>
                  <option value="once">{T.once}</option>
                  <option value="monthly">{T.monthly}</option>
                  <option value="termly">{T.termly}</option>
                </Select>
              </Field>
              {item.kind === 'once' ? (
                <Field label={T.dueDate}>
                  <Input name={`dueDate-${index}`} type="date" value={item.dueDate} onChange={(event) => update(index, { dueDate: event.target.value })} />
                </Field>
              ) : item.kind === 'monthly' ? (
                <div className="grid grid-cols-2 gap-2">
                  <Field label={T.firstDue}>
                    <Input name={`firstDue-${index}`} type="date" value={item.firstDue} onChange={(event) => update(index, { firstDue: event.target.value })} />
                  </Field>
                  <Field label={T.count}>
                    <Input name={`count-${index}`} type="number" min={1} max={24} value={item.count} onChange={(event) => update(index, { count: event.target.value })} />
                  </Field>
                </div>
              ) : (
                <Field label={T.dueDates}>
                  <Input name={`dueDates-${index}`} value={item.dueDates} placeholder="2026-09-05, 2027-01-10, 2027-04-05" onChange={(event) => update(index, { dueDates: event.target.value })} />
                </Field>
              )}
              <label className="flex items-center gap-2 text-sm text-slate-700">
                <input type="checkbox" checked={item.optional} onChange={(event) => update(index, { optional: event.target.checked })} />
                {T.optionalItem}
              </label>
              {items.length > 1 ? (
                <Button size="sm" variant="ghost" onClick={() => setItems((current) => current.filter((_, i) => i !== index))}>
                  {T.removeItem(index + 1)}
                </Button>
              ) : null}
            </fieldset>
          ))}
          <Button size="sm" onClick={() => setItems((current) => [...current, emptyItem()])}>
            {T.addItem}
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
              {T.created(mutation.data.name)}
            </Notice>
          ) : null}
          <Button type="submit" variant="primary" className="w-full" busy={mutation.isPending}>
            {mutation.isPending ? T.submitting : T.submit}
          </Button>
        </form>
      </Card>
    </div>
  );
}
