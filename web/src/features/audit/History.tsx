import { useInfiniteQuery } from '@tanstack/react-query';
import { useRef } from 'react';
import { useSession } from '../../app/session';
import { Card, EmptyState, ErrorState, LoadMore, Skeleton } from '../../components/ui';
import { formatDateTime, formatMoney } from '../../lib/format';
import { translate, useT } from '../../lib/i18n';
import { historyQuery, type AuditedEntity, type AuditEntry } from './api';

/**
 * The timeline of a school, student, family or invoice (SPEC §9 "a timeline on every
 * school, student, family and invoice page"): what was done to it, by whom and when,
 * newest first, from the audit log — for the roles that may read it (super_admin,
 * school_admin). The main facts of a change are on its line (money in the school's
 * currency); the whole record, as the action wrote it (amounts in minor units), is
 * behind a disclosure.
 */
const KNOWN_ACTIONS = new Set([
  'school.create', 'school.update', 'school.delete', 'student.create', 'student.update', 'student.delete', 'family.create', 'family.update', 'family.delete',
  'invoice.create', 'invoice.update', 'invoice.cancel', 'invoice.waiver', 'invoice.pay_link', 'invoice.credit_note', 'invoice.write_off',
  'collections.run', 'late_fee_policy.put', 'reminder_policy.put', 'family_credit.apply',
]);

/** "invoice.create" as a person reads it; an action this page has no words for shows as it is. */
export const actionLabel = (action: string) => (KNOWN_ACTIONS.has(action) ? translate(`history.actions.${action.replace('.', '_')}`) : action);

/** Keys of `changes` that hold money (minor units): shown in currency units when the page knows the currency. */
const MONEY_KEYS = new Set(['amount', 'earlyPaymentDiscount', 'cap', 'lateFeeAmount', 'owed', 'credit']);
/** Keys worth a glance in the one-line summary (ids and nested values stay in the disclosure). */
const BRIEF_KEYS = ['number', 'amount', 'method', 'reason', 'description', 'status', 'name', 'dueDate', 'earlyPaymentDiscount'];

/** What changed at a glance, in the reader's words and money: "amount MX$1,250.00 · description …". */
function summary(changes: Record<string, unknown> | null, currency: string | undefined): string {
  if (changes === null) {
    return '';
  }
  return BRIEF_KEYS.filter((key) => ['string', 'number'].includes(typeof changes[key]))
    .filter((key) => !MONEY_KEYS.has(key) || currency !== undefined)
    .slice(0, 4)
    .map((key) => {
      const value = changes[key];
      return `${translate(`history.fields.${key}`)}: ${MONEY_KEYS.has(key) && typeof value === 'number' && currency ? formatMoney(value, currency) : String(value)}`;
    })
    .join(' · ');
}

function Entry({ entry, currency }: { entry: AuditEntry; currency: string | undefined }) {
  const { t } = useT();
  const brief = summary(entry.changes, currency);
  return (
    <li data-row tabIndex={-1} className="py-3 focus:outline-none focus-visible:bg-indigo-50" data-testid="history-entry">
      <div className="flex flex-wrap items-baseline gap-x-3 gap-y-1 text-sm">
        <span className="font-medium text-slate-900">{actionLabel(entry.action)}</span>
        <span className="text-slate-700">{entry.actor.username ?? t('history.system')}</span>
        <span className="text-slate-600">{formatDateTime(entry.createdAt)}</span>
      </div>
      {brief ? <p className="mt-1 break-words text-sm text-slate-700">{brief}</p> : null}
      {entry.changes ? (
        <details className="mt-1 text-sm">
          <summary className="cursor-pointer text-indigo-700">{t('history.showChanges')}</summary>
          <pre className="mt-2 overflow-x-auto whitespace-pre-wrap break-words rounded-lg bg-slate-50 p-3 text-xs text-slate-800">{JSON.stringify(entry.changes, null, 2)}</pre>
          {entry.requestId ? <p className="mt-1 break-all text-xs text-slate-600">{t('history.request', { id: entry.requestId })}</p> : null}
        </details>
      ) : null}
    </li>
  );
}

function Timeline({ entityType, entityId, currency }: { entityType: AuditedEntity; entityId: string; currency: string | undefined }) {
  const { t } = useT();
  const history = useInfiniteQuery(historyQuery(entityType, entityId));
  const list = useRef<HTMLUListElement>(null);
  if (history.isPending) {
    return <Skeleton rows={3} />;
  }
  if (history.isError) {
    return <ErrorState error={history.error} onRetry={() => void history.refetch()} />;
  }
  const rows = history.data.pages.flatMap((page) => page.data);
  if (rows.length === 0) {
    return <EmptyState>{t('history.empty')}</EmptyState>;
  }
  return (
    <>
      <ul ref={list} className="divide-y divide-slate-100">
        {rows.map((entry) => (
          <Entry key={entry.id} entry={entry} currency={currency} />
        ))}
      </ul>
      <LoadMore shown={rows.length} noun={(count) => t('history.noun', { count })} hasNextPage={history.hasNextPage} loading={history.isFetchingNextPage} onLoad={() => history.fetchNextPage()} list={list} />
    </>
  );
}

/** The History card, for the roles that may read the audit log; nothing for the others. `currency`: the school's, for amounts. */
export function HistoryCard({ entityType, entityId, currency }: { entityType: AuditedEntity; entityId: string; currency?: string | undefined }) {
  const { can } = useSession();
  const { t } = useT();
  if (!can('audit:read')) {
    return null;
  }
  return (
    <Card title={t('history.title')} testId="history">
      <Timeline entityType={entityType} entityId={entityId} currency={currency} />
    </Card>
  );
}
