import { sql, type RawBuilder } from 'kysely';
import type { Db } from '../../db/database.js';

/**
 * Wakes the live hubs (every instance LISTENs on bursar_live) after a money write has
 * committed, for the writers that ask the transactions trigger not to (migration 0036).
 *
 * A NOTIFY sent inside a transaction makes its commit take a lock every notifying commit
 * in the database shares, held until the commit is on disk: those commits could not be
 * flushed together, and with 32 clients the lock was a third of a payment's time. Sent
 * after the commit, on its own, a NOTIFY writes nothing to disk; and calls that come while
 * one is on its way share the next one, so a busy server sends a few per round trip
 * rather than one per payment. A wake that is lost (the process stops before it is
 * sent) delays the events until the hubs' next poll (a second); it never drops them
 * (src/modules/live/live.hub.ts).
 */
export interface LiveWaker {
  wake(): void;
  /** Resolves once no wake is waiting or on its way (tests, shutdown). */
  settled(): Promise<void>;
}

const wakers = new WeakMap<Db, LiveWaker>();

/** The one waker of a database handle. */
export function liveWaker(db: Db): LiveWaker {
  let waker = wakers.get(db);
  if (waker === undefined) {
    waker = createLiveWaker(db);
    wakers.set(db, waker);
  }
  return waker;
}

function createLiveWaker(db: Db): LiveWaker {
  let sending: Promise<void> | undefined;
  let again = false;
  return {
    wake() {
      again = true;
      sending ??= (async () => {
        try {
          while (again) {
            again = false;
            // A failure is the poll's to make up for.
            await sql`select pg_notify('bursar_live', '')`.execute(db).catch(() => undefined);
          }
        } finally {
          sending = undefined;
        }
      })();
    },
    async settled() {
      await sending;
    },
  };
}

/**
 * `select <call> as result`, and with `afterCommit` the transaction first asks the
 * transactions trigger to leave the NOTIFY to the caller (migration 0036), in the same
 * round trip: the materialized CTE is read, and its setting made, before the call runs.
 * The caller then calls `wake()` once the transaction has committed.
 */
export function selectWakingAfterCommit<T>(call: RawBuilder<unknown>, afterCommit: boolean): RawBuilder<{ result: T }> {
  return afterCommit
    ? sql<{ result: T }>`with deferred as materialized (select set_config('bursar.live_wake', 'after_commit', true)) select ${call} as result from deferred`
    : sql<{ result: T }>`select ${call} as result`;
}
