import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { installationValue } from '../../db/app-meta.js';
import type { Db } from '../../db/database.js';
import type { Language } from '../../db/types.js';

/**
 * The bundled gateway simulator (SPEC §8): it stands for an outside payment gateway, so it
 * keeps its own store (migration 0025) and talks to Bursar only as a gateway would — a
 * hosted checkout page for the payer, signed webhooks to POST /gateway/webhooks/simulator,
 * retried with backoff until Bursar answers 2xx.
 *
 * Test cards: 4242 4242 4242 4242 succeeds, 4000 0000 0000 0002 is declined,
 * 4000 0000 0000 9995 fails for insufficient funds; any other number is refused by the
 * page itself (no event).
 */
export const TEST_CARDS = {
  '4242424242424242': { outcome: 'succeeded' },
  '4000000000000002': { outcome: 'failed', code: 'card_declined', message: 'The card was declined' },
  '4000000000009995': { outcome: 'failed', code: 'insufficient_funds', message: 'The card has insufficient funds' },
} as const satisfies Record<string, { outcome: 'succeeded' } | { outcome: 'failed'; code: string; message: string }>;

/** Delivery attempts before the simulator gives an event up (about 4.5 hours of backoff). */
export const MAX_DELIVERY_ATTEMPTS = 12;
const RETRY_BASE_MS = 2_000;
const RETRY_MAX_MS = 3_600_000;
const LEASE_MS = 30_000;

const randomId = (prefix: string) => `${prefix}_${randomBytes(12).toString('base64url')}`;

export interface SimulatorSession {
  id: string;
  merchant: string;
  description: string;
  amount: number;
  currency: string;
  language: Language;
  clientReferenceId: string;
  metadata: Record<string, string>;
  successUrl: string;
  cancelUrl: string;
  status: 'open' | 'complete';
  paymentId: string | null;
  expiresAt: Date;
}

/** The installation's webhook signing secret (app_meta 'gateway_sim_secret', migration 0025). */
export const simulatorSecret = (db: Db): Promise<string> => installationValue(db, 'gateway_sim_secret');

export async function createSimulatorSession(db: Db, values: Omit<SimulatorSession, 'id' | 'status' | 'paymentId'>): Promise<string> {
  const id = randomId('sim_cs');
  await db
    .insertInto('gateway_sim_sessions')
    .values({
      id,
      merchant: values.merchant,
      description: values.description,
      amount: values.amount,
      currency: values.currency,
      language: values.language,
      client_reference_id: values.clientReferenceId,
      metadata: JSON.stringify(values.metadata),
      success_url: values.successUrl,
      cancel_url: values.cancelUrl,
      expires_at: values.expiresAt,
    })
    .execute();
  return id;
}

export async function findSimulatorSession(db: Db, id: string): Promise<SimulatorSession | undefined> {
  const row = await db.selectFrom('gateway_sim_sessions').selectAll().where('id', '=', id).executeTakeFirst();
  return row === undefined
    ? undefined
    : {
        id: row.id,
        merchant: row.merchant,
        description: row.description,
        amount: row.amount,
        currency: row.currency,
        language: row.language,
        clientReferenceId: row.client_reference_id,
        metadata: row.metadata,
        successUrl: row.success_url,
        cancelUrl: row.cancel_url,
        status: row.status,
        paymentId: row.payment_id,
        expiresAt: row.expires_at,
      };
}

export type AttemptResult =
  | { outcome: 'succeeded'; paymentId: string; eventId: string }
  | { outcome: 'failed'; paymentId: string; eventId: string; code: string; message: string }
  | { outcome: 'already_complete' };

/**
 * One payment attempt with a test card: a new gateway payment id, the session completed on
 * success, and the event to send stored in the same transaction (so it is sent, whatever
 * happens to this process after).
 */
export async function attemptPayment(db: Db, session: SimulatorSession, card: keyof typeof TEST_CARDS, now: Date): Promise<AttemptResult> {
  const result = TEST_CARDS[card];
  return db.transaction().execute(async (trx) => {
    const locked = await trx.selectFrom('gateway_sim_sessions').select('status').where('id', '=', session.id).forUpdate().executeTakeFirstOrThrow();
    if (locked.status === 'complete') {
      return { outcome: 'already_complete' } as const;
    }
    const paymentId = randomId('sim_pi');
    const eventId = randomId('evt_sim');
    const body = JSON.stringify({
      id: eventId,
      type: result.outcome === 'succeeded' ? 'payment.succeeded' : 'payment.failed',
      created: Math.floor(now.getTime() / 1000),
      data: {
        sessionId: session.id,
        paymentId,
        amount: session.amount,
        currency: session.currency,
        clientReferenceId: session.clientReferenceId,
        metadata: session.metadata,
        ...(result.outcome === 'failed' ? { failureCode: result.code, failureMessage: result.message } : {}),
      },
    });
    if (result.outcome === 'succeeded') {
      await trx.updateTable('gateway_sim_sessions').set({ status: 'complete', payment_id: paymentId }).where('id', '=', session.id).execute();
    }
    await trx.insertInto('gateway_sim_events').values({ id: eventId, session_id: session.id, body, next_attempt_at: now }).execute();
    return result.outcome === 'succeeded' ? { outcome: 'succeeded', paymentId, eventId } : { outcome: 'failed', paymentId, eventId, code: result.code, message: result.message };
  });
}

export type SendWebhook = (body: string) => Promise<{ ok: boolean; status: number | string }>;

/**
 * Sends what is due (one event, or every event whose retry time has come), each under a
 * lease so two processes never send one at once; a 2xx marks it delivered, anything else
 * schedules the next try (2 s, 4 s, 8 s … up to an hour) until MAX_DELIVERY_ATTEMPTS.
 */
export async function deliverDue(db: Db, send: SendWebhook, now: Date, only?: string): Promise<{ delivered: number; failed: number }> {
  const claimed = await sql<{ id: string; body: string; attempts: number }>`
    update gateway_sim_events e set lease_until = ${new Date(now.getTime() + LEASE_MS)}
     where e.id in (
       select id from gateway_sim_events
        where delivered_at is null and attempts < ${MAX_DELIVERY_ATTEMPTS}
          and next_attempt_at <= ${now} and (lease_until is null or lease_until < ${now})
          ${only === undefined ? sql`` : sql`and id = ${only}`}
        order by next_attempt_at
        limit 50
        for update skip locked)
    returning e.id, e.body, e.attempts`.execute(db);
  let delivered = 0;
  let failed = 0;
  for (const event of claimed.rows) {
    let outcome: { ok: boolean; status: number | string };
    try {
      outcome = await send(event.body);
    } catch (error) {
      outcome = { ok: false, status: (error as Error).message };
    }
    if (outcome.ok) {
      delivered++;
      await db.updateTable('gateway_sim_events').set({ delivered_at: new Date(), lease_until: null, attempts: event.attempts + 1, last_error: null }).where('id', '=', event.id).execute();
    } else {
      failed++;
      const delay = Math.min(RETRY_BASE_MS * 2 ** event.attempts, RETRY_MAX_MS);
      await db
        .updateTable('gateway_sim_events')
        .set({ attempts: event.attempts + 1, next_attempt_at: new Date(now.getTime() + delay), lease_until: null, last_error: String(outcome.status).slice(0, 500) })
        .where('id', '=', event.id)
        .execute();
    }
  }
  return { delivered, failed };
}
