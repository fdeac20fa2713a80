import type { Db, Tx } from '../../db/database.js';
import { AppError, notFound } from '../../shared/errors.js';

/**
 * The refusals both one-call money functions raise — record_payment (migration 0031) and
 * record_family_payment (0019) — as PostgreSQL errors of SQLSTATE class BF, turned into
 * the API's errors: BF404 the invoice or family (`subject`) is not visible, BF409 paidAt
 * before the school's window (detail: the first day allowed), BFKEY an Idempotency-Key
 * reused, BFDEM the demo simulator may not act. Anything else is answered unchanged.
 */
export function moneyCallError(error: unknown, subject: string): unknown {
  const pg = error as { code?: unknown; detail?: unknown; message?: unknown };
  switch (pg.code) {
    case 'BF404':
      return notFound(subject);
    case 'BF409': {
      const day = String(pg.detail);
      return new AppError('BUSINESS_RULE_VIOLATION', `paidAt is before ${day}, a year before the school was registered in Bursar`, {
        errors: [{ field: 'paidAt', in: 'body', message: `must not be before ${day} (a year before the school was registered)` }],
      });
    }
    case 'BFKEY':
      return new AppError('IDEMPOTENCY_KEY_REUSED', 'this Idempotency-Key was already used for a different request', {
        errors: [{ field: 'idempotency-key', in: 'headers', message: 'already used with another request body' }],
      });
    case 'BFDEM':
      return new AppError('FORBIDDEN', String(pg.message));
    default:
      return error;
  }
}

/**
 * How a one-call money write is run. In the caller's transaction (`within`: a batch) as
 * `inTransaction`. Otherwise, when it has nothing to write with it (`alone` given), first
 * as one statement of its own, which does nothing and answers undefined when a webhook
 * endpoint listens to payment events (ledger.ts, unlessPaymentEventsWanted); then, if it
 * did not, as `inTransaction` in a transaction of its own. Refusals pass through
 * `refusal`, which names them for the API.
 */
export async function runMoneyCall<R>(
  db: Db,
  call: { within?: Tx | undefined; alone?: ((db: Db) => Promise<R | undefined>) | undefined; inTransaction: (trx: Tx) => Promise<R>; refusal: (error: unknown) => unknown },
): Promise<R> {
  const inTransaction = async (trx: Tx) => {
    try {
      return await call.inTransaction(trx);
    } catch (error) {
      throw call.refusal(error);
    }
  };
  if (call.within !== undefined) {
    return inTransaction(call.within);
  }
  if (call.alone !== undefined) {
    const done = await call.alone(db).catch((error: unknown) => {
      throw call.refusal(error);
    });
    if (done !== undefined) {
      return done;
    }
  }
  return db.transaction().execute(inTransaction);
}
