import http from 'node:http';
import https from 'node:https';
import { sql } from 'kysely';
import { Webhook } from 'standardwebhooks';
import type { Db } from '../../db/database.js';
import type { Role } from '../../db/types.js';
import { ROLE_POLICY } from '../../shared/policy.js';
import { recordAudit } from '../audit/audit.repository.js';
import { queueStaffNotice } from '../messages/messages.service.js';
import { maskData } from './webhooks.events.js';
import { checkDeliveryTarget, guardedLookup } from './webhooks.url.js';

/**
 * Delivery of the webhook outbox (SPEC §9). A round claims due deliveries with `for
 * update skip locked` and a lease (two workers never hold the same one; a worker killed
 * mid-delivery only delays it until its lease ends, then it goes again with the same
 * `webhook-id`: at least once, a duplicate only ever as such a retry). A delivery is not
 * claimed while its endpoint has an earlier pending delivery of the same object (in
 * order per object, by the event's commit sequence), nor while its endpoint is disabled.
 *
 * Each claimed delivery is signed (Standard Webhooks: `webhook-id` = the event id,
 * `webhook-timestamp`, `webhook-signature` = v1,base64(HMAC-SHA256); during a rotation's
 * overlap a second one, the old secret's, after a space), POSTed with a
 * timeout, the target checked again at connect time (SSRF: DNS may have changed), and
 * the attempt recorded (request body, response code, latency, attempt number, error):
 *   - 2xx → succeeded;
 *   - anything else → again at now + base · 2^(attempts−1) (capped at 6 h) with full
 *     jitter in [½, 1½), until 3 days have passed since its first attempt; then it is
 *     failed, its endpoint disabled, and the owner told by a message in the outbox.
 * Time is `now`, from the worker's injectable clock.
 */
export interface WebhookDeliveryOptions {
  now: Date;
  /** WEBHOOKS_ALLOW_LOCAL: http on loopback, private addresses. */
  allowLocal: boolean;
  timeoutMs: number;
  batchSize?: number;
  /** How long a claim holds a delivery; longer than the timeout. */
  leaseSeconds?: number;
  /** Requests in flight at once. */
  concurrency?: number;
  retryBaseSeconds?: number;
  /** 0..1; tests pass a fixed one. */
  random?: () => number;
}

export interface WebhookTotals {
  claimed: number;
  succeeded: number;
  retried: number;
  failed: number;
  disabled: number;
}

/** Deliveries are retried for this long from their first attempt, then the endpoint is disabled. */
export const RETRY_WINDOW_MS = 3 * 86_400_000;
const MAX_DELAY_MS = 6 * 3_600_000;
/** At most this much of a request body is kept in the attempt log (the body itself is never cut). */
const LOGGED_BODY_MAX = 65_536;

interface Claimed {
  schoolId: string;
  id: string;
  attempts: number;
  firstAttemptAt: Date;
  eventId: string;
  type: string;
  data: Record<string, unknown>;
  occurredAt: Date;
  endpointId: string;
  url: string;
  secret: string;
  /** The secret before the last rotation, while it still signs (migration 0039); null otherwise. */
  previousSecret: string | null;
  ownerId: string;
  ownerRole: Role;
  ownerUsername: string;
}

/** The delay before the next attempt after `attempts` failed ones. */
export function webhookRetryDelayMs(attempts: number, baseSeconds: number, random: () => number): number {
  const base = Math.min(MAX_DELAY_MS, baseSeconds * 1000 * 2 ** Math.max(0, attempts - 1));
  return Math.round(base * (0.5 + random()));
}

/** The body POSTed for an event to an endpoint whose owner has this role. */
export function webhookBody(event: { type: string; occurredAt: Date; data: Record<string, unknown> }, role: Role): string {
  return JSON.stringify({ type: event.type, timestamp: event.occurredAt.toISOString(), data: maskData(event.type, event.data, ROLE_POLICY[role].pii) });
}

const agents = { http: new http.Agent({ keepAlive: true, maxSockets: 256 }), https: new https.Agent({ keepAlive: true, maxSockets: 256 }) };

interface PostResult {
  status: number | null;
  error: string | null;
  latencyMs: number;
}

/** One POST with a timeout over the whole exchange; never throws. */
function post(target: URL, headers: Record<string, string>, body: string, options: { timeoutMs: number; allowLocal: boolean }): Promise<PostResult> {
  const started = performance.now();
  const latency = () => Math.max(0, Math.round(performance.now() - started));
  try {
    checkDeliveryTarget(target, options.allowLocal);
  } catch (error) {
    return Promise.resolve({ status: null, error: `refused: ${(error as Error).message}`, latencyMs: latency() });
  }
  return new Promise((resolve) => {
    let settled = false;
    const done = (result: Omit<PostResult, 'latencyMs'>) => {
      if (!settled) {
        settled = true;
        clearTimeout(timer);
        resolve({ ...result, latencyMs: latency() });
      }
    };
    const secure = target.protocol === 'https:';
    const request = (secure ? https : http).request(target, {
      method: 'POST',
      agent: secure ? agents.https : agents.http,
      lookup: guardedLookup(options.allowLocal),
      headers: { ...headers, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), 'user-agent': 'Bursar-Webhooks/1' },
    });
    const timer = setTimeout(() => {
      request.destroy(new Error(`timed out after ${options.timeoutMs} ms`));
    }, options.timeoutMs);
    request.on('response', (response) => {
      // The answer's body is not kept; read (and drop) it so the socket can be reused.
      response.on('data', () => undefined);
      response.on('end', () => done({ status: response.statusCode ?? null, error: null }));
      response.on('error', (error) => done({ status: response.statusCode ?? null, error: error.message }));
    });
    request.on('error', (error) => done({ status: null, error: error.message.slice(0, 500) }));
    request.end(body);
  });
}

/** One round: claims up to batchSize due deliveries and delivers them. */
export async function deliverDueWebhooks(db: Db, options: WebhookDeliveryOptions): Promise<WebhookTotals> {
  const batchSize = options.batchSize ?? 100;
  // Twice the timeout and a margin: a live worker always records before its claim ends.
  const leaseSeconds = options.leaseSeconds ?? 2 * Math.ceil(options.timeoutMs / 1000) + 2;
  const random = options.random ?? Math.random;
  const now = options.now;
  const leaseUntil = new Date(now.getTime() + leaseSeconds * 1000);
  const { rows: claimed } = await sql<Claimed>`
    with claimed as (
      update webhook_deliveries d
         set lease_until = ${leaseUntil}, attempts = d.attempts + 1, first_attempt_at = coalesce(d.first_attempt_at, ${now}), updated_at = now()
        from (select d1.school_id, d1.id
                from webhook_deliveries d1
                join webhook_endpoints e on e.id = d1.endpoint_id
               where d1.status = 'pending' and d1.next_attempt_at <= ${now} and (d1.lease_until is null or d1.lease_until <= ${now})
                 and e.enabled and e.deleted_at is null
                 and not exists (select 1 from webhook_deliveries d0
                                  where d0.endpoint_id = d1.endpoint_id and d0.object_id = d1.object_id
                                    and d0.status = 'pending' and d0.event_seq < d1.event_seq)
               order by d1.next_attempt_at, d1.event_seq
               limit ${batchSize}
                 for update of d1 skip locked) due
       where d.school_id = due.school_id and d.id = due.id
      returning d.school_id, d.id, d.attempts, d.first_attempt_at, d.event_id, d.endpoint_id
    )
    select c.school_id as "schoolId", c.id, c.attempts, c.first_attempt_at as "firstAttemptAt",
           ev.id as "eventId", ev.type, ev.data, ev.occurred_at as "occurredAt",
           e.id as "endpointId", e.url, e.secret,
           case when e.previous_secret_until > ${now} then e.previous_secret end as "previousSecret", e.owner_id as "ownerId", u.role as "ownerRole", u.username as "ownerUsername"
      from claimed c
      join webhook_events ev on ev.school_id = c.school_id and ev.id = c.event_id
      join webhook_endpoints e on e.id = c.endpoint_id
      join users u on u.id = e.owner_id`.execute(db);

  const totals: WebhookTotals = { claimed: claimed.length, succeeded: 0, retried: 0, failed: 0, disabled: 0 };
  const queue = [...claimed];
  const worker = async () => {
    for (let delivery = queue.shift(); delivery !== undefined; delivery = queue.shift()) {
      await deliverOne(db, delivery, options, random, totals);
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency ?? 32, claimed.length) }, worker));
  return totals;
}

async function deliverOne(db: Db, delivery: Claimed, options: WebhookDeliveryOptions, random: () => number, totals: WebhookTotals): Promise<void> {
  const now = options.now;
  const body = webhookBody(delivery, delivery.ownerRole);
  // During a rotation's overlap the old secret signs too: Standard Webhooks separates
  // signatures with a space, and a receiver accepts the delivery if any one verifies.
  const signature = [delivery.secret, ...(delivery.previousSecret === null ? [] : [delivery.previousSecret])]
    .map((secret) => new Webhook(secret).sign(delivery.eventId, now, body))
    .join(' ');
  const headers = {
    'webhook-id': delivery.eventId,
    'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
    'webhook-signature': signature,
  };
  const result = await post(new URL(delivery.url), headers, body, options);
  const ok = result.status !== null && result.status >= 200 && result.status < 300;
  const error = ok ? null : (result.error ?? `HTTP ${result.status ?? '?'}`);
  const giveUp = !ok && now.getTime() - delivery.firstAttemptAt.getTime() >= RETRY_WINDOW_MS;

  await db.transaction().execute(async (trx) => {
    await trx
      .insertInto('webhook_attempts')
      .values({
        school_id: delivery.schoolId,
        delivery_id: delivery.id,
        attempt: delivery.attempts,
        webhook_id: delivery.eventId,
        request_body: body.slice(0, LOGGED_BODY_MAX),
        response_code: result.status,
        latency_ms: result.latencyMs,
        error,
        attempted_at: now,
      })
      .execute();
    // Only while our claim holds (same attempt number, still pending): a worker whose
    // lease ran out must not overwrite what the next one recorded.
    const mine = trx
      .updateTable('webhook_deliveries')
      .where('school_id', '=', delivery.schoolId)
      .where('id', '=', delivery.id)
      .where('status', '=', 'pending')
      .where('attempts', '=', delivery.attempts);
    const last = { last_status_code: result.status, last_error: error, last_latency_ms: result.latencyMs, lease_until: null, updated_at: sql<Date>`now()` };
    if (ok) {
      await mine.set({ ...last, status: 'succeeded', delivered_at: now }).execute();
      totals.succeeded += 1;
      return;
    }
    if (!giveUp) {
      await mine.set({ ...last, next_attempt_at: new Date(now.getTime() + webhookRetryDelayMs(delivery.attempts, options.retryBaseSeconds ?? 5, random)) }).execute();
      totals.retried += 1;
      return;
    }
    const updated = await mine.set({ ...last, status: 'failed' }).executeTakeFirst();
    totals.failed += 1;
    if (updated.numUpdatedRows === 0n) {
      return;
    }
    const disabled = await trx
      .updateTable('webhook_endpoints')
      .set({ enabled: false, disabled_at: now, disabled_reason: `3 days of failed deliveries (last: ${error ?? 'unknown'})`.slice(0, 500), updated_at: sql<Date>`now()` })
      .where('id', '=', delivery.endpointId)
      .where('enabled', '=', true)
      .executeTakeFirst();
    if (disabled.numUpdatedRows > 0n) {
      totals.disabled += 1;
      await queueStaffNotice(trx, {
        schoolId: delivery.schoolId,
        kind: 'webhook_disabled',
        dedupeKey: `webhook_disabled:${delivery.endpointId}:${now.toISOString()}`,
        recipient: delivery.ownerUsername,
        subject: 'A webhook endpoint was disabled',
        body:
          `Your webhook endpoint ${delivery.url} (${delivery.endpointId}) failed every delivery for 3 days and was disabled on ${now.toISOString()}.\n` +
          `Last error: ${error ?? 'unknown'}.\nFix the receiver, then enable it again (PATCH /api/v1/webhook-endpoints/${delivery.endpointId} {"enabled": true}) ` +
          'and replay what it missed from its delivery log.',
      });
      await recordAudit(trx, null, { action: 'webhook_endpoint.disable', entityType: 'webhook_endpoint', entityId: delivery.endpointId, changes: { reason: 'failing for 3 days', lastError: error } });
    }
  });
}
