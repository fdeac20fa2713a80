import { useInfiniteQuery } from '@tanstack/react-query';
import { useRef } from 'react';
import { cx, EmptyState, ErrorState, LoadMore, Skeleton } from '../../components/ui';
import { formatDateTime } from '../../lib/format';
import { Link } from '../../lib/router';
import { familyMessagesQuery, invoiceMessagesQuery, outboxQuery, type Message } from './api';
import { translate, useT } from '../../lib/i18n';

/**
 * Messages to guardians — the delivery log of a family or an invoice, and the outbox
 * (SPEC §8): who, on which channel and in which language, what became of it, and the
 * text itself behind a disclosure (empty for roles that see personal data masked).
 */
export const CHANNELS: Message['channel'][] = ['email', 'sms', 'whatsapp'];
export const TEMPLATES: NonNullable<Message['template']>[] = ['upcoming', 'due', 'overdue', 'final_notice'];
/** A channel or a reminder template as a person reads it, in the current language. */
export const channelLabel = (channel: Message['channel']) => translate(`messages.channel.${channel}`);
export const templateLabel = (template: NonNullable<Message['template']>) => translate(`messages.template.${template}`);
const STATUS_TONES: Record<Message['status'], string> = {
  queued: 'bg-sky-50 text-sky-800 ring-sky-200',
  sent: 'bg-emerald-50 text-emerald-800 ring-emerald-200',
  failed: 'bg-rose-50 text-rose-800 ring-rose-200',
  bounced: 'bg-rose-50 text-rose-800 ring-rose-200',
  outbox: 'bg-amber-50 text-amber-900 ring-amber-200',
};

export function MessageStatus({ message }: { message: Message }) {
  const { t } = useT();
  const retrying = message.status === 'queued' && message.attempts > 0;
  return (
    <span className={cx('inline-flex rounded-full px-2 py-0.5 text-xs font-medium ring-1 ring-inset', STATUS_TONES[message.status])} title={message.lastError ?? undefined}>
      {retrying ? t('messages.retrying', { count: message.attempts }) : t(`messages.status.${message.status}`)}
    </span>
  );
}

function MessageItem({ message, showFamily }: { message: Message; showFamily: boolean }) {
  const { t } = useT();
  return (
    <li data-row tabIndex={-1} className="py-3 focus:outline-none focus-visible:bg-indigo-50" data-testid="message">
      <div className="flex flex-wrap items-center gap-x-3 gap-y-1 text-sm">
        <MessageStatus message={message} />
        <span className="font-medium text-slate-900">{message.template ? templateLabel(message.template) : t('messages.message')}</span>
        <span className="text-slate-600">
          {channelLabel(message.channel)} · {t(`app.languages.${message.language === 'es' ? 'es' : 'en'}`)}
        </span>
        <span className="text-slate-600">{formatDateTime(message.sentAt ?? message.createdAt)}</span>
      </div>
      <div className="mt-1 flex flex-wrap gap-x-3 text-sm text-slate-700">
        <span className="break-all">
          {message.guardianName ? `${message.guardianName} · ` : ''}
          {message.recipient}
        </span>
        {message.invoiceId ? (
          <Link to={`/invoices/${message.invoiceId}`} className="text-indigo-700 hover:underline">
            {message.invoiceNumber ?? t('messages.invoice')}
          </Link>
        ) : null}
        {showFamily && message.familyId ? (
          <Link to={`/families/${message.familyId}`} className="text-indigo-700 hover:underline">
            {t('messages.family')}
          </Link>
        ) : null}
      </div>
      {message.lastError && message.status !== 'sent' ? <p className="mt-1 text-xs text-rose-700 break-words">{message.lastError}</p> : null}
      {message.body ? (
        <details className="mt-1 text-sm">
          <summary className="cursor-pointer text-indigo-700">{message.subject ?? t('messages.show')}</summary>
          <pre className="mt-2 whitespace-pre-wrap break-words rounded-lg bg-slate-50 p-3 font-sans text-slate-800" data-testid="message-body">
            {message.body}
          </pre>
        </details>
      ) : null}
    </li>
  );
}

function MessageList({ query, empty, showFamily = false }: { query: ReturnType<typeof familyMessagesQuery>; empty: string; showFamily?: boolean }) {
  const { t } = useT();
  const messages = useInfiniteQuery(query);
  const list = useRef<HTMLUListElement>(null);
  if (messages.isPending) {
    return <Skeleton rows={3} />;
  }
  if (messages.isError) {
    return <ErrorState error={messages.error} onRetry={() => void messages.refetch()} />;
  }
  const rows = messages.data.pages.flatMap((page) => page.data);
  if (rows.length === 0) {
    return <EmptyState>{empty}</EmptyState>;
  }
  return (
    <>
      <ul ref={list} className="divide-y divide-slate-100" data-testid="messages">
        {rows.map((message) => (
          <MessageItem key={message.id} message={message} showFamily={showFamily} />
        ))}
      </ul>
      <LoadMore shown={rows.length} noun={(count) => t('messages.noun', { count })} hasNextPage={messages.hasNextPage} loading={messages.isFetchingNextPage} onLoad={() => messages.fetchNextPage()} list={list} />
    </>
  );
}

export const FamilyMessages = ({ familyId }: { familyId: string }) => <MessageList query={familyMessagesQuery(familyId)} empty={translate('messages.emptyFamily')} />;
export const InvoiceMessages = ({ invoiceId }: { invoiceId: string }) => <MessageList query={invoiceMessagesQuery(invoiceId)} empty={translate('messages.emptyInvoice')} />;
export const OutboxMessages = ({ schoolId }: { schoolId: string }) => <MessageList query={outboxQuery(schoolId)} empty={translate('messages.emptyOutbox')} showFamily />;
