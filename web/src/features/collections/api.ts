import { queryOptions } from '@tanstack/react-query';
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
