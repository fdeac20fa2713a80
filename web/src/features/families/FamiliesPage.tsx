import { translate, useT } from '../../lib/i18n';
import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useRef, useState, type FormEvent } from 'react';
import { useSession } from '../../app/session';
import { Button, Card, EmptyState, ErrorState, Field, Input, LoadMore, Notice, PageHeader, SchoolOptions, Select, Skeleton, Table, td, th } from '../../components/ui';
import { refusalText } from '../../lib/problems';
import { ApiError } from '../../lib/api';
import { Link, useNavigate, useSearchParams } from '../../lib/router';
import { schoolOptionsQuery } from '../../lib/schools';
import { createFamily, familiesQuery } from './api';

/** This page's strings (lib/strings), read in the current language each time. */
const T = {
  get title() {
    return translate('families.title');
  },
  get subtitle() {
    return translate('families.subtitle');
  },
  get school() {
    return translate('families.school');
  },
  get search() {
    return translate('families.search');
  },
  get searchHint() {
    return translate('families.searchHint');
  },
  get searchHintMasked() {
    return translate('families.searchHintMasked');
  },
  get list() {
    return translate('families.list');
  },
  get family() {
    return translate('families.family');
  },
  get reference() {
    return translate('families.reference');
  },
  get language() {
    return translate('families.language');
  },
  get none() {
    return translate('families.none');
  },
  get noneYet() {
    return translate('families.noneYet');
  },
  get create() {
    return translate('families.create');
  },
  get name() {
    return translate('families.name');
  },
  get nameHint() {
    return translate('families.nameHint');
  },
  get guardianFirst() {
    return translate('families.guardianFirst');
  },
  get guardianLast() {
    return translate('families.guardianLast');
  },
  get guardianEmail() {
    return translate('families.guardianEmail');
  },
  get guardianOptional() {
    return translate('families.guardianOptional');
  },
  language_: (code: string) => translate(`families.languages.${code}`, { defaultValue: code }),
  get submit() {
    return translate('families.submit');
  },
  get submitting() {
    return translate('families.submitting');
  },
  get required() {
    return translate('families.required');
  },
  get guardianBoth() {
    return translate('families.guardianBoth');
  },
  get failed() {
    return translate('families.failed');
  },
};

export function FamiliesPage() {
  useT();
  const { can, me } = useSession();
  const schools = useQuery(schoolOptionsQuery());
  const [params, setParams] = useSearchParams();
  const schoolId = params.get('schoolId') ?? schools.data?.[0]?.id ?? '';
  const q = params.get('q') ?? '';
  const [search, setSearch] = useState(q);
  // The search is applied as the user pauses typing (the URL keeps it for Back and reload).
  useEffect(() => {
    const timer = setTimeout(() => setParams({ q: search.trim() }), 300);
    return () => clearTimeout(timer);
  }, [search, setParams]);
  const families = useInfiniteQuery(familiesQuery(schoolId, q));
  const rows = families.data?.pages.flatMap((page) => page.data) ?? [];
  const list = useRef<HTMLTableSectionElement>(null);
  const masked = me?.pii === 'masked';

  return (
    <>
      <PageHeader title={T.title} subtitle={T.subtitle} />
      <div className="grid grid-cols-1 gap-6 lg:grid-cols-[minmax(0,2fr)_minmax(0,1fr)]">
        <div className="min-w-0 space-y-4">
          <div className="grid grid-cols-1 gap-3 sm:grid-cols-2">
            <Field label={T.school}>
              <Select name="schoolId" value={schoolId} onChange={(event) => setParams({ schoolId: event.target.value })}>
                <SchoolOptions schools={schools.data} />
              </Select>
            </Field>
            <Field label={T.search} hint={masked ? T.searchHintMasked : T.searchHint}>
              <Input name="q" type="search" value={search} maxLength={100} autoComplete="off" onChange={(event) => setSearch(event.target.value)} />
            </Field>
          </div>
          <Card title={T.list}>
            {schools.isPending || families.isPending ? (
              <Skeleton rows={5} />
            ) : schools.isError ? (
              <ErrorState error={schools.error} onRetry={() => void schools.refetch()} />
            ) : families.isError ? (
              <ErrorState error={families.error} onRetry={() => void families.refetch()} />
            ) : rows.length === 0 ? (
              <EmptyState>{q ? T.none : T.noneYet}</EmptyState>
            ) : (
              <>
                <Table label={T.list} stickyFirst>
                  <thead>
                    <tr>
                      <th className={th}>{T.family}</th>
                      <th className={th}>{T.reference}</th>
                      <th className={th}>{T.language}</th>
                    </tr>
                  </thead>
                  <tbody ref={list} data-testid="families-table">
                    {rows.map((family) => (
                      <tr key={family.id} data-row tabIndex={-1} className="focus:outline-none focus-visible:bg-indigo-50">
                        <td className={td}>
                          <Link to={`/families/${family.id}`} className="font-medium text-indigo-700 hover:underline" data-testid="family-link">
                            {family.name}
                          </Link>
                        </td>
                        <td className={`${td} font-mono text-xs`}>{family.reference}</td>
                        <td className={td}>{T.language_(family.preferredLanguage)}</td>
                      </tr>
                    ))}
                  </tbody>
                </Table>
                <LoadMore shown={rows.length} noun={(count) => translate('families.noun', { count })} hasNextPage={families.hasNextPage} loading={families.isFetchingNextPage} onLoad={() => families.fetchNextPage()} list={list} />
              </>
            )}
          </Card>
        </div>
        {can('billing:write') && schoolId ? <CreateFamilyForm schoolId={schoolId} /> : null}
      </div>
    </>
  );
}

function CreateFamilyForm({ schoolId }: { schoolId: string }) {
  useT();
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const [name, setName] = useState('');
  const [language, setLanguage] = useState<'es' | 'en'>('es');
  const [first, setFirst] = useState('');
  const [last, setLast] = useState('');
  const [email, setEmail] = useState('');
  const [invalid, setInvalid] = useState<{ field: 'name' | 'guardian'; message: string } | null>(null);
  const nameInput = useRef<HTMLInputElement>(null);
  const firstInput = useRef<HTMLInputElement>(null);
  const mutation = useMutation({
    mutationFn: createFamily,
    onSuccess: async (family) => {
      await queryClient.invalidateQueries({ queryKey: ['families'] });
      navigate(`/families/${family.id}`);
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (mutation.isPending) {
      return;
    }
    mutation.reset();
    if (!name.trim()) {
      setInvalid({ field: 'name', message: T.required });
      nameInput.current?.focus();
      return;
    }
    if (Boolean(first.trim()) !== Boolean(last.trim())) {
      setInvalid({ field: 'guardian', message: T.guardianBoth });
      firstInput.current?.focus();
      return;
    }
    setInvalid(null);
    mutation.mutate({
      schoolId,
      name: name.trim(),
      preferredLanguage: language,
      ...(first.trim()
        ? { guardians: [{ firstName: first.trim(), lastName: last.trim(), isPrimary: true, ...(email.trim() ? { email: email.trim() } : {}) }] }
        : {}),
    });
  };
  const serverError = mutation.error instanceof ApiError ? mutation.error : null;
  return (
    <div className="order-first min-w-0 lg:order-last">
      <Card title={T.create} testId="family-form">
        <form className="space-y-3" onSubmit={submit} noValidate>
          <Field label={T.name} hint={T.nameHint} error={invalid?.field === 'name' ? invalid.message : null}>
            <Input ref={nameInput} name="name" value={name} maxLength={200} autoComplete="off" onChange={(event) => setName(event.target.value)} required />
          </Field>
          <Field label={T.language}>
            <Select name="preferredLanguage" value={language} onChange={(event) => setLanguage(event.target.value === 'en' ? 'en' : 'es')}>
              <option value="es">{T.language_('es')}</option>
              <option value="en">{T.language_('en')}</option>
            </Select>
          </Field>
          <Field label={T.guardianFirst} hint={T.guardianOptional} error={invalid?.field === 'guardian' ? invalid.message : null}>
            <Input ref={firstInput} name="guardianFirstName" value={first} maxLength={100} autoComplete="off" onChange={(event) => setFirst(event.target.value)} />
          </Field>
          <Field label={T.guardianLast}>
            <Input name="guardianLastName" value={last} maxLength={100} autoComplete="off" onChange={(event) => setLast(event.target.value)} />
          </Field>
          <Field label={T.guardianEmail}>
            <Input name="guardianEmail" type="email" value={email} maxLength={254} autoComplete="off" onChange={(event) => setEmail(event.target.value)} />
          </Field>
          {mutation.isError ? (
            <Notice tone="error" onDismiss={() => mutation.reset()} testId="family-error">
              {T.failed} {serverError ? refusalText(serverError) : ''}
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
