import { keepPreviousData, queryOptions } from '@tanstack/react-query';
import { apiFetch } from '../../lib/api';

/** GET /reports/transactions/failures (src/modules/reporting/failures.schemas.ts). */
export interface FailuresReport {
  window: { from: string; to: string; lastHours: number };
  total: number;
  byCode: { failureCode: string; count: number; amountByCurrency: { currency: string; amount: number }[] }[];
  byGateway: { gateway: string; count: number }[];
  series: { bucket: string; count: number }[];
  recent: {
    id: string;
    createdAt: string;
    schoolName: string;
    method: string;
    gateway: string;
    amount: number;
    currency: string;
    failureCode: string;
    failureMessage: string | null;
  }[];
}

export const failuresQuery = (lastHours: number) =>
  queryOptions({
    queryKey: ['reports', 'failures', lastHours],
    queryFn: ({ signal }) => apiFetch<FailuresReport>(`/reports/transactions/failures?lastHours=${lastHours}`, { signal }),
    placeholderData: keepPreviousData,
    refetchInterval: 60_000,
  });

/** GET /sync/status (src/modules/sync/sync.schemas.ts). The state is derived on the server (sync.state.ts). */
export type SyncState = 'idle' | 'running' | 'caught_up' | 'behind' | 'backing_off' | 'blocked' | 'needs_reset' | 'done';
export interface SyncFeed {
  feed: 'live' | 'backfill';
  state: SyncState;
  summary: string;
  action: string | null;
  running: boolean;
  status: 'idle' | 'blocked' | 'done' | 'needs_reset';
  cursor: string | null;
  resumeFrom: string | null;
  newestEntryAt: string | null;
  lagSeconds: number | null;
  behind: number | null;
  pages: number;
  consecutiveFailures: number;
  lastError: string | null;
  retryAt: string | null;
  lastRunAt: string | null;
  lastSuccessAt: string | null;
  caughtUpAt: string | null;
}
export interface SyncStatus {
  enabled: boolean;
  state: SyncState;
  summary: string;
  action: string | null;
  cursor: string | null;
  newestEntryAt: string | null;
  lagSeconds: number | null;
  lastRunAt: string | null;
  failures: number;
  deadLetters: number;
  conflicts: number;
  entries: number;
  accounts: number;
  budget: { limit: number; windowSeconds: number; usedInWindow: number; requestsTotal: number; notBefore: string | null };
  feeds: SyncFeed[];
  generatedAt: string;
}
export interface DeadLetter {
  id: string;
  feed: 'live' | 'backfill';
  cursor: string | null;
  attempts: number;
  lastError: string;
  reason: string | null;
  status: 'open' | 'retrying' | 'resolved';
  resolution: 'stored' | 'reset' | null;
  /** False when no retry can succeed (the vendor no longer knows the cursor): reset instead. */
  retryable: boolean;
  explanation: string;
  createdAt: string;
  resolvedAt: string | null;
}
export interface ResetAccepted {
  feed: 'live';
  from: string;
  previousStatus: string;
  previousCursor: string | null;
  deadLettersClosed: number;
  queued: boolean;
}

export const syncStatusQuery = () =>
  queryOptions({
    queryKey: ['sync', 'status'],
    queryFn: ({ signal }) => apiFetch<SyncStatus>('/sync/status', { signal }),
    refetchInterval: 10_000,
  });

export const deadLettersQuery = () =>
  queryOptions({
    queryKey: ['sync', 'dead-letters'],
    queryFn: ({ signal }) => apiFetch<{ data: DeadLetter[]; nextCursor: string | null }>('/sync/dead-letters?limit=20', { signal }),
    refetchInterval: 10_000,
  });

export const retryDeadLetter = (id: string) => apiFetch<DeadLetter>(`/sync/dead-letters/${id}/retry`, { method: 'POST', body: {} });
export const runSync = () => apiFetch<{ queued: boolean }>('/sync/run', { method: 'POST', body: {} });
/** POST /sync/reset (super_admin): resume the live feed with what arrived at the vendor since `from` (ISO). */
export const resetSync = (from: string) => apiFetch<ResetAccepted>('/sync/reset', { method: 'POST', body: { from } });
