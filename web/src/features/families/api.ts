import { infiniteQueryOptions, queryOptions } from '@tanstack/react-query';
import { apiFetch, qs } from '../../lib/api';
import type { Page } from '../billing/api';

/** Family API shapes (src/modules/families/families.schemas.ts, familypayments.schemas.ts). */
export interface FamilyListItem {
  id: string;
  schoolId: string;
  name: string;
  reference: string;
  preferredLanguage: 'es' | 'en';
  currency: string;
  createdAt: string;
  updatedAt: string;
}
export interface Guardian {
  id: string;
  familyId: string;
  firstName: string;
  lastName: string;
  email: string | null;
  phone: string | null;
  relationship: string;
  preferredLanguage: 'es' | 'en';
  isPrimary: boolean;
  remindersOptOut: boolean;
}
export interface FamilyStudent {
  id: string;
  firstName: string;
  lastName: string;
  grade: string;
  isActive: boolean;
}
export interface Family extends FamilyListItem {
  guardians: Guardian[];
  students: FamilyStudent[];
  balance: { owed: number; credit: number };
}
export interface FamilyPaymentReceipt {
  id: string;
  familyId: string;
  amount: number;
  allocated: number;
  credited: number;
  currency: string;
  receiptNumber: string | null;
  method: string;
  reference: string | null;
  paidAt: string;
  allocations: { paymentId: string; invoiceId: string; invoiceNumber: string; amount: number }[];
  balance: { owed: number; credit: number };
}
export type FamilyPayment = Omit<FamilyPaymentReceipt, 'balance'>;

export const familiesQuery = (schoolId: string, q: string) =>
  infiniteQueryOptions({
    queryKey: ['families', 'list', schoolId, q],
    queryFn: ({ signal, pageParam }) => apiFetch<Page<FamilyListItem>>(`/families${qs({ schoolId, q, cursor: pageParam, limit: 50 })}`, { signal }),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.nextCursor ?? undefined,
    enabled: schoolId !== '',
  });
export const familyQuery = (id: string) => queryOptions({ queryKey: ['families', id], queryFn: ({ signal }) => apiFetch<Family>(`/families/${id}`, { signal }) });
export const familyPaymentsQuery = (id: string) =>
  queryOptions({ queryKey: ['families', id, 'payments'], queryFn: ({ signal }) => apiFetch<Page<FamilyPayment>>(`/families/${id}/payments?limit=50`, { signal }) });

export interface CreateFamilyInput {
  schoolId: string;
  name: string;
  preferredLanguage: 'es' | 'en';
  guardians?: { firstName: string; lastName: string; email?: string; phone?: string; relationship?: string; isPrimary?: boolean }[];
}
export const createFamily = (input: CreateFamilyInput) => apiFetch<Family>('/families', { method: 'POST', body: input });

export interface FamilyPaymentInput {
  familyId: string;
  amount: number;
  method: string;
  reference?: string;
  /** One per attempt: a retry of the same attempt (a lost answer) reuses it, a new submit takes a new one. */
  idempotencyKey: string;
}
export const recordFamilyPayment = ({ familyId, idempotencyKey, ...body }: FamilyPaymentInput) =>
  apiFetch<FamilyPaymentReceipt>(`/families/${familyId}/payments`, { method: 'POST', body, headers: { 'idempotency-key': idempotencyKey } });

/** What a guardian form sends (POST /families/:id/guardians; PATCH /guardians/:id with the changed fields). */
export interface GuardianInput {
  firstName: string;
  lastName: string;
  email: string | null;
  phone: string | null;
  relationship: string;
  isPrimary: boolean;
}
export const addGuardian = ({ familyId, ...body }: Partial<GuardianInput> & { familyId: string }) =>
  apiFetch<Guardian>(`/families/${familyId}/guardians`, { method: 'POST', body });
export const updateGuardian = ({ guardianId, ...body }: Partial<GuardianInput> & { guardianId: string }) => apiFetch<Guardian>(`/guardians/${guardianId}`, { method: 'PATCH', body });
export const removeGuardian = (guardianId: string) => apiFetch<void>(`/guardians/${guardianId}`, { method: 'DELETE' });
