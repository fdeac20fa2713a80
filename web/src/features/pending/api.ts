import { infiniteQueryOptions } from '@tanstack/react-query';
import { apiFetch, downloadFile, qs } from '../../lib/api';

/** GET /reports/pending-payments (src/modules/reporting/pending.schemas.ts). */
export interface PendingRow {
  invoiceId: string;
  number: string;
  schoolId: string;
  schoolName: string;
  studentId: string;
  studentName: string;
  grade: string;
  dueDate: string;
  amount: number;
  paidAmount: number;
  pendingAmount: number;
  currency: string;
  status: 'PENDING' | 'PARTIAL' | 'OVERDUE';
  daysOverdue: number;
}
export interface PendingPage {
  data: PendingRow[];
  nextCursor: string | null;
  total: number;
}
export interface PendingFilters {
  schoolId?: string;
  grade?: string;
  status?: string;
  minAmount?: number;
}

export const pendingQuery = (filters: PendingFilters) =>
  infiniteQueryOptions({
    queryKey: ['reports', 'pending', filters],
    queryFn: ({ signal, pageParam }) => apiFetch<PendingPage>(`/reports/pending-payments${qs({ ...filters, cursor: pageParam, limit: 50 })}`, { signal }),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.nextCursor ?? undefined,
  });

/** Streams every matching row from the server (one snapshot), saved as a file. */
export const exportPending = (filters: PendingFilters, format: 'csv' | 'xlsx') =>
  downloadFile(`/reports/pending-payments/export${qs({ ...filters, format })}`, `pending-payments.${format}`);
