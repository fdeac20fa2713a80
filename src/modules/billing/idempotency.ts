import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import type { Db, Tx } from '../../db/database.js';
import { AppError } from '../../shared/errors.js';

/**
 * Idempotency-Key for money-moving POSTs (SPEC §3), scoped per caller, kept ≥ 24 h.
 *
 * The key is claimed by inserting its row in the SAME transaction as the money write:
 * - a concurrent duplicate blocks on the row's unique index until the first
 *   transaction ends; if it committed, the duplicate finds the stored response and
 *   replays it; if it rolled back (a rejected payment), the duplicate runs for real;
 * - so N concurrent requests with one key make exactly one payment, with no
 *   "in progress" state to time out or clean up after a crash.
 * The same key with a different request (method, path or body) is a 422.
 */
export interface IdempotentRequest {
  userId: string;
  key: string;
  method: string;
  path: string;
  body: unknown;
}

export interface IdempotentResult<T> {
  status: number;
  body: T;
  replayed: boolean;
}

export async function runIdempotent<T>(
  db: Db,
  request: IdempotentRequest,
  work: (trx: Tx) => Promise<{ status: number; body: T }>,
): Promise<IdempotentResult<T>> {
  const hash = requestHash(request);
  return db.transaction().execute(async (trx) => {
    // Claims a new key, or takes over one whose retention has expired (migration 0019).
    const claimed = await sql<{ claimed: boolean | null }>`
      select idempotency_claim(${request.userId}, ${request.key}, ${request.method}, ${request.path}, ${hash}) as claimed`.execute(trx);

    if (claimed.rows[0]?.claimed !== true) {
      const previous = await trx
        .selectFrom('idempotency_keys')
        .select(['request_hash as hash', 'response_status as status', 'response_body as body'])
        .where('user_id', '=', request.userId)
        .where('key', '=', request.key)
        .executeTakeFirstOrThrow();
      if (!previous.hash.equals(hash) || previous.status === null) {
        throw new AppError('IDEMPOTENCY_KEY_REUSED', 'this Idempotency-Key was already used for a different request', {
          errors: [{ field: 'idempotency-key', in: 'headers', message: 'already used with another request body' }],
        });
      }
      return { status: previous.status, body: previous.body as T, replayed: true };
    }

    const result = await work(trx);
    await trx
      .updateTable('idempotency_keys')
      .set({ response_status: result.status, response_body: JSON.stringify(result.body) })
      .where('user_id', '=', request.userId)
      .where('key', '=', request.key)
      .execute();
    return { ...result, replayed: false };
  });
}

/** What identifies a request under one key: method, path and body (canonical JSON), hashed. */
export function requestHash(request: Pick<IdempotentRequest, 'method' | 'path' | 'body'>): Buffer {
  return createHash('sha256').update(`${request.method} ${request.path}\n${canonicalJson(request.body)}`).digest();
}

/** JSON with object keys sorted, so `{a,b}` and `{b,a}` are the same request. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) =>
    item && typeof item === 'object' && !Array.isArray(item)
      ? Object.fromEntries(Object.entries(item as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : item,
  );
}

/**
 * Deletes the keys whose retention has ended (expires_at, 24 h after the first use).
 * Nothing changes for callers: runIdempotent already treats an expired key as new and
 * takes it over; this keeps the table and its index from growing forever. Run by the
 * scheduled maintenance job (src/jobs/maintenance.job.ts); a range scan on
 * idempotency_keys_expires_idx, one hour of keys when run hourly.
 */
export async function purgeExpiredIdempotencyKeys(db: Db | Tx): Promise<number> {
  const result = await db.deleteFrom('idempotency_keys').where('expires_at', '<', sql<Date>`now()`).executeTakeFirst();
  return Number(result.numDeletedRows);
}
