import { keepPreviousData, queryOptions } from '@tanstack/react-query';
import { apiFetch, qs } from '../../lib/api';

/** GET /reports/dashboard (src/modules/reporting/dashboard.schemas.ts). */
export interface Amounts {
  amountDue: number;
  amountCollected: number;
  amountOutstanding: number;
  amountOverdue: number;
}
export interface Dashboard {
  totals: { currency: string | null } & { [K in keyof Amounts]: number | null };
  totalsByCurrency: ({ currency: string } & Amounts)[];
  bySchool: ({ schoolId: string; schoolName: string; currency: string } & Amounts)[];
  /** The next page of bySchool (as schoolsCursor); null on the last. */
  bySchoolNextCursor: string | null;
  bySchoolTruncated: boolean;
  schoolCount: number;
  byPaymentMethod: { method: string; currency: string; amount: number; count: number }[];
  byGrade: ({ grade: string; currency: string } & Amounts)[];
  outstandingSample: {
    invoiceId: string;
    number: string;
    schoolId: string;
    schoolName: string;
    studentId: string;
    studentName: string;
    grade: string;
    dueDate: string;
    amount: number;
    pendingAmount: number;
    currency: string;
    status: 'PENDING' | 'PARTIAL' | 'OVERDUE';
  }[];
  generatedAt: string;
}

export interface DashboardFilters {
  schoolId?: string;
  grade?: string;
  method?: string;
  from?: string;
  to?: string;
}

/** The next page of the dashboard's bySchool (the whole dashboard answer; only its bySchool is used). */
export const fetchSchoolsPage = (filters: DashboardFilters, cursor: string) => apiFetch<Dashboard>(`/reports/dashboard${qs({ ...filters, schoolsCursor: cursor })}`);

export const dashboardQuery = (filters: DashboardFilters) =>
  queryOptions({
    queryKey: ['reports', 'dashboard', filters],
    queryFn: ({ signal }) => apiFetch<Dashboard>(`/reports/dashboard${qs({ ...filters })}`, { signal }),
    placeholderData: keepPreviousData,
  });
