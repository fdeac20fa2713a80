import { sql } from 'kysely';
import type { DbOrTx } from '../../db/database.js';
import type { PaymentMethod, TransactionStatus } from '../../db/types.js';
import type { EventPosition } from './events.js';

/**
 * The SQL of the live feed (migration 0006). Events are transactions rows with an
 * xact_id, read in (xact_id, id) order through transactions_events_idx, and only below
 * the horizon: xact_id < the oldest transaction still running, so no event can ever
 * appear before one already read.
 */

/** One event row, before masking (names in clear, for the hub to mask per client). */
export interface EventRow {
  xactId: string;
  id: string;
  paymentId: string | null;
  refundId: string | null;
  schoolId: string;
  schoolName: string;
  currency: string;
  invoiceId: string | null;
  invoiceNumber: string | null;
  firstName: string | null;
  lastName: string | null;
  amount: number;
  method: PaymentMethod;
  status: TransactionStatus;
  gateway: string;
  failureCode: string | null;
  createdAt: Date;
}

/** The first position not yet final: events strictly below it can be published. */
export async function horizon(db: DbOrTx): Promise<string> {
  const { rows } = await sql<{ xmin: string }>`select pg_snapshot_xmin(pg_current_snapshot())::text as xmin`.execute(db);
  const xmin = rows[0]?.xmin;
  if (xmin === undefined) {
    throw new Error('no snapshot horizon');
  }
  return xmin;
}

/** The position just before every event of transaction `xactId` and later. */
export function positionBefore(xactId: string): EventPosition {
  return { xactId, id: '00000000-0000-0000-0000-000000000000' };
}

/** -1, 0 or 1 as `a` is before, at or after `b` in event order. */
export function comparePositions(a: EventPosition, b: EventPosition): number {
  const x = BigInt(a.xactId) - BigInt(b.xactId);
  if (x !== 0n) {
    return x < 0n ? -1 : 1;
  }
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

export interface EventRange {
  /** Exclusive lower bound. */
  after: EventPosition;
  /** Inclusive upper bound; or `below` for "every final event". */
  upTo?: EventPosition;
  /** Exclusive bound on xact_id: the horizon. */
  below?: string;
  /** Only these schools (undefined: all). */
  schoolIds?: readonly string[];
  limit: number;
}

/** Final events in (after, upTo] or (after, horizon), oldest first, at most `limit`. */
export async function eventsIn(db: DbOrTx, range: EventRange): Promise<EventRow[]> {
  if (range.schoolIds !== undefined && range.schoolIds.length === 0) {
    return [];
  }
  const { rows } = await sql<EventRow>`
    select t.xact_id::text as "xactId", t.id, t.payment_id as "paymentId", t.refund_id as "refundId", t.school_id as "schoolId", s.name as "schoolName", s.currency,
           t.invoice_id as "invoiceId", i.number as "invoiceNumber", st.first_name as "firstName", st.last_name as "lastName",
           t.amount, t.method, t.status, t.gateway, t.failure_code as "failureCode", t.created_at as "createdAt"
      from transactions t
      join schools s on s.id = t.school_id
      left join invoices i on i.id = t.invoice_id
      left join students st on st.id = i.student_id
     where t.xact_id is not null
       and (t.xact_id, t.id) > (${range.after.xactId}::xid8, ${range.after.id}::uuid)
       ${range.upTo === undefined ? sql`` : sql`and (t.xact_id, t.id) <= (${range.upTo.xactId}::xid8, ${range.upTo.id}::uuid)`}
       ${range.below === undefined ? sql`` : sql`and t.xact_id < ${range.below}::xid8`}
       ${range.schoolIds === undefined ? sql`` : sql`and t.school_id in (${sql.join(range.schoolIds)})`}
     order by t.xact_id, t.id
     limit ${range.limit}`.execute(db);
  return rows;
}
