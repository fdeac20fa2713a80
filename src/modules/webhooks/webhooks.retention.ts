import { sql } from 'kysely';
import type { Db, DbOrTx, Tx } from '../../db/database.js';
import type { WebhookDeliveryStatus } from '../../db/types.js';
import { DAY_MS } from '../../shared/time.js';

/**
 * Retention of the webhook outbox (docs/webhooks.md, Retention). Events, deliveries and
 * attempts (each attempt keeps the whole request body) were kept forever; the scheduled
 * maintenance job (src/jobs/maintenance.job.ts) now deletes every event older than the
 * cut-off whose deliveries are all finished (succeeded or failed), with those deliveries
 * and their attempts, a batch per transaction: the first run after months of backlog
 * commits as it goes instead of holding one transaction over millions of rows. An event
 * with a pending delivery stays whatever its age: the worker may still send it, or a
 * person replayed it. Endpoints are configuration and are never purged.
 */
export interface WebhookPurge {
  events: number;
  deliveries: number;
  attempts: number;
}

/** Events per round: each round is one transaction, and its statements' arrays of keys this long at most. */
export const WEBHOOK_PURGE_BATCH = 5_000;

/**
 * invoice.overdue events are also the collections run's record that an invoice's event
 * was published (publishOverdue skips an invoice that has one) for invoices due in the 7
 * days before the run's school day; purged sooner, the daily run would publish it again.
 * They are kept this long whatever WEBHOOK_RETENTION_DAYS says (a day of margin for zones).
 */
export const OVERDUE_EVENTS_MIN_DAYS = 8;

interface Key {
  schoolId: string;
  id: string;
}

interface LockedDelivery extends Key {
  eventId: string;
  status: WebhookDeliveryStatus;
}

const keys = (rows: readonly Key[]) =>
  sql`unnest(${rows.map((row) => row.schoolId)}::uuid[], ${rows.map((row) => row.id)}::uuid[]) as k(school_id, id)`;

const count = (result: { numAffectedRows?: bigint }) => Number(result.numAffectedRows ?? 0n);

/**
 * Deletes the events that occurred before `before` and whose deliveries are all finished,
 * with their deliveries and attempts, `batch` events per round, each round its own
 * transaction, until a round finds fewer. A failure stops it with the rounds before it
 * committed (the next run goes on). `onRound` hears the running total after each commit.
 */
export async function purgeOldWebhookRows(
  db: Db,
  options: {
    before: Date;
    /** Now, for the 8-day floor of invoice.overdue events (the caller's clock, as `before` is); default the system clock. */
    now?: Date;
    batch?: number;
    onRound?: (total: WebhookPurge) => void | Promise<void>;
  },
): Promise<WebhookPurge> {
  const batch = options.batch ?? WEBHOOK_PURGE_BATCH;
  if (!Number.isInteger(batch) || batch < 1) {
    throw new RangeError(`batch must be a positive integer (got ${batch})`);
  }
  if (db.isTransaction) {
    throw new TypeError('purgeOldWebhookRows commits a transaction per round: pass the database (or a connection), not a transaction');
  }
  const total: WebhookPurge = { events: 0, deliveries: 0, attempts: 0 };
  const cutOff = cutOffs(options.before, options.now ?? new Date());
  for (;;) {
    const { candidates, purged } = await db.transaction().execute((trx) => purgeWebhookRound(trx, cutOff, batch));
    total.events += purged.events;
    total.deliveries += purged.deliveries;
    total.attempts += purged.attempts;
    await options.onRound?.({ ...total });
    // A round that deleted nothing (every candidate replayed meanwhile) ends it too: the
    // next slot goes on, and no disagreement between the two checks can make this spin.
    if (candidates < batch || purged.events === 0) {
      return total;
    }
  }
}

/**
 * One round in the caller's transaction: up to `limit` of the oldest finished events
 * before the cut-offs, deleted with their deliveries and attempts. The deliveries stay locked
 * from the check to the commit. Answers how many events it looked at and what it deleted.
 */
export async function purgeWebhookRound(trx: Tx, cutOff: CutOffs, limit: number): Promise<{ candidates: number; purged: WebhookPurge }> {
  const candidates = await finishedEventsBefore(trx, cutOff, limit);
  return { candidates: candidates.length, purged: await purgeEvents(trx, candidates) };
}

/** Events older than `before` are purged; invoice.overdue events only when older than `overdueBefore` as well. */
export interface CutOffs {
  before: Date;
  overdueBefore: Date;
}

/** The cut-offs of a retention ending at `before`, read at `now`: invoice.overdue events stay OVERDUE_EVENTS_MIN_DAYS at least. */
export function cutOffs(before: Date, now: Date): CutOffs {
  return { before, overdueBefore: new Date(Math.min(before.getTime(), now.getTime() - OVERDUE_EVENTS_MIN_DAYS * DAY_MS)) };
}

/** Up to `limit` events, oldest first, that occurred before the cut-off with no pending delivery. */
async function finishedEventsBefore(db: DbOrTx, cutOff: CutOffs, limit: number): Promise<Key[]> {
  const { rows } = await sql<Key>`
    select e.school_id as "schoolId", e.id
      from webhook_events e
     where e.occurred_at < ${cutOff.before}
       and (e.type <> 'invoice.overdue' or e.occurred_at < ${cutOff.overdueBefore})
       and not exists (select 1 from webhook_deliveries d
                        where d.school_id = e.school_id and d.event_id = e.id and d.status = 'pending')
     order by e.occurred_at
     limit ${limit}`.execute(db);
  return rows;
}

/**
 * Deletes these events, their deliveries and attempts (children first, for the foreign
 * keys), except an event that has a pending delivery once its deliveries are locked.
 *
 * The check above saw a snapshot: a replay (webhooks.repository.ts, replay) may have set
 * one of the deliveries pending since, and a delete would still take the row after the
 * replay commits. Locking them first waits for such a replay and answers the status it
 * committed; from then on a replay waits for this transaction and finds no delivery (404).
 */
async function purgeEvents(trx: Tx, candidates: readonly Key[]): Promise<WebhookPurge> {
  if (candidates.length === 0) {
    return { events: 0, deliveries: 0, attempts: 0 };
  }
  const { rows: deliveries } = await sql<LockedDelivery>`
    select d.school_id as "schoolId", d.id, d.event_id as "eventId", d.status
      from ${keys(candidates)}
      join webhook_deliveries d on d.school_id = k.school_id and d.event_id = k.id
       for update of d`.execute(trx);
  const pending = new Set(deliveries.filter((d) => d.status === 'pending').map((d) => `${d.schoolId}/${d.eventId}`));
  const events = candidates.filter((e) => !pending.has(`${e.schoolId}/${e.id}`));
  const gone = deliveries.filter((d) => !pending.has(`${d.schoolId}/${d.eventId}`));
  const attempts = await sql`delete from webhook_attempts a using ${keys(gone)} where a.school_id = k.school_id and a.delivery_id = k.id`.execute(trx);
  const deleted = await sql`delete from webhook_deliveries d using ${keys(gone)} where d.school_id = k.school_id and d.id = k.id`.execute(trx);
  const purged = await sql`delete from webhook_events e using ${keys(events)} where e.school_id = k.school_id and e.id = k.id`.execute(trx);
  return { events: count(purged), deliveries: count(deleted), attempts: count(attempts) };
}
