import { useMutation, useQuery } from '@tanstack/react-query';
import { useEffect, useRef, useState, type FormEvent } from 'react';
import { useSession } from '../../app/session';
import { Button, Card, cx, EmptyState, ErrorState, Field, Input, PageHeader, Select, Skeleton, Spinner } from '../../components/ui';
import { formatMoney } from '../../lib/format';
import { useLanguage, useT } from '../../lib/i18n';
import {
  askAssistant,
  assistantStatusQuery,
  messageQuery,
  riskQuery,
  studentSearchQuery,
  type Channel,
  type ChatAnswer,
  type Language,
  type Provenance,
  type RiskAnalysis,
  type StudentOption,
  type Tone,
} from './api';

/**
 * The collection assistant: ask questions about billing (chat), pick a student to see
 * their payment risk, and preview a collection message to copy into e-mail, SMS or
 * WhatsApp. Everything comes from the server already scoped and masked for the role.
 */
export function AssistantPage() {
  const { t } = useT();
  const [student, setStudent] = useState<StudentOption | null>(null);
  return (
    <>
      <PageHeader title={t('assistant.title')} subtitle={t('assistant.subtitle')} actions={<ProviderBadge />} />
      <div className="grid grid-cols-1 items-start gap-6 lg:grid-cols-2">
        <Chat />
        <div className="min-w-0 space-y-6">
          <StudentPicker selected={student} onSelect={setStudent} />
          {student ? (
            <>
              <RiskCard student={student} />
              <MessagePreview student={student} />
            </>
          ) : null}
        </div>
      </div>
    </>
  );
}

function ProviderBadge() {
  const { t } = useT();
  const status = useQuery(assistantStatusQuery());
  if (!status.data) {
    return null;
  }
  const { provider, model, healthy } = status.data;
  const label = provider === 'llm' ? t('assistant.model', { model: model ?? '?' }) : t('assistant.rules');
  return (
    <span
      className={cx('inline-flex items-center gap-2 rounded-full px-3 py-1 text-xs font-medium ring-1 ring-inset', healthy ? 'bg-emerald-50 text-emerald-700 ring-emerald-600/20' : 'bg-amber-50 text-amber-800 ring-amber-600/20')}
      data-testid="assistant-provider"
      title={status.data.lastError ?? t('assistant.rate', { count: status.data.rateLimitPerMinute })}
    >
      <span className={cx('h-2 w-2 rounded-full', healthy ? 'bg-emerald-500' : 'bg-amber-500')} aria-hidden />
      {label}
      {!healthy ? t('assistant.unhealthy') : ''}
    </span>
  );
}

function ProvenanceNote({ value }: { value: Provenance }) {
  const { t } = useT();
  const reason = value.fallbackReason ? t(`assistant.reasons.${value.fallbackReason}`, { defaultValue: value.fallbackReason }) : null;
  return (
    <span className="text-xs text-slate-600" data-testid="generated-by">
      {value.generatedBy === 'llm' ? t('assistant.byAi') : t('assistant.byRules')}
      {reason ? ` (${reason})` : ''}
    </span>
  );
}

// --- Chat ---------------------------------------------------------------------------

interface Turn {
  id: number;
  question: string;
  answer?: ChatAnswer;
  error?: unknown;
}

/** Example questions, sent as they are: the assistant reads English and Spanish alike. */
const SUGGESTIONS = ['Who are the top debtors?', 'Who is overdue?', 'What is the collection rate this month?', 'Compare schools', '¿Quiénes son los mayores deudores?'];

function Chat() {
  const { t } = useT();
  const [turns, setTurns] = useState<Turn[]>([]);
  const [draft, setDraft] = useState('');
  const nextId = useRef(1);
  const end = useRef<HTMLDivElement>(null);
  const ask = useMutation({ mutationFn: askAssistant });

  useEffect(() => {
    end.current?.scrollIntoView?.({ block: 'nearest' });
  }, [turns]);

  const send = (question: string) => {
    const text = question.trim();
    if (!text || ask.isPending) {
      return;
    }
    const id = nextId.current++;
    setTurns((current) => [...current, { id, question: text }]);
    setDraft('');
    ask.mutate(text, {
      onSuccess: (answer) => setTurns((current) => current.map((turn) => (turn.id === id ? { ...turn, answer } : turn))),
      onError: (error) => setTurns((current) => current.map((turn) => (turn.id === id ? { ...turn, error } : turn))),
    });
  };
  const submit = (event: FormEvent) => {
    event.preventDefault();
    send(draft);
  };

  return (
    <Card title={t('assistant.chat')} className="flex flex-col" testId="assistant-chat">
      <div className="mb-4 flex max-h-[28rem] min-h-[12rem] flex-col gap-3 overflow-y-auto" data-testid="chat-messages" aria-live="polite">
        {turns.length === 0 ? (
          <div className="text-sm text-slate-600">
            <p className="mb-2">{t('assistant.examples')}</p>
            <div className="flex flex-wrap gap-2">
              {SUGGESTIONS.map((suggestion) => (
                <Button key={suggestion} size="sm" variant="ghost" className="ring-1 ring-slate-200" onClick={() => send(suggestion)}>
                  {suggestion}
                </Button>
              ))}
            </div>
          </div>
        ) : (
          turns.map((turn) => (
            <div key={turn.id} className="space-y-2">
              <div className="ml-auto max-w-[85%] rounded-lg bg-indigo-600 px-3 py-2 text-sm text-white" data-testid="chat-question">
                {turn.question}
              </div>
              {turn.answer ? (
                <div className="max-w-[95%] rounded-lg bg-slate-100 px-3 py-2 text-sm text-slate-800" data-testid="chat-answer">
                  <p className="whitespace-pre-line">{turn.answer.answer}</p>
                  <div className="mt-1">
                    <ProvenanceNote value={turn.answer} />
                  </div>
                </div>
              ) : turn.error ? (
                <ErrorState error={turn.error} title={t('assistant.couldNotAnswer')} />
              ) : (
                <Spinner label={t('assistant.thinking')} />
              )}
            </div>
          ))
        )}
        <div ref={end} />
      </div>
      <form className="flex gap-2" onSubmit={submit} aria-label={t('assistant.askForm')}>
        <Input
          value={draft}
          onChange={(event) => setDraft(event.target.value)}
          placeholder={t('assistant.placeholder')}
          aria-label={t('assistant.question')}
          maxLength={1000}
          className="min-w-0 flex-1"
          data-testid="chat-input"
        />
        <Button type="submit" variant="primary" disabled={ask.isPending || draft.trim() === ''}>
          {ask.isPending ? t('assistant.asking') : t('assistant.ask')}
        </Button>
      </form>
    </Card>
  );
}

// --- Student picker, risk and message ------------------------------------------------------

function StudentPicker({ selected, onSelect }: { selected: StudentOption | null; onSelect: (student: StudentOption) => void }) {
  const { t } = useT();
  const { me } = useSession();
  const masked = me?.pii === 'masked';
  const [q, setQ] = useState('');
  const [debounced, setDebounced] = useState('');
  useEffect(() => {
    const timer = setTimeout(() => setDebounced(q), 250);
    return () => clearTimeout(timer);
  }, [q]);
  const search = useQuery(studentSearchQuery(debounced));
  const rows = search.data?.data ?? [];
  return (
    <Card title={t('assistant.student')} testId="student-picker">
      <Field label={masked ? t('assistant.searchMasked') : t('assistant.search')} hint={search.data?.matchedBy === 'balance' ? t('assistant.largest') : undefined}>
        <Input value={q} onChange={(event) => setQ(event.target.value)} placeholder={masked ? t('assistant.schoolName') : t('assistant.example')} data-testid="student-search" name="student-search" />
      </Field>
      <div className="mt-3">
        {search.isPending ? (
          <Skeleton rows={3} />
        ) : search.isError ? (
          <ErrorState error={search.error} onRetry={() => void search.refetch()} />
        ) : rows.length === 0 ? (
          <EmptyState>{t('assistant.noStudents')}</EmptyState>
        ) : (
          <ul className="divide-y divide-slate-100" aria-label={t('assistant.students')}>
            {rows.map((row) => (
              <li key={row.studentId}>
                <button
                  type="button"
                  onClick={() => onSelect(row)}
                  aria-pressed={selected?.studentId === row.studentId}
                  className={cx(
                    'flex w-full items-center justify-between gap-3 rounded px-2 py-2 text-left text-sm hover:bg-slate-50 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500',
                    selected?.studentId === row.studentId && 'bg-indigo-50',
                  )}
                  data-testid="student-option"
                >
                  <span className="min-w-0">
                    <span className="font-medium text-slate-800">{row.studentName}</span>
                    <span className="ml-2 text-xs text-slate-600">
                      {t('assistant.schoolGrade', { school: row.schoolName, grade: row.grade })}
                    </span>
                  </span>
                  <span className="shrink-0 tabular-nums text-slate-700">{formatMoney(row.balance, row.currency)}</span>
                </button>
              </li>
            ))}
          </ul>
        )}
      </div>
    </Card>
  );
}

const LEVEL_TONES: Record<RiskAnalysis['riskLevel'], string> = {
  LOW: 'bg-emerald-50 text-emerald-700 ring-emerald-600/20',
  MEDIUM: 'bg-amber-50 text-amber-800 ring-amber-600/20',
  HIGH: 'bg-rose-50 text-rose-700 ring-rose-600/20',
};

function RiskCard({ student }: { student: StudentOption }) {
  const { t } = useT();
  // The analysis starts in the dashboard's language; the select asks the server for the other.
  const [language, setLanguage] = useState<Language>(useLanguage());
  const risk = useQuery(riskQuery(student.studentId, language));
  return (
    <Card
      title={t('assistant.risk', { name: student.studentName })}
      testId="risk-card"
      actions={
        <div className="w-32">
          <Select value={language} onChange={(event) => setLanguage(event.target.value as Language)} aria-label={t('assistant.riskLanguage')}>
            <option value="en">English</option>
            <option value="es">Español</option>
          </Select>
        </div>
      }
    >
      {risk.isPending ? (
        <Skeleton rows={5} />
      ) : risk.isError ? (
        <ErrorState error={risk.error} onRetry={() => void risk.refetch()} />
      ) : (
        <div className="space-y-4">
          <div className="flex flex-wrap items-center gap-4">
            <span className={cx('rounded-md px-2.5 py-1 text-sm font-semibold ring-1 ring-inset', LEVEL_TONES[risk.data.riskLevel])} data-testid="risk-level">
              {t(`assistant.level.${risk.data.riskLevel}`)}
            </span>
            <span className="text-2xl font-semibold tabular-nums text-slate-900" data-testid="risk-score">
              {risk.data.riskScore}
              <span className="text-sm font-normal text-slate-500">/100</span>
            </span>
            <span className="text-sm text-slate-600">
              {t('assistant.onTime')} <strong className="tabular-nums">{Math.round(risk.data.predictedPaymentProbability * 100)}%</strong>
            </span>
            <ProvenanceNote value={risk.data} />
          </div>
          <p className="text-sm text-slate-700" data-testid="risk-summary">
            {risk.data.summary}
          </p>
          <div>
            <h3 className="mb-1 text-xs font-semibold uppercase tracking-wide text-slate-500">{t('assistant.suggested')}</h3>
            <p className="text-sm text-slate-800">{risk.data.suggestedAction}</p>
          </div>
          <details className="text-sm" open>
            <summary className="cursor-pointer text-xs font-semibold uppercase tracking-wide text-slate-500">{t('assistant.factors')}</summary>
            <ul className="mt-2 space-y-1" data-testid="risk-factors">
              {risk.data.riskFactors.map((factor) => (
                <li key={factor.code} className="flex gap-3">
                  <span className={cx('w-12 shrink-0 text-right tabular-nums font-medium', factor.points > 0 ? 'text-rose-700' : factor.points < 0 ? 'text-emerald-700' : 'text-slate-600')}>
                    {factor.points > 0 ? `+${factor.points}` : factor.points}
                  </span>
                  <span>
                    <span className="font-medium text-slate-800">{factor.label}</span> <span className="text-slate-600">{factor.detail}</span>
                  </span>
                </li>
              ))}
            </ul>
          </details>
          <div>
            <h3 className="mb-1 text-xs font-semibold uppercase tracking-wide text-slate-500">{t('assistant.recommendations')}</h3>
            <ul className="list-disc space-y-1 pl-5 text-sm text-slate-700">
              {risk.data.recommendations.map((text) => (
                <li key={text}>{text}</li>
              ))}
            </ul>
          </div>
        </div>
      )}
    </Card>
  );
}

async function copyText(text: string): Promise<void> {
  if (navigator.clipboard && window.isSecureContext) {
    await navigator.clipboard.writeText(text);
    return;
  }
  // Plain-HTTP deployments have no Clipboard API: a hidden textarea and execCommand.
  const area = document.createElement('textarea');
  area.value = text;
  area.setAttribute('readonly', '');
  area.style.position = 'fixed';
  area.style.opacity = '0';
  document.body.append(area);
  area.select();
  const copied = document.execCommand('copy');
  area.remove();
  if (!copied) {
    throw new Error('copy is not available in this browser');
  }
}

function MessagePreview({ student }: { student: StudentOption }) {
  const { t } = useT();
  const [channel, setChannel] = useState<Channel>('email');
  const [language, setLanguage] = useState<Language>('es');
  const [tone, setTone] = useState<Tone>('friendly');
  const [copied, setCopied] = useState<'idle' | 'done' | 'failed'>('idle');
  const message = useQuery(messageQuery(student.studentId, { channel, language, tone }));
  useEffect(() => setCopied('idle'), [student.studentId, channel, language, tone]);

  const copy = async () => {
    if (!message.data) {
      return;
    }
    try {
      await copyText(message.data.subject ? `${message.data.subject}\n\n${message.data.body}` : message.data.body);
      setCopied('done');
    } catch {
      setCopied('failed');
    }
  };

  return (
    <Card
      title={t('assistant.message')}
      testId="message-preview"
      actions={
        <Button size="sm" onClick={() => void copy()} disabled={!message.data || message.data.nothingToCollect} data-testid="copy-message">
          {copied === 'done' ? t('assistant.copied') : copied === 'failed' ? t('assistant.copyFailed') : t('assistant.copy')}
        </Button>
      }
    >
      <form className="mb-4 grid grid-cols-1 gap-3 min-[480px]:grid-cols-3" onSubmit={(event) => event.preventDefault()} aria-label={t('assistant.options')}>
        <Field label={t('assistant.channel')}>
          <Select value={channel} onChange={(event) => setChannel(event.target.value as Channel)} name="channel">
            <option value="email">{t('messages.channel.email')}</option>
            <option value="sms">SMS</option>
            <option value="whatsapp">WhatsApp</option>
          </Select>
        </Field>
        <Field label={t('assistant.language')}>
          <Select value={language} onChange={(event) => setLanguage(event.target.value as Language)} name="language">
            <option value="es">Español</option>
            <option value="en">English</option>
          </Select>
        </Field>
        <Field label={t('assistant.tone')}>
          <Select value={tone} onChange={(event) => setTone(event.target.value as Tone)} name="tone">
            <option value="friendly">{t('assistant.tones.friendly')}</option>
            <option value="firm">{t('assistant.tones.firm')}</option>
            <option value="final_notice">{t('assistant.tones.final_notice')}</option>
          </Select>
        </Field>
      </form>
      {message.isPending ? (
        <Skeleton rows={6} />
      ) : message.isError ? (
        <ErrorState error={message.error} />
      ) : message.data.nothingToCollect ? (
        // Owing nothing is an answer, not an error.
        <p className="text-sm text-slate-700" data-testid="message-note">
          {message.data.note}
        </p>
      ) : (
        <div className="space-y-2">
          {message.data.subject ? (
            <div className="text-sm">
              <span className="text-slate-500">{t('assistant.subject')} </span>
              <span className="font-medium text-slate-800" data-testid="message-subject">
                {message.data.subject}
              </span>
            </div>
          ) : null}
          <pre className="whitespace-pre-wrap rounded-lg border border-slate-200 bg-slate-50 p-3 font-sans text-sm text-slate-800" data-testid="message-body">
            {message.data.body}
          </pre>
          <div className="flex flex-wrap items-center gap-3 text-xs text-slate-500" data-testid="message-meta">
            <span>{t('assistant.characters', { count: message.data.characters })}</span>
            {message.data.channel === 'sms' ? (
              <span>
                {t('assistant.segments', { units: message.data.smsUnits, encoding: message.data.smsEncoding, count: message.data.segments })}
              </span>
            ) : null}
            <span>
              {t('assistant.owed', { amount: message.data.amounts.formattedOutstanding })}
              {message.data.amounts.overdue > 0 ? t('assistant.overdue', { amount: message.data.amounts.formattedOverdue }) : ''}
            </span>
            <ProvenanceNote value={message.data} />
          </div>
        </div>
      )}
    </Card>
  );
}
