import type { PaymentMethod, TransactionStatus } from '../../db/types.js';

/**
 * Live events are transactions rows (migration 0006). An event's id is its position in
 * the commit-safe order (xact_id, id): `<xid>.<uuid>`, opaque to clients, compared
 * here only.
 */
export type LiveEventType = 'payment_received' | 'payment_failed' | 'payment_refunded';

export function eventTypeOf(status: TransactionStatus): LiveEventType {
  switch (status) {
    case 'failed':
      return 'payment_failed';
    case 'refunded':
      return 'payment_refunded';
    case 'succeeded':
    case 'pending':
      return 'payment_received';
  }
}

export interface EventPosition {
  /** xid8 of the writing transaction, as a decimal string. */
  xactId: string;
  id: string;
}

export function eventIdOf(position: EventPosition): string {
  return `${position.xactId}.${position.id}`;
}

const EVENT_ID = /^(\d{1,20})\.([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/i;

/** The position of an event id, or undefined when it is not one. */
export function parseEventId(value: string): EventPosition | undefined {
  const match = EVENT_ID.exec(value);
  return match?.[1] && match[2] ? { xactId: match[1], id: match[2].toLowerCase() } : undefined;
}

/** What a client receives for one event (student name masked per the client's role). */
export interface LivePayment {
  transactionId: string;
  /** The payment this event is about (for a refund: the refunded payment); null for a failed attempt. */
  paymentId: string | null;
  refundId: string | null;
  schoolId: string;
  schoolName: string;
  invoiceId: string | null;
  invoiceNumber: string | null;
  studentName: string | null;
  amount: number;
  currency: string;
  method: PaymentMethod;
  status: TransactionStatus;
  gateway: string;
  failureCode: string | null;
  createdAt: string;
}
