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
