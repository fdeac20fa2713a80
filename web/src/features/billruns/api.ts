import { infiniteQueryOptions, queryOptions } from '@tanstack/react-query';
import { apiFetch, qs } from '../../lib/api';
import type { Page } from '../billing/api';

/** Bill run API shapes (src/modules/billruns/billruns.schemas.ts). */
export interface ItemTotal {
  itemCode: string;
  currency: string;
  lines: number;
  charges: number;
  discounts: number;
  amount: number;
}
export interface PreviewInvoice {
  studentId: string;
  studentName: string;
  dueDate: string;
  description: string | null;
  amount: number;
  lines: { kind: 'charge' | 'discount' | 'late_fee'; code: string; description: string; amount: number }[];
}
export interface BillRun {
  id: string | null;
  schoolId: string;
  through: string;
  dryRun: boolean;
  status: 'queued' | 'running' | 'finished' | 'failed';
  invoicesCreated: number;
  linesCreated: number;
  skipped: number;
  totals: ItemTotal[];
  progress: { done: number; total: number };
  error: string | null;
  createdAt: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  preview?: { invoices: number; lines: number; totals: ItemTotal[]; firstRows: PreviewInvoice[] };
}

export const startBillRun = (input: { schoolId: string; through: string; dryRun: boolean }) => apiFetch<BillRun>('/bill-runs', { method: 'POST', body: input });
/** GET /bill-runs/:id, polled every second until the run is finished or failed. */
export const billRunQuery = (id: string) =>
  queryOptions({
    queryKey: ['bill-runs', id],
    queryFn: ({ signal }) => apiFetch<BillRun>(`/bill-runs/${id}`, { signal }),
    enabled: id !== '',
    refetchInterval: (query) => (query.state.data && (query.state.data.status === 'finished' || query.state.data.status === 'failed') ? false : 1000),
  });
/** GET /bill-runs?schoolId=: the school's runs, newest first, 20 a page (Load more follows nextCursor). */
export const billRunsQuery = (schoolId: string) =>
  infiniteQueryOptions({
    queryKey: ['bill-runs', 'list', schoolId],
    queryFn: ({ signal, pageParam }) => apiFetch<Page<BillRun>>(`/bill-runs${qs({ schoolId, cursor: pageParam, limit: 20 })}`, { signal }),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.nextCursor ?? undefined,
    enabled: schoolId !== '',
  });
