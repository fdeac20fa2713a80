import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import type { Db } from '../../db/database.js';
import type { Clock } from './clock.js';
import { bodyHash, createSyncRepository, CursorMovedError, LOCK_CLASS, type FeedRow, type HashedEntry, type SyncRepository } from './sync.repository.js';
import { resetAdvice } from './sync.state.js';
import { syncDb, type FeedName, type SyncDb } from './sync.tables.js';
import { createVendorClient, type FeedPosition, type Fetcher, type PageResult } from './vendor.client.js';

/**
 * The gateway sync worker: walks the vendor's feed page by page into the ledger.
 *
 * - Budget: before every request it reserves a slot in the shared budget row
 *   (sync_reserve_slot, under the row lock), so every worker of every instance together
 *   stays within the vendor's limit, across restarts too. A 429 stores the vendor's
 *   Retry-After in the same row.
 * - Exactly once: a page's rows, the account sums and the new cursor commit in one
 *   transaction; the cursor moves only by compare-and-set from the cursor the page was
 *   fetched after. A crash anywhere either loses the uncommitted page (fetched again
 *   after restart) or keeps all of it, and ids are stored with `on conflict do nothing`.
 * - Failures: 5xx, timeouts, network errors and malformed pages are retried with
 *   exponential backoff and full jitter; after `maxAttempts` in a row the page goes to
 *   the dead-letter table and the feed is parked (status blocked) on it — the next page's
 *   cursor is only known from this page's answer, and skipping it would lose its
 *   entries. It is tried again at `retryAt` (or at once after a manual retry).
 * - A cursor the vendor no longer knows (`cursor_unknown`) is not retried: no attempt
 *   can succeed. The feed stops in needs_reset, logged at warn with what to do, until an
 *   operator resumes it from a time (POST /sync/reset): the worker then asks for the
 *   entries that arrived since then and stores the cursor that comes back.
 * - One pass per feed at a time: a session advisory lock, released by PostgreSQL if the
 *   process dies.
 *
 * Everything time-related reads the injected clock; the HTTP fetch is injectable.
 */
export type SyncPoint = 'reserved' | 'fetched' | 'stored' | 'committed';

/** The log lines the worker writes (a pino logger fits): operator-worthy states at warn/error, routine at info/debug. */
export interface SyncLog {
  debug(object: object, message: string): void;
  info(object: object, message: string): void;
  warn(object: object, message: string): void;
  error(object: object, message: string): void;
}

export interface SyncObserver {
  request(outcome: 'ok' | 'rate_limited' | 'failed'): void;
  failure(reason: string): void;
  stored(inserted: number, duplicates: number): void;
  conflicts(count: number): void;
  deadLetter(): void;
}

export interface SyncWorkerOptions {
  db: Db;
  clock: Clock;
  vendor: { url: string; apiKey: string; timeoutMs: number; fetch?: Fetcher };
  pageSize: number;
  /** The vendor's limit: requests per window (5 per 60 s). */
  requestsPerMinute: number;
  windowMs?: number;
  /** Added to the window on our side: absorbs network latency and clock skew between instances. */
  marginMs?: number;
  maxAttempts: number;
  backoffBaseMs?: number;
  backoffCapMs?: number;
  /** How long a blocked feed waits before it tries its dead-lettered page again by itself. */
  blockedRetryMs?: number;
  random?: () => number;
  /** Fault injection for tests: called at named points; a throw there is a crash there. */
  hook?: (point: SyncPoint, feed: FeedName) => void | Promise<void>;
  observer?: SyncObserver;
  log?: SyncLog;
}

export type PassStatus = 'caught_up' | 'deadline' | 'blocked' | 'needs_reset' | 'busy' | 'aborted' | 'done';

export interface PassResult {
  feed: FeedName;
  status: PassStatus;
  requests: number;
  pages: number;
  inserted: number;
  duplicates: number;
  conflicts: number;
  rateLimited: number;
  failures: number;
  cursor: string | null;
  /** When blocked: when the feed tries again by itself (epoch ms). */
  retryAt: number | null;
  /** The feed's last error when the pass ends parked (blocked, needs_reset). */
  lastError: string | null;
  /** This pass parked the feed (and logged it); false when it found the feed parked. */
  parked: boolean;
}

export interface PassOptions {
  feed?: FeedName;
  /** Stop by this clock time (epoch ms); default: no deadline. */
  deadline?: number;
  signal?: AbortSignal;
  /** Caught up: sleep this long and go on (until the deadline) instead of returning. */
  idleMs?: number;
}

/** The budget row of an API key: a hash, so the key itself is never stored. */
export const budgetKey = (apiKey: string) => createHash('sha256').update(apiKey).digest('hex').slice(0, 32);

const DEFAULTS = { windowMs: 60_000, marginMs: 250, backoffBaseMs: 1000, backoffCapMs: 60_000, blockedRetryMs: 10 * 60_000 };

/**
 * Keeps the first body of each id in a page (sorted by id, so concurrent stores lock
 * rows in one order) and reports later bodies that differ.
 */
export function dedupePage(entries: readonly PageEntry[]): { unique: HashedEntry[]; changed: (HashedEntry & { storedHash: Buffer })[] } {
  const seen = new Map<string, HashedEntry>();
  const changed: (HashedEntry & { storedHash: Buffer })[] = [];
  for (const entry of entries) {
    const hash = bodyHash(entry);
    const first = seen.get(entry.id);
    if (first === undefined) {
      seen.set(entry.id, { entry, hash });
    } else if (!first.hash.equals(hash)) {
      changed.push({ entry, hash, storedHash: first.hash });
    }
  }
  const unique = [...seen.values()].sort((a, b) => (a.entry.id < b.entry.id ? -1 : a.entry.id > b.entry.id ? 1 : 0));
  return { unique, changed };
}

type PageEntry = Extract<PageResult, { kind: 'page' }>['entries'][number];

const emptyResult = (feed: FeedName, status: PassStatus, cursor: string | null = null): PassResult => ({
  feed,
  status,
  requests: 0,
  pages: 0,
  inserted: 0,
  duplicates: 0,
  conflicts: 0,
  rateLimited: 0,
  failures: 0,
  cursor,
  retryAt: null,
  lastError: null,
  parked: false,
});

/** Where the feed's next page starts: after its cursor, or at the time a reset asked for. */
const positionOf = (state: FeedRow): FeedPosition => (state.resumeFrom === null ? { after: state.cursor } : { since: state.resumeFrom.getTime() });

export function createSyncWorker(options: SyncWorkerOptions) {
  const settings = {
    pageSize: options.pageSize,
    requestsPerMinute: options.requestsPerMinute,
    maxAttempts: options.maxAttempts,
    windowMs: options.windowMs ?? DEFAULTS.windowMs,
    marginMs: options.marginMs ?? DEFAULTS.marginMs,
    backoffBaseMs: options.backoffBaseMs ?? DEFAULTS.backoffBaseMs,
    backoffCapMs: options.backoffCapMs ?? DEFAULTS.backoffCapMs,
    blockedRetryMs: options.blockedRetryMs ?? DEFAULTS.blockedRetryMs,
  };
  const db = syncDb(options.db);
  const repo: SyncRepository = createSyncRepository();
  const client = createVendorClient({ baseUrl: options.vendor.url, apiKey: options.vendor.apiKey, timeoutMs: options.vendor.timeoutMs, fetch: options.vendor.fetch });
  const key = budgetKey(options.vendor.apiKey);
  const clock = options.clock;
  const random = options.random ?? Math.random;
  const hook = options.hook ?? (() => undefined);
  const hooked = options.hook !== undefined;
  const observer = options.observer;
  const log = options.log;
  const windowMs = settings.windowMs + settings.marginMs;

  /** Exponential backoff with jitter: half fixed, half random, capped. */
  const backoff = (failures: number) => {
    const ceiling = Math.min(settings.backoffCapMs, settings.backoffBaseMs * 2 ** Math.max(0, failures - 1));
    return Math.round(ceiling / 2 + random() * (ceiling / 2));
  };

  async function pass(conn: SyncDb, feed: FeedName, run: PassOptions): Promise<PassResult> {
    const deadline = run.deadline ?? Number.POSITIVE_INFINITY;
    const result = emptyResult(feed, 'caught_up');
    let state = await repo.loadFeed(conn, feed);
    result.cursor = state.cursor;
    await repo.markRun(conn, feed, clock.now());
    if (state.status === 'done') {
      return { ...result, status: 'done' };
    }
    if (state.status === 'needs_reset') {
      return { ...result, status: 'needs_reset', lastError: state.lastError };
    }
    if (state.status === 'blocked' && (state.retryAt === null || clock.now() < state.retryAt.getTime())) {
      return { ...result, status: 'blocked', retryAt: state.retryAt?.getTime() ?? null, lastError: state.lastError };
    }
    let failures = state.consecutiveFailures;
    // A parked feed trying its page again after the cool-down has one attempt; its dead
    // letter counts only the attempts made now (the earlier ones are already in it).
    const resumed = state.status === 'blocked';
    const sleep = async (ms: number) => {
      await clock.sleep(Math.max(0, Math.min(ms, deadline - clock.now())), run.signal);
    };

    for (;;) {
      if (run.signal?.aborted) {
        return { ...result, status: 'aborted' };
      }
      if (clock.now() >= deadline) {
        return { ...result, status: 'deadline' };
      }
      const wait = await repo.reserveSlot(conn, key, clock.now(), settings.requestsPerMinute, windowMs);
      if (wait > 0) {
        await sleep(wait);
        continue;
      }
      result.requests += 1;
      await hook('reserved', feed);
      const page = await client.fetchPage(positionOf(state), settings.pageSize, clock.now(), run.signal);
      if (run.signal?.aborted) {
        // Shutting down: whatever came back is dropped, uncounted; the cursor has not moved.
        return { ...result, status: 'aborted' };
      }
      observer?.request(page.kind === 'page' ? 'ok' : page.kind);

      if (page.kind === 'rate_limited') {
        // Someone (another system on this key, or a vendor-side reset) used the budget:
        // no request on this key until the vendor says so.
        result.rateLimited += 1;
        observer?.failure('rate_limited');
        await repo.deferBudget(conn, key, clock.now() + page.retryAfterMs);
        continue;
      }

      if (page.kind === 'failed') {
        result.failures += 1;
        observer?.failure(page.reason);
        const message = `${page.reason}: ${page.message}`;
        if (page.reason === 'cursor_unknown') {
          const parked = await conn.transaction().execute((tx) =>
            repo.markNeedsReset(tx, { feed, cursor: state.cursor, since: state.resumeFrom, error: message, now: clock.now() }),
          );
          if (!parked) {
            // A reset landed while the request was out: go on from where it put the feed.
            state = await repo.loadFeed(conn, feed);
            continue;
          }
          log?.warn({ feed, cursor: state.cursor, error: message }, `sync: the vendor no longer knows the ${feed} feed's cursor ${state.cursor ?? '(start)'}; the feed stops until it is reset (needs_reset). ${resetAdvice(feed)}`);
          return { ...result, status: 'needs_reset', lastError: message, parked: true };
        }
        failures += 1;
        if (failures >= settings.maxAttempts) {
          const retryAt = clock.now() + settings.blockedRetryMs;
          await conn.transaction().execute((tx) =>
            repo.deadLetter(tx, { feed, cursor: state.cursor, attempts: resumed ? result.failures : failures, failures, error: message, reason: page.reason, now: clock.now(), retryAt }),
          );
          observer?.deadLetter();
          log?.error(
            { feed, cursor: state.cursor, failures, error: message, retryAt: new Date(retryAt).toISOString() },
            `sync: the page after cursor ${state.cursor ?? '(start)'} failed ${failures} times in a row and is dead-lettered; the ${feed} feed waits on it (blocked) ` +
              `and tries again by itself at ${new Date(retryAt).toISOString()}. Retry it now with POST /api/v1/sync/dead-letters/:id/retry once the vendor answers.`,
          );
          return { ...result, status: 'blocked', retryAt, lastError: message, parked: true };
        }
        log?.info({ feed, cursor: state.cursor, failures, error: message }, 'sync: vendor request failed; retrying with backoff');
        await repo.recordFailure(conn, feed, failures, message);
        await sleep(backoff(failures));
        continue;
      }

      await hook('fetched', feed);
      const { unique, changed } = dedupePage(page.entries);
      // hasMore=false: this page reached the head of the feed, the copy is complete as of now.
      const caughtUp = !page.hasMore;
      const done = feed === 'backfill' && caughtUp;
      const now = clock.now();
      let stored: { inserted: number; conflicts: number };
      const store = { feed, after: state.cursor, since: state.resumeFrom, next: page.nextCursor, entries: unique, now, caughtUp, behind: page.remaining, done };
      try {
        if (changed.length === 0 && !hooked) {
          // The common case is one statement: atomic without an explicit transaction.
          stored = await repo.storePage(conn, store);
        } else {
          stored = await conn.transaction().execute(async (tx) => {
            const outcome = await repo.storePage(tx, store);
            const inPage = await repo.recordConflicts(tx, changed, now);
            await hook('stored', feed);
            return { inserted: outcome.inserted, conflicts: outcome.conflicts + inPage };
          });
        }
      } catch (error) {
        if (error instanceof CursorMovedError) {
          // Another pass (or a backfill restart) moved the cursor: continue from there.
          state = await repo.loadFeed(conn, feed);
          continue;
        }
        throw error;
      }
      await hook('committed', feed);
      failures = 0;
      if (state.resumeFrom !== null) {
        log?.info({ feed, from: state.resumeFrom.toISOString(), cursor: page.nextCursor }, 'sync: resumed from a reset; the feed has a cursor again');
      }
      state = { ...state, cursor: page.nextCursor, resumeFrom: null, status: done ? 'done' : 'idle', consecutiveFailures: 0 };
      result.cursor = page.nextCursor;
      result.pages += 1;
      result.inserted += stored.inserted;
      result.duplicates += page.entries.length - stored.inserted;
      result.conflicts += stored.conflicts;
      observer?.stored(stored.inserted, page.entries.length - stored.inserted);
      if (stored.conflicts > 0) {
        observer?.conflicts(stored.conflicts);
      }
      if (done) {
        return { ...result, status: 'done' };
      }
      if (caughtUp) {
        if (run.idleMs === undefined) {
          return { ...result, status: 'caught_up' };
        }
        await sleep(run.idleMs);
      }
    }
  }

  return {
    /**
     * One pass over a feed: pulls pages while the feed has more (using every budget slot,
     * waiting for the next one when spent) until caught up, the deadline, a block or an
     * abort. Returns 'busy' when another pass holds the feed.
     */
    async runPass(run: PassOptions = {}): Promise<PassResult> {
      const feed = run.feed ?? 'live';
      return db.connection().execute(async (conn) => {
        const { rows } = await sql<{ locked: boolean }>`select pg_try_advisory_lock(${LOCK_CLASS}::int, hashtext(${feed})) as locked`.execute(conn);
        if (rows[0]?.locked !== true) {
          return emptyResult(feed, 'busy');
        }
        try {
          return await pass(conn, feed, run);
        } catch (error) {
          if (run.signal?.aborted && error === run.signal.reason) {
            const state = await repo.loadFeed(conn, feed);
            return emptyResult(feed, 'aborted', state.cursor);
          }
          throw error;
        } finally {
          await sql`select pg_advisory_unlock(${LOCK_CLASS}::int, hashtext(${feed}))`.execute(conn).catch(() => undefined);
        }
      });
    },
  };
}

export type SyncWorker = ReturnType<typeof createSyncWorker>;

