import { keepPreviousData, queryOptions } from '@tanstack/react-query';
import { apiFetch, qs } from '../../lib/api';

/**
 * Live analytics, as the server defines them (src/modules/analytics/analytics.schemas.ts
 * and src/modules/live): GET /analytics/metrics, /analytics/trends, /analytics/methods,
 * /transactions and the WebSocket /live. Amounts are integer minor units with their
 * ISO 4217 currency; nothing is ever summed across currencies.
 */
export type Period = 'day' | 'week' | 'month';

export interface CurrencyMetrics {
  currency: string;
  /** Succeeded − refunded amount in the window (may be negative). */
  totalVolume: number;
  /** Succeeded transactions. */
  totalPayments: number;
  /** succeeded / (succeeded + failed); null when neither. */
  successRate: number | null;
  averageAmount: number;
  /** Hour of day (in the report's timeZone) with the most succeeded payments; null when none. */
  peakHour: number | null;
  topPaymentMethod: string | null;
  failedPayments: number;
  refundedAmount: number;
  succeededAmount: number;
  refunds: number;
}
export interface Metrics {
  period: Period;
  /** The IANA zone peakHour is in (the one asked for). */
  timeZone: string;
  from: string;
  to: string;
  byCurrency: CurrencyMetrics[];
  generatedAt: string;
}
export interface TrendPoint {
  /** Start (a UTC instant) of the hour (period=day) or the day, in the report's timeZone. */
  bucket: string;
  currency: string;
  /** Succeeded amount and count. */
  amount: number;
  count: number;
  /** Failed attempts. */
  failed: number;
  /** Refunded amount. */
  refunded: number;
}
export interface Trends {
  period: Period;
  unit: 'hour' | 'day';
  timeZone: string;
  from: string;
  to: string;
  points: TrendPoint[];
}
export interface Methods {
  period: Period;
  from: string;
  to: string;
  methods: { method: string; currency: string; amount: number; count: number; failed: number; refunded: number }[];
}

export type LiveEventType = 'payment_received' | 'payment_failed' | 'payment_refunded';

/** What a live event carries (the student name is initials for roles that see PII masked). */
export interface LivePayment {
  transactionId: string;
  schoolId: string;
  schoolName: string;
  invoiceId: string | null;
  invoiceNumber: string | null;
  studentName: string | null;
  amount: number;
  currency: string;
  method: string;
  status: 'succeeded' | 'failed' | 'refunded' | 'pending';
  gateway: string;
  failureCode: string | null;
  createdAt: string;
}
export interface LiveEvent {
  /** The event id (`<xid>.<uuid>`): the resume position. History rows without one get `tx:<transaction id>`. */
  id: string;
  type: LiveEventType;
  payment: LivePayment;
}

/** A row of GET /transactions (newest first). */
export interface Transaction extends Omit<LivePayment, 'transactionId'> {
  id: string;
  /** The live event id; null for bulk-loaded history. */
  eventId: string | null;
  type: LiveEventType;
}

/** Messages the server sends on /api/v1/live (the client sends none: any message closes the socket with 1003). */
export type ServerMessage =
  | { type: 'hello'; lastEventId: string; heartbeatMs: number; timestamp: string }
  | { type: 'heartbeat'; timestamp: string }
  | { type: LiveEventType; id: string; payment: LivePayment; timestamp: string };

export const isEventMessage = (message: ServerMessage): message is Extract<ServerMessage, { type: LiveEventType }> =>
  message.type === 'payment_received' || message.type === 'payment_failed' || message.type === 'payment_refunded';

const REFRESH_MS = 30_000;

/** `timeZone`: the school's for one school, the viewer's across schools; it moves the peak hour and the trend buckets. */
export const metricsQuery = (period: Period, schoolId: string, timeZone: string) =>
  queryOptions({
    queryKey: ['analytics', 'metrics', period, schoolId, timeZone],
    queryFn: ({ signal }) => apiFetch<Metrics>(`/analytics/metrics${qs({ period, schoolId, timeZone })}`, { signal }),
    refetchInterval: REFRESH_MS,
    placeholderData: keepPreviousData,
  });

export const trendsQuery = (period: Period, schoolId: string, timeZone: string) =>
  queryOptions({
    queryKey: ['analytics', 'trends', period, schoolId, timeZone],
    queryFn: ({ signal }) => apiFetch<Trends>(`/analytics/trends${qs({ period, schoolId, timeZone })}`, { signal }),
    refetchInterval: REFRESH_MS,
    placeholderData: keepPreviousData,
  });

export const methodsQuery = (period: Period, schoolId: string) =>
  queryOptions({
    queryKey: ['analytics', 'methods', period, schoolId],
    queryFn: ({ signal }) => apiFetch<Methods>(`/analytics/methods${qs({ period, schoolId })}`, { signal }),
    refetchInterval: REFRESH_MS,
    placeholderData: keepPreviousData,
  });

/**
 * The latest transactions, to fill the stream below the live events. Fetched once the
 * socket's hello has arrived (see useLiveFeed), so every event up to the hello's
 * position is in this list and every later one comes over the socket.
 */
export const recentTransactionsQuery = (enabled: boolean) =>
  queryOptions({
    queryKey: ['transactions', 'recent'],
    queryFn: ({ signal }) => apiFetch<{ data: Transaction[]; nextCursor: string | null }>('/transactions?limit=50', { signal }),
    staleTime: Infinity,
    gcTime: 0,
    enabled,
  });

/** A transaction row as the event it was announced as. */
export function eventOfTransaction(row: Transaction): LiveEvent {
  const { id, eventId, type, ...rest } = row;
  return { id: eventId ?? `tx:${id}`, type, payment: { transactionId: id, ...rest } };
}
