import { infiniteQueryOptions, queryOptions } from '@tanstack/react-query';
import { apiFetch } from '../../lib/api';
import type { Invoice } from '../billing/api';

/** GET /portal/me: the guardian, their family's balance, children and what is due next. */
export interface PortalMe {
  guardian: { id: string; firstName: string; lastName: string; email: string | null; phone: string | null; preferredLanguage: 'es' | 'en'; remindersOptOut: boolean };
  family: { id: string; name: string; reference: string; balance: { owed: number; credit: number } };
  school: { id: string; name: string; currency: string; timezone: string };
  students: { id: string; firstName: string; lastName: string; grade: string }[];
  nextDue: { invoiceId: string; number: string; dueDate: string; pendingAmount: number } | null;
}

export const portalMeQuery = () => queryOptions({ queryKey: ['portal', 'me'], queryFn: ({ signal }) => apiFetch<PortalMe>('/portal/me', { signal }) });

/** The family's invoices: open ones (PENDING, PARTIAL, OVERDUE are fetched as three pages… so "open" is filtered here) or all. */
export const portalInvoicesQuery = () =>
  infiniteQueryOptions({
    queryKey: ['portal', 'invoices'],
    queryFn: ({ signal, pageParam }) => apiFetch<{ data: Invoice[]; nextCursor: string | null }>(`/portal/invoices?limit=100${pageParam ? `&cursor=${encodeURIComponent(pageParam)}` : ''}`, { signal }),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.nextCursor ?? undefined,
  });

export const portalInvoiceQuery = (id: string) => queryOptions({ queryKey: ['portal', 'invoices', id], queryFn: ({ signal }) => apiFetch<Invoice>(`/portal/invoices/${id}`, { signal }) });

export const updatePortalMe = (body: { remindersOptOut?: boolean; preferredLanguage?: 'es' | 'en' }) => apiFetch<PortalMe>('/portal/me', { method: 'PATCH', body });

export const acceptInvitation = (body: { token: string; username: string; password: string }) =>
  apiFetch<{ userId: string; username: string }>('/auth/invitations/accept', { method: 'POST', body });

/** GET /pay-links/:token (no login): what a pay link shows — school, invoice number (or family reference), amount due. */
export interface PayLinkView {
  kind: 'invoice' | 'family';
  schoolName: string;
  invoiceNumber?: string;
  familyReference?: string;
  amountDue: number;
  currency: string;
  status: 'open' | 'paid' | 'cancelled';
  expiresAt: string;
}
export const payLinkQuery = (token: string) =>
  queryOptions({ queryKey: ['pay-link', token], queryFn: ({ signal }) => apiFetch<PayLinkView>(`/pay-links/${encodeURIComponent(token)}`, { signal }), retry: false });

/** A session at the payment gateway (SPEC §8): the payer is sent to `url`; the payment is recorded when the gateway reports it. */
export interface Checkout {
  id: string;
  url: string;
  provider: 'simulator' | 'stripe';
  amount: number;
  currency: string;
  expiresAt: string;
}

export const invoiceCheckout = (invoiceId: string, language: 'es' | 'en') => apiFetch<Checkout>(`/invoices/${invoiceId}/checkout`, { method: 'POST', body: { language } });
export const familyCheckout = (familyId: string, amount: number | undefined, language: 'es' | 'en') =>
  apiFetch<Checkout>(`/families/${familyId}/checkout`, { method: 'POST', body: { language, ...(amount === undefined ? {} : { amount }) } });
export const payLinkCheckout = (token: string, amount: number | undefined, language: 'es' | 'en') =>
  apiFetch<Checkout>(`/pay-links/${encodeURIComponent(token)}/checkout`, { method: 'POST', body: { language, ...(amount === undefined ? {} : { amount }) } });

/** GET /portal/receipts: the family's receipts, newest first. */
export interface PortalReceipt {
  number: string;
  paymentId: string;
  amount: number;
  method: string;
  paidAt: string;
}
export const portalReceiptsQuery = () =>
  infiniteQueryOptions({
    queryKey: ['portal', 'receipts'],
    queryFn: ({ signal, pageParam }) => apiFetch<{ data: PortalReceipt[]; nextCursor: string | null }>(`/portal/receipts?limit=10${pageParam ? `&cursor=${encodeURIComponent(pageParam)}` : ''}`, { signal }),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.nextCursor ?? undefined,
  });
