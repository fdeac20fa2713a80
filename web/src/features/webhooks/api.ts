import { queryOptions } from '@tanstack/react-query';
import { apiFetch, qs } from '../../lib/api';

/** Outbound webhooks (src/modules/webhooks/webhooks.schemas.ts). */
export const EVENT_TYPES = [
  'invoice.created',
  'invoice.paid',
  'invoice.overdue',
  'payment.succeeded',
  'payment.failed',
  'refund.created',
  'credit_note.created',
  'reminder.sent',
  'bill_run.finished',
] as const;

export interface WebhookEndpoint {
  id: string;
  url: string;
  description: string | null;
  events: string[];
  schoolIds: string[] | null;
  enabled: boolean;
  disabledReason: string | null;
  owner: { userId: string; username: string };
  createdAt: string;
}
export interface CreatedEndpoint extends WebhookEndpoint {
  secret: string;
}
export interface WebhookDelivery {
  id: string;
  eventId: string;
  webhookId: string;
  eventType: string;
  status: 'pending' | 'succeeded' | 'failed';
  attempts: number;
  createdAt: string;
  lastAttempt: { attempt: number; responseCode: number | null; latencyMs: number; error: string | null } | null;
}
interface Page<T> {
  data: T[];
  nextCursor: string | null;
}

/** The first 100 endpoints (a school has a handful). */
export const endpointsQuery = () =>
  queryOptions({
    queryKey: ['webhook-endpoints'],
    queryFn: ({ signal }) => apiFetch<Page<WebhookEndpoint>>(`/webhook-endpoints${qs({ limit: 100 })}`, { signal }),
  });

/** The newest 50 deliveries of an endpoint, refreshed while shown. */
export const deliveriesQuery = (endpointId: string) =>
  queryOptions({
    queryKey: ['webhook-endpoints', endpointId, 'deliveries'],
    queryFn: ({ signal }) => apiFetch<Page<WebhookDelivery>>(`/webhook-endpoints/${encodeURIComponent(endpointId)}/deliveries${qs({ limit: 50 })}`, { signal }),
    refetchInterval: 2_000,
  });

export const createEndpoint = (body: { url: string; events: string[] }) => apiFetch<CreatedEndpoint>('/webhook-endpoints', { method: 'POST', body });
export const sendTestEvent = (id: string) => apiFetch<{ eventId: string }>(`/webhook-endpoints/${encodeURIComponent(id)}/test`, { method: 'POST', body: {} });
export const replayDelivery = (id: string) => apiFetch<WebhookDelivery>(`/webhook-deliveries/${encodeURIComponent(id)}/replay`, { method: 'POST', body: {} });
