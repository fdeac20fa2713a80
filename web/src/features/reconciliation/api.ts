import { infiniteQueryOptions, queryOptions, type QueryClient } from '@tanstack/react-query';
import { apiFetch, qs } from '../../lib/api';
import type { Invoice, Page } from '../billing/api';
import type { FamilyListItem } from '../families/api';

/** Bank reconciliation API shapes (src/modules/reconciliation/reconciliation.schemas.ts). Amounts in minor units. */
export type StatementFormat = 'csv' | 'camt053' | 'ofx';
export const STATEMENT_FORMATS: readonly StatementFormat[] = ['csv', 'camt053', 'ofx'];
export type LineStatus = 'matched' | 'suggested' | 'unmatched' | 'ignored';
/** The queue's tabs, in the order a person works them. */
export const LINE_STATUSES: readonly LineStatus[] = ['suggested', 'unmatched', 'matched', 'ignored'];

export interface BankImport {
  id: string;
  schoolId: string;
  format: StatementFormat;
  lines: number;
  matched: number;
  suggested: number;
  unmatched: number;
  ignored: number;
  duplicates: number;
  createdAt: string;
}

export interface BankLine {
  id: string;
  schoolId: string;
  importId: string;
  bankTransactionId: string;
  date: string;
  /** Minor units; negative = paid out. */
  amount: number;
  currency: string;
  description: string;
  payerName: string | null;
  status: LineStatus;
  reason: string | null;
  invoice: { id: string; number: string; pendingAmount: number } | null;
  family: { id: string; name: string; reference: string } | null;
  paymentId: string | null;
  familyPaymentId: string | null;
  decidedAt: string | null;
  createdAt: string;
}

export type LineCounts = Record<LineStatus, number>;
export interface BankLinePage {
  data: BankLine[];
  nextCursor: string | null;
  counts: LineCounts;
}

export interface CsvMapping {
  date?: string;
  amount?: string;
  description?: string;
  id?: string;
  dateFormat?: DateFormat;
}
export type DateFormat = 'YYYY-MM-DD' | 'DD/MM/YYYY' | 'MM/DD/YYYY';
export const DATE_FORMATS: readonly DateFormat[] = ['YYYY-MM-DD', 'DD/MM/YYYY', 'MM/DD/YYYY'];
export interface StatementMapping {
  schoolId: string;
  mapping: CsvMapping;
  updatedAt: string | null;
}

/** The largest statement the server reads (MAX_STATEMENT_BYTES): bigger ones are refused before they are sent. */
export const MAX_STATEMENT_BYTES = 32 * 1024 * 1024;

/** The format a file's extension names: .csv, .xml (CAMT.053), .ofx or .qfx; null when it names none. */
export function formatOfFile(name: string): StatementFormat | null {
  const extension = name.toLowerCase().split('.').pop() ?? '';
  return extension === 'csv' || extension === 'txt' ? 'csv' : extension === 'xml' || extension === 'camt' || extension === 'camt053' ? 'camt053' : extension === 'ofx' || extension === 'qfx' ? 'ofx' : null;
}

const CONTENT_TYPES: Record<StatementFormat, string> = { csv: 'text/csv', camt053: 'application/xml', ofx: 'application/x-ofx' };

export const uploadStatement = (schoolId: string, format: StatementFormat, file: Blob) =>
  apiFetch<BankImport>(`/reconciliation/imports${qs({ schoolId, format })}`, { method: 'POST', rawBody: file, headers: { 'content-type': CONTENT_TYPES[format] } });

const PAGE_SIZE = 25;

export const linesQuery = (schoolId: string, status: LineStatus) =>
  infiniteQueryOptions({
    queryKey: ['reconciliation', 'lines', schoolId, status],
    queryFn: ({ signal, pageParam }) => apiFetch<BankLinePage>(`/reconciliation/lines${qs({ schoolId, status, cursor: pageParam, limit: PAGE_SIZE })}`, { signal }),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.nextCursor ?? undefined,
    enabled: schoolId !== '',
  });

/** The school's lines by status (every page carries them; one line is the cheapest page). */
export const countsQuery = (schoolId: string) =>
  queryOptions({
    queryKey: ['reconciliation', 'counts', schoolId],
    queryFn: ({ signal }) => apiFetch<BankLinePage>(`/reconciliation/lines${qs({ schoolId, limit: 1 })}`, { signal }).then((page) => page.counts),
    enabled: schoolId !== '',
  });

export const mappingQuery = (schoolId: string) =>
  queryOptions({
    queryKey: ['reconciliation', 'mapping', schoolId],
    queryFn: ({ signal }) => apiFetch<StatementMapping>(`/schools/${schoolId}/statement-mapping`, { signal }),
    enabled: schoolId !== '',
  });

export const saveMapping = (schoolId: string, mapping: CsvMapping) => apiFetch<StatementMapping>(`/schools/${schoolId}/statement-mapping`, { method: 'PUT', body: mapping });

export type MatchTarget = Record<string, never> | { invoiceId: string } | { familyId: string };
export const matchLine = (id: string, target: MatchTarget) => apiFetch<BankLine>(`/reconciliation/lines/${id}/match`, { method: 'POST', body: target });
export const unmatchLine = (id: string, reason: string) => apiFetch<BankLine>(`/reconciliation/lines/${id}/unmatch`, { method: 'POST', body: { reason } });
export const ignoreLine = (id: string, reason: string) => apiFetch<BankLine>(`/reconciliation/lines/${id}/ignore`, { method: 'POST', body: reason === '' ? {} : { reason } });

/** Families of the school whose name contains `q` or whose reference starts with it (GET /families?q=). */
export const familySearchQuery = (schoolId: string, q: string) =>
  queryOptions({
    queryKey: ['families', 'list', schoolId, q, 'reconciliation'],
    queryFn: ({ signal }) => apiFetch<Page<FamilyListItem>>(`/families${qs({ schoolId, q, limit: 8 })}`, { signal }).then((page) => page.data),
    enabled: schoolId !== '' && q.length >= 2,
    staleTime: 30_000,
  });

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** The id of the school's open invoice numbered `text` (as printed, any case), or `text` itself when it is an invoice id; null when no open invoice has that number. */
export async function findOpenInvoice(schoolId: string, text: string): Promise<string | null> {
  const wanted = text.trim();
  if (UUID.test(wanted)) {
    return wanted;
  }
  const answer = await apiFetch<Page<Invoice>>(`/invoices${qs({ schoolId, number: wanted, limit: 1 })}`);
  const found = answer.data[0];
  return found !== undefined && found.status !== 'PAID' && found.status !== 'CANCELLED' ? found.id : null;
}

/** After a decision: the queue, the counts and whatever shows the payments it recorded or refunded. */
export async function refreshAfterDecision(queryClient: QueryClient): Promise<void> {
  await Promise.all([
    queryClient.invalidateQueries({ queryKey: ['reconciliation'] }),
    queryClient.invalidateQueries({ queryKey: ['invoices'] }),
    queryClient.invalidateQueries({ queryKey: ['families'] }),
    queryClient.invalidateQueries({ queryKey: ['students'] }),
    queryClient.invalidateQueries({ queryKey: ['reports'] }),
  ]);
}
