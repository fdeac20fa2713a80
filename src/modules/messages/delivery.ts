import { sql } from 'kysely';
import type { Db } from '../../db/database.js';
import type { Language, ReminderChannel } from '../../db/types.js';
import { publishReminderSent } from '../webhooks/webhooks.outbox.js';
import type { Channels, SendOutcome } from './channels.js';

/**
 * The delivery of queued messages (SPEC §8): a worker claims the messages that are due
 * (status `queued`, next_attempt_at reached, no live lease) with `for update skip locked`
 * and a lease, so two workers never hold the same message and a worker that dies
 * mid-send only delays it until its lease ends. Each message goes through its channel's
 * adapter and is then recorded:
 *   - sent → `sent` (sent_at, the provider's id);
 *   - bounced → `bounced` (the error; not retried);
 *   - retry → attempts < maxAttempts: `queued` again at now + base · 2^(attempts−1),
 *     with ±25 % jitter; else `failed`. The last error is kept either way.
 * A message whose channel has no adapter any more (the configuration changed) moves to the
 * outbox rather than wait forever. Delivery is at least once: a worker that dies after the
 * server accepted a mail but before recording it sends it again after the lease (with the
 * same Message-ID).
 */
export interface DeliveryOptions {
  now: Date;
  maxAttempts: number;
  retryBaseSeconds: number;
  /** Messages claimed per round. */
  batchSize?: number;
  /** How long a claim holds a message (seconds). */
  leaseSeconds?: number;
  /** Sends in flight at once. */
  concurrency?: number;
  /** 0..1; tests pass a fixed one. */
  random?: () => number;
}

export interface DeliveryTotals {
  claimed: number;
  sent: number;
  bounced: number;
  retried: number;
  failed: number;
  outboxed: number;
}

interface Claimed {
  schoolId: string;
  id: string;
  kind: 'reminder' | 'invitation' | 'webhook_disabled';
  channel: ReminderChannel;
  language: Language;
  recipient: string;
  subject: string | null;
  body: string;
  attempts: number;
}

/** The delay before the next attempt after `attempts` failed ones. */
export function retryDelayMs(attempts: number, baseSeconds: number, random: () => number): number {
  const base = baseSeconds * 1000 * 2 ** Math.max(0, attempts - 1);
  return Math.round(base * (0.75 + 0.5 * random()));
}

/** One round: claims up to batchSize due messages and delivers them. */
export async function deliverDue(db: Db, channels: Channels, options: DeliveryOptions): Promise<DeliveryTotals> {
  const batchSize = options.batchSize ?? 50;
  const leaseSeconds = options.leaseSeconds ?? 120;
  const random = options.random ?? Math.random;
  const now = options.now;
  const leaseUntil = new Date(now.getTime() + leaseSeconds * 1000);
  const { rows: claimed } = await sql<Claimed>`
    update messages m
       set lease_until = ${leaseUntil}, attempts = m.attempts + 1, updated_at = now()
      from (select school_id, id from messages
             where status = 'queued' and next_attempt_at <= ${now} and (lease_until is null or lease_until <= ${now})
             order by next_attempt_at, id
             limit ${batchSize}
               for update skip locked) due
     where m.school_id = due.school_id and m.id = due.id
    returning m.school_id as "schoolId", m.id, m.kind, m.channel, m.language, m.recipient, m.subject, m.body, m.attempts`.execute(db);

  const totals: DeliveryTotals = { claimed: claimed.length, sent: 0, bounced: 0, retried: 0, failed: 0, outboxed: 0 };
  const queue = [...claimed];
  const worker = async () => {
    for (let message = queue.shift(); message !== undefined; message = queue.shift()) {
      const adapter = channels[message.channel];
      const outcome: SendOutcome | 'outbox' = adapter === undefined ? 'outbox' : await adapter.send(message);
      await record(db, message, outcome, now, options, random, totals);
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency ?? 5, claimed.length) }, worker));
  return totals;
}

async function record(db: Db, message: Claimed, outcome: SendOutcome | 'outbox', now: Date, options: DeliveryOptions, random: () => number, totals: DeliveryTotals) {
  // Only while our claim holds (same attempt number, still queued): a worker whose lease
  // ran out must not overwrite what the next one recorded.
  const mine = db
    .updateTable('messages')
    .where('school_id', '=', message.schoolId)
    .where('id', '=', message.id)
    .where('status', '=', 'queued')
    .where('attempts', '=', message.attempts);
  if (outcome === 'outbox') {
    await mine.set({ status: 'outbox', next_attempt_at: null, lease_until: null, last_error: `no ${message.channel} channel is configured`, updated_at: sql`now()` }).execute();
    totals.outboxed += 1;
  } else if (outcome.status === 'sent') {
    const sent = { status: 'sent', sent_at: now, provider_message_id: outcome.providerMessageId, next_attempt_at: null, lease_until: null, updated_at: sql<Date>`now()` } as const;
    if (message.kind === 'reminder') {
      // reminder.sent to the webhook outbox with the row that records it (SPEC §9).
      await db.transaction().execute(async (trx) => {
        const updated = await trx
          .updateTable('messages')
          .where('school_id', '=', message.schoolId)
          .where('id', '=', message.id)
          .where('status', '=', 'queued')
          .where('attempts', '=', message.attempts)
          .set(sent)
          .executeTakeFirst();
        if (updated.numUpdatedRows > 0n) {
          await publishReminderSent(trx, { schoolId: message.schoolId, id: message.id });
        }
      });
    } else {
      await mine.set(sent).execute();
    }
    totals.sent += 1;
  } else if (outcome.status === 'bounced') {
    await mine.set({ status: 'bounced', last_error: outcome.error, next_attempt_at: null, lease_until: null, updated_at: sql`now()` }).execute();
    totals.bounced += 1;
  } else if (message.attempts >= options.maxAttempts) {
    await mine.set({ status: 'failed', last_error: outcome.error, next_attempt_at: null, lease_until: null, updated_at: sql`now()` }).execute();
    totals.failed += 1;
  } else {
    const next = new Date(now.getTime() + retryDelayMs(message.attempts, options.retryBaseSeconds, random));
    await mine.set({ last_error: outcome.error, next_attempt_at: next, lease_until: null, updated_at: sql`now()` }).execute();
    totals.retried += 1;
  }
}
