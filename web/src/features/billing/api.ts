import { infiniteQueryOptions, queryOptions } from '@tanstack/react-query';
import { apiFetch, qs, uuid } from '../../lib/api';

/** Billing API shapes (src/modules/billing/billing.schemas.ts, statements.schemas.ts). */
export interface School {
  id: string;
  name: string;
  address: string | null;
  phone: string | null;
  email: string | null;
  currency: string;
  timezone: string;
  /** What Bursar writes into the school's invoices (month names, late fees) is in this language. */
  language: 'es' | 'en';
  isActive: boolean;
  /** Created by the demo seed: the only schools the demo simulator acts on. */
  isDemo: boolean;
  simulatorEnabled: boolean;
}
export interface Student {
  id: string;
  schoolId: string;
  firstName: string;
  lastName: string;
  email: string | null;
  grade: string;
  enrolledAt: string;
  isActive: boolean;
}
export interface Invoice {
  id: string;
  schoolId: string;
  studentId: string;
  /** late_fee: the late fees of relatedInvoiceId, posted by the daily run. */
  kind: 'regular' | 'late_fee';
  relatedInvoiceId: string | null;
  number: string;
  description: string | null;
  amount: number;
  paidAmount: number;
  /** Credit notes and write-offs. */
  creditedAmount: number;
  pendingAmount: number;
  currency: string;
  status: 'PENDING' | 'PARTIAL' | 'PAID' | 'OVERDUE' | 'CANCELLED';
  dueDate: string;
  /** On the single-invoice answer only. */
  lines?: InvoiceLine[];
  /** On the single-invoice answer of a regular invoice: its late-fee invoice, or null. */
  lateFeeInvoice?: { id: string; number: string; amount: number; pendingAmount: number } | null;
  /** Pronto pago: paying amountDue by payBy, in one payment, earns the discount. */
  earlyPayment?: { discount: number; payBy: string; applied: boolean; available: boolean; amountDue: number } | null;
  /** On the single-invoice answer only: credit notes and write-offs, oldest first. */
  adjustments?: InvoiceAdjustment[];
}
export interface InvoiceLine {
  kind: 'charge' | 'discount' | 'late_fee';
  code: string;
  description: string;
  /** Discounts are negative. */
  amount: number;
}
export type AdjustmentKind = 'credit_note' | 'write_off' | 'waiver';
export interface InvoiceAdjustment {
  id: string;
  kind: AdjustmentKind;
  amount: number;
  reason: string;
  number: string | null;
  createdAt: string;
}
export interface Payment {
  id: string;
  invoiceId: string;
  amount: number;
  refundedAmount: number;
  currency: string;
  method: string;
  reference: string | null;
  paidAt: string;
  receiptNumber: string | null;
}
export interface Page<T> {
  data: T[];
  nextCursor: string | null;
}
export interface StatementSummary {
  totalInvoiced: number;
  totalPaid: number;
  totalPending: number;
  totalOverdue: number;
  totalStudents?: number;
  activeStudents?: number;
}
/** A student's or a school's statement (the school one has studentName per invoice). */
export interface Statement {
  studentName?: string;
  schoolName: string;
  currency: string;
  summary: StatementSummary;
  invoices: (Pick<Invoice, 'id' | 'number' | 'amount' | 'paidAmount' | 'pendingAmount' | 'dueDate' | 'status'> & { studentName?: string; description?: string | null })[];
  invoicesTruncated: boolean;
  generatedAt: string;
}

const pageQuery = <T,>(key: readonly unknown[], path: (cursor: string | undefined) => string) =>
  infiniteQueryOptions({
    queryKey: key,
    queryFn: ({ signal, pageParam }) => apiFetch<Page<T>>(path(pageParam), { signal }),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.nextCursor ?? undefined,
  });

export const schoolsQuery = (q: string) => pageQuery<School>(['schools', 'list', q], (cursor) => `/schools${qs({ q, cursor, limit: 50 })}`);
export const schoolQuery = (id: string) => queryOptions({ queryKey: ['schools', id], queryFn: ({ signal }) => apiFetch<School>(`/schools/${id}`, { signal }) });
export const schoolStudentsQuery = (id: string) => pageQuery<Student>(['schools', id, 'students'], (cursor) => `/schools/${id}/students${qs({ cursor, limit: 100 })}`);
export const studentQuery = (id: string) => queryOptions({ queryKey: ['students', id], queryFn: ({ signal }) => apiFetch<Student>(`/students/${id}`, { signal }) });
export const studentInvoicesQuery = (id: string) =>
  pageQuery<Invoice>(['students', id, 'invoices'], (cursor) => `/students/${id}/invoices${qs({ cursor, limit: 100 })}`);
export const studentStatementQuery = (id: string) =>
  queryOptions({ queryKey: ['students', id, 'statement'], queryFn: ({ signal }) => apiFetch<Statement>(`/students/${id}/statement`, { signal }) });
export const schoolStatementQuery = (id: string) =>
  queryOptions({ queryKey: ['schools', id, 'statement'], queryFn: ({ signal }) => apiFetch<Statement>(`/schools/${id}/statement`, { signal }) });
export const invoiceQuery = (id: string) => queryOptions({ queryKey: ['invoices', id], queryFn: ({ signal }) => apiFetch<Invoice>(`/invoices/${id}`, { signal }) });
export const invoicePaymentsQuery = (id: string) =>
  queryOptions({ queryKey: ['invoices', id, 'payments'], queryFn: ({ signal }) => apiFetch<Page<Payment>>(`/invoices/${id}/payments?limit=100`, { signal }) });

export interface PaymentInput {
  invoiceId: string;
  amount: number;
  method: string;
  reference?: string;
}
/** The created payment, with the invoice it changed. */
export interface PaymentReceipt extends Payment {
  invoice: { id: string; status: Invoice['status']; paidAmount: number; pendingAmount: number };
}

/** POST /payments: the created payment at the top level, with the invoice it changed as `invoice`. */
export const recordPayment = async (input: PaymentInput): Promise<PaymentReceipt> =>
  apiFetch<PaymentReceipt>('/payments', { method: 'POST', body: input, headers: { 'idempotency-key': uuid() } });

export interface AdjustmentInput {
  invoiceId: string;
  kind: AdjustmentKind;
  amount: number;
  reason: string;
  /** One per attempt (see useAttemptKey). */
  idempotencyKey: string;
}
/** The created credit note or write-off, with the invoice after it. */
export interface AdjustmentReceipt extends Omit<InvoiceAdjustment, 'createdAt'> {
  invoice: { id: string; status: Invoice['status']; paidAmount: number; creditedAmount: number; pendingAmount: number };
}
const ADJUSTMENT_PATHS: Record<AdjustmentKind, string> = { credit_note: 'credit-notes', write_off: 'write-offs', waiver: 'waivers' };
/** POST /invoices/:id/credit-notes | write-offs | waivers {amount, reason}: never above what is open (422 naming amount). */
export const adjustInvoice = ({ invoiceId, kind, idempotencyKey, ...body }: AdjustmentInput) =>
  apiFetch<AdjustmentReceipt>(`/invoices/${invoiceId}/${ADJUSTMENT_PATHS[kind]}`, {
    method: 'POST',
    body,
    headers: { 'idempotency-key': idempotencyKey },
  });
