import { infiniteQueryOptions, queryOptions } from '@tanstack/react-query';
import { apiFetch, ApiError } from '../../lib/api';

/** The late-fee policy of a school (SPEC §8): GET|PUT /schools/:id/late-fee-policy. */
export type LateFeeKind = 'fixed' | 'percent' | 'daily_interest';
export interface LateFeePolicy {
  schoolId: string;
  kind: LateFeeKind;
  /** fixed: minor units; percent and daily_interest: a number of percent. */
  value: number;
  graceDays: number;
  /** Minor units per overdue invoice; null: no cap. */
  cap: number | null;
  enabled: boolean;
  updatedAt: string;
}
export type LateFeePolicyInput = Pick<LateFeePolicy, 'kind' | 'value' | 'graceDays' | 'cap' | 'enabled'>;

/** The policy, or null when the school has none yet (the API's 404). */
export const lateFeePolicyQuery = (schoolId: string) =>
  queryOptions({
    queryKey: ['schools', schoolId, 'late-fee-policy'],
    queryFn: async ({ signal }) => {
      try {
        return await apiFetch<LateFeePolicy>(`/schools/${schoolId}/late-fee-policy`, { signal });
      } catch (error) {
        if (error instanceof ApiError && error.status === 404) {
          return null;
        }
        throw error;
      }
    },
  });

export const putLateFeePolicy = (schoolId: string, policy: LateFeePolicyInput) =>
  apiFetch<LateFeePolicy>(`/schools/${schoolId}/late-fee-policy`, { method: 'PUT', body: policy });

/** POST /collections/run: what a school day's run did (a re-run posts nothing twice). */
export interface CollectionRunResult {
  schoolId: string;
  date: string;
  lateFeesPosted: number;
  lateFeeAmount: number;
  remindersSent: number;
  remindersSkipped: number;
  runs: number;
}
/** GET /collections/runs: what each day did, newest first (the last few, for the school page). */
export interface CollectionDay extends CollectionRunResult {
  firstRunAt: string;
  lastRunAt: string;
}
export const collectionDaysQuery = (schoolId: string) =>
  queryOptions({
    queryKey: ['schools', schoolId, 'collection-days'],
    queryFn: ({ signal }) => apiFetch<{ data: CollectionDay[]; nextCursor: string | null }>(`/collections/runs?schoolId=${schoolId}&limit=5`, { signal }),
  });

export const runCollections = (schoolId: string, date?: string) =>
  apiFetch<CollectionRunResult>('/collections/run', { method: 'POST', body: date ? { schoolId, date } : { schoolId } });

/** Reminder steps of a school (SPEC §8): GET|PUT /schools/:id/reminder-policy. */
export type ReminderChannel = 'email' | 'sms' | 'whatsapp';
export type ReminderTemplate = 'upcoming' | 'due' | 'overdue' | 'final_notice';
export interface ReminderStep {
  offsetDays: number;
  channel: ReminderChannel;
  template: ReminderTemplate;
}
export interface ReminderPolicy {
  schoolId: string;
  steps: ReminderStep[];
  enabled: boolean;
  updatedAt: string;
}

/** The policy, or null when the school has none yet (the API's 404). */
export const reminderPolicyQuery = (schoolId: string) =>
  queryOptions({
    queryKey: ['schools', schoolId, 'reminder-policy'],
    queryFn: async ({ signal }) => {
      try {
        return await apiFetch<ReminderPolicy>(`/schools/${schoolId}/reminder-policy`, { signal });
      } catch (error) {
        if (error instanceof ApiError && error.status === 404) {
          return null;
        }
        throw error;
      }
    },
  });

export const putReminderPolicy = (schoolId: string, policy: { steps: ReminderStep[]; enabled: boolean }) =>
  apiFetch<ReminderPolicy>(`/schools/${schoolId}/reminder-policy`, { method: 'PUT', body: policy });

/** One message of the delivery log or the outbox (GET /families/:id/messages, /invoices/:id/messages, /outbox). */
export interface Message {
  id: string;
  schoolId: string;
  familyId: string | null;
  invoiceId: string | null;
  invoiceNumber: string | null;
  guardianId: string | null;
  guardianName: string | null;
  kind: 'reminder';
  template: ReminderTemplate | null;
  channel: ReminderChannel;
  language: 'es' | 'en';
  recipient: string;
  status: 'queued' | 'sent' | 'failed' | 'bounced' | 'outbox';
  subject?: string | null;
  /** Empty for roles that see personal data masked. */
  body: string;
  attempts: number;
  lastError: string | null;
  createdAt: string;
  sentAt: string | null;
}
interface MessagePage {
  data: Message[];
  nextCursor: string | null;
}

const messagePages = (key: readonly unknown[], path: (cursor: string | undefined) => string, enabled = true) =>
  infiniteQueryOptions({
    queryKey: key,
    queryFn: ({ signal, pageParam }) => apiFetch<MessagePage>(path(pageParam), { signal }),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.nextCursor ?? undefined,
    enabled,
  });
const cursorPart = (cursor: string | undefined) => (cursor ? `&cursor=${encodeURIComponent(cursor)}` : '');

export const familyMessagesQuery = (familyId: string) => messagePages(['families', familyId, 'messages'], (cursor) => `/families/${familyId}/messages?limit=20${cursorPart(cursor)}`);
export const invoiceMessagesQuery = (invoiceId: string) => messagePages(['invoices', invoiceId, 'messages'], (cursor) => `/invoices/${invoiceId}/messages?limit=20${cursorPart(cursor)}`);
export const outboxQuery = (schoolId: string) =>
  messagePages(['outbox', schoolId], (cursor) => `/outbox?limit=50${schoolId ? `&schoolId=${schoolId}` : ''}${cursorPart(cursor)}`);
