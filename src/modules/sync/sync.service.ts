import type { Config } from '../../config.js';
import type { Database } from '../../db/database.js';
import type { Actor } from '../../shared/context.js';
import { AppError, notFound } from '../../shared/errors.js';
import { decodeCursor, encodeCursor } from '../../shared/pagination.js';
import { recordAudit } from '../audit/audit.repository.js';
import type { Clock } from './clock.js';
import { createSyncRepository, type DeadLetterRow, type FeedRow } from './sync.repository.js';
import { syncRunnerFor } from './sync.runner.js';
import { deriveFeedState, resetAdvice, type StateContext } from './sync.state.js';
import {
  DEFAULT_ACCOUNTS_PAGE,
  RESET_MAX_AGE_DAYS,
  type AccountBalance,
  type AccountPage,
  type DeadLetter,
  type DeadLetterPage,
  type DeadLetterQuery,
  type PageQuery,
  type Payouts,
  type ResetAccepted,
  type ResetRequest,
  type RunAccepted,
  type RunRequest,
  type SyncStatus,
} from './sync.schemas.js';
import { syncDb, type FeedStatus, type SyncTx } from './sync.tables.js';
import { budgetKey } from './sync.worker.js';

const CURSOR_AT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const WINDOW_MS = 60_000;

const badCursor = () =>
  new AppError('BAD_REQUEST', 'cursor is not valid for this list', {
    errors: [{ field: 'cursor', in: 'querystring', message: 'not a cursor returned by this list' }],
  });

/** A (createdAt, id) keyset cursor: the last row's timestamp (ms) and id. */
function decodeTimeCursor(cursor: string, id: (value: string) => boolean): { createdAt: string; id: string } {
  const [createdAt, key] = decodeCursor(cursor, 2);
  if (typeof createdAt !== 'string' || typeof key !== 'string' || !CURSOR_AT.test(createdAt) || Number.isNaN(Date.parse(createdAt)) || !id(key)) {
    throw badCursor();
  }
  return { createdAt, id: key };
}

const iso = (value: Date | null) => (value === null ? null : value.toISOString());
const DAY_MS = 86_400_000;

const badFrom = (message: string) =>
  new AppError('VALIDATION_FAILED', `from ${message}`, { errors: [{ field: 'from', in: 'body', message }] });

/**
 * A dead letter in words: why it is there and what to do. A letter whose feed the vendor
 * can no longer continue (cursor_unknown, or its feed in needs_reset) cannot succeed by
 * retrying: it says so and points at the reset.
 */
export function explainDeadLetter(row: Pick<DeadLetterRow, 'feed' | 'cursor' | 'attempts' | 'lastError' | 'status' | 'reason' | 'resolution'>, feedStatus: FeedStatus | undefined) {
  const page = `the page after cursor ${row.cursor ?? '(the start of the feed)'}`;
  if (row.status === 'resolved') {
    return {
      retryable: false,
      explanation:
        row.resolution === 'reset'
          ? `Closed by a reset: the ${row.feed} feed was resumed from a time, so ${page} is no longer asked for.`
          : `Resolved: ${page} has been stored.`,
    };
  }
  if (row.reason === 'cursor_unknown' || feedStatus === 'needs_reset') {
    return {
      retryable: false,
      explanation: `The vendor no longer knows cursor ${row.cursor ?? '(start)'} (${row.lastError}), so retrying ${page} cannot succeed. ${resetAdvice(row.feed)}`,
    };
  }
  return {
    retryable: true,
    explanation:
      `${page[0]?.toUpperCase() ?? ''}${page.slice(1)} failed ${row.attempts} times (${row.lastError}). The ${row.feed} feed waits on it, nothing is skipped; ` +
      (row.status === 'retrying' ? 'a retry is under way.' : 'it is tried again by itself after a cool-down, or now with Retry.'),
  };
}

/**
 * The gateway-sync API: account balances and payouts (accounts:read), sync status, runs
 * and dead letters (sync:read / sync:run). Access is decided by the route policies.
 */
export function createSyncService(deps: { database: Database; config: Config; clock: Clock }) {
  const db = syncDb(deps.database.db);
  const repo = createSyncRepository();
  const key = budgetKey(deps.config.vendor.apiKey);

  const feedStatus = (row: FeedRow, context: StateContext) => {
    const derived = deriveFeedState(row, context);
    return {
    feed: row.feed,
    state: derived.state,
    summary: derived.summary,
    action: derived.action,
    running: context.running,
    status: row.status,
    cursor: row.cursor,
    resumeFrom: iso(row.resumeFrom),
    newestEntryAt: iso(row.newestEntryAt),
    lagSeconds: derived.lagSeconds,
    behind: derived.behind,
    pages: row.pages,
    consecutiveFailures: row.consecutiveFailures,
    lastError: row.lastError,
    retryAt: iso(row.retryAt),
    lastRunAt: iso(row.lastRunAt),
    lastSuccessAt: iso(row.lastSuccessAt),
    caughtUpAt: iso(row.caughtUpAt),
    };
  };

  const toBalance = (row: { accountId: string; earned: number; spent: number; payout: number; paidOut: number; balance: number; entries: number; updatedAt: Date }): AccountBalance => ({
    ...row,
    updatedAt: row.updatedAt.toISOString(),
  });

  return {
    async listAccounts(query: PageQuery): Promise<AccountPage> {
      const limit = query.limit ?? DEFAULT_ACCOUNTS_PAGE;
      let after: string | null = null;
      if (query.cursor !== undefined) {
        const [id] = decodeCursor(query.cursor, 1);
        if (typeof id !== 'string' || id.length === 0 || id.length > 128) {
          throw badCursor();
        }
        after = id;
      }
      const rows = await repo.listAccounts(db, { after, limit: limit + 1 });
      const data = rows.slice(0, limit).map(toBalance);
      const last = data[data.length - 1];
      return { data, nextCursor: rows.length > limit && last !== undefined ? encodeCursor([last.accountId]) : null };
    },

    async getAccount(accountId: string): Promise<AccountBalance> {
      const row = await repo.findAccount(db, accountId);
      if (row === undefined) {
        throw notFound('account');
      }
      return toBalance(row);
    },

    async getPayouts(accountId: string, query: PageQuery): Promise<Payouts> {
      const account = await repo.findAccount(db, accountId);
      if (account === undefined) {
        throw notFound('account');
      }
      const limit = query.limit ?? DEFAULT_ACCOUNTS_PAGE;
      const before = query.cursor === undefined ? null : decodeTimeCursor(query.cursor, (id) => id.length > 0 && id.length <= 128);
      const rows = await repo.listPayoutEntries(db, accountId, { before, limit: limit + 1 });
      const entries = rows.slice(0, limit).map((row) => ({ ...row, createdAt: row.createdAt.toISOString() }));
      const last = entries[entries.length - 1];
      return {
        accountId,
        requested: account.payout,
        paidOut: account.paidOut,
        outstanding: account.payout - account.paidOut,
        entries,
        nextCursor: rows.length > limit && last !== undefined ? encodeCursor([last.createdAt, last.id]) : null,
      };
    },

    async status(): Promise<SyncStatus> {
      const now = deps.clock.now();
      const [feeds, running, budget, deadLetters, conflicts, totals] = await Promise.all([
        repo.listFeeds(db),
        repo.runningFeeds(db),
        repo.budget(db, key),
        repo.countOpenDeadLetters(db),
        repo.countConflicts(db),
        db
          .selectFrom('ledger_accounts')
          .select((eb) => [eb.fn.coalesce(eb.fn.sum<number>('entries'), eb.lit(0)).as('entries'), eb.fn.countAll<number>().as('accounts')])
          .executeTakeFirstOrThrow(),
      ]);
      const windowMs = WINDOW_MS;
      const notBefore = budget !== undefined && budget.notBefore > now ? budget.notBefore : null;
      const shown = feeds.map((row) =>
        feedStatus(row, { now, running: running.has(row.feed), enabled: deps.config.sync.enabled, intervalSeconds: deps.config.sync.intervalSeconds, notBefore }),
      );
      const live = feeds.find((feed) => feed.feed === 'live');
      const liveShown = shown.find((feed) => feed.feed === 'live');
      return {
        enabled: deps.config.sync.enabled,
        state: liveShown?.state ?? 'idle',
        summary: liveShown?.summary ?? 'No live feed.',
        action: liveShown?.action ?? null,
        cursor: live?.cursor ?? null,
        newestEntryAt: iso(live?.newestEntryAt ?? null),
        lagSeconds: liveShown?.lagSeconds ?? null,
        lastRunAt: iso(live?.lastRunAt ?? null),
        failures: live?.consecutiveFailures ?? 0,
        deadLetters,
        conflicts,
        entries: Number(totals.entries),
        accounts: Number(totals.accounts),
        budget: {
          limit: deps.config.sync.requestsPerMinute,
          windowSeconds: windowMs / 1000,
          usedInWindow: (budget?.recent ?? []).filter((t) => t > now - windowMs && t <= now).length,
          requestsTotal: budget?.requestsTotal ?? 0,
          notBefore: notBefore === null ? null : new Date(notBefore).toISOString(),
        },
        feeds: shown,
        generatedAt: new Date(now).toISOString(),
      };
    },

    /** Queues a live pass, or (re)starts the backfill at `from` and queues it. */
    async requestRun(request: RunRequest): Promise<RunAccepted> {
      const mode = request.mode ?? 'live';
      if (mode === 'live' && request.from !== undefined) {
        throw new AppError('VALIDATION_FAILED', 'from applies to a backfill only', { errors: [{ field: 'from', in: 'body', message: 'only with mode "backfill"' }] });
      }
      if (mode === 'backfill') {
        await repo.startBackfill(db, request.from ?? null);
      }
      const runner = syncRunnerFor(deps.database);
      const queued = runner === undefined ? false : await runner.enqueue(mode);
      return { mode, queued, from: mode === 'backfill' ? (request.from ?? null) : null };
    },

    /**
     * Resumes the live feed from a time (the operator's answer to needs_reset, or a re-walk
     * of recent hours): the next pass asks the vendor for the entries that arrived since
     * `from`. Entries already stored are skipped by vendor id (bodies identical: no
     * conflict), so an earlier `from` doubles nothing; a later one skips what arrived in
     * between, by the operator's choice. Audited.
     */
    async resetLive(actor: Actor, request: ResetRequest): Promise<ResetAccepted> {
      const now = deps.clock.now();
      const from = Date.parse(request.from);
      if (Number.isNaN(from)) {
        throw badFrom('is not a time');
      }
      if (from > now) {
        throw badFrom('is in the future: the vendor has nothing from then yet');
      }
      if (from < now - RESET_MAX_AGE_DAYS * DAY_MS) {
        throw badFrom(`is more than ${RESET_MAX_AGE_DAYS} days back: use a backfill (POST /sync/run {"mode": "backfill"}) for older history`);
      }
      const at = new Date(from);
      // The base handle's transaction, so the audit entry (a core table) shares it.
      const { before, letters } = await deps.database.db.transaction().execute(async (tx) => {
        const outcome = await repo.resetFeed(syncDb(tx) as SyncTx, 'live', at, now);
        await recordAudit(tx, actor, {
          action: 'sync.reset',
          entityType: 'sync_feed',
          entityId: 'live',
          changes: { from: at.toISOString(), previousStatus: outcome.before.status, previousCursor: outcome.before.cursor, deadLettersClosed: outcome.letters },
        });
        return outcome;
      });
      const queued = (await syncRunnerFor(deps.database)?.enqueue('live')) ?? false;
      return { feed: 'live', from: at.toISOString(), previousStatus: before.status, previousCursor: before.cursor, deadLettersClosed: letters, queued };
    },

    async listDeadLetters(query: DeadLetterQuery): Promise<DeadLetterPage> {
      const limit = query.limit ?? DEFAULT_ACCOUNTS_PAGE;
      const before = query.cursor === undefined ? null : decodeTimeCursor(query.cursor, (id) => UUID.test(id));
      const [rows, feeds] = await Promise.all([repo.listDeadLetters(db, { before, limit: limit + 1, status: query.status }), repo.listFeeds(db)]);
      const statusOf = new Map(feeds.map((feed) => [feed.feed, feed.status]));
      const data = rows.slice(0, limit).map((row) => toDeadLetter(row, statusOf.get(row.feed)));
      const last = data[data.length - 1];
      return { data, nextCursor: rows.length > limit && last !== undefined ? encodeCursor([last.createdAt, last.id]) : null };
    },

    /**
     * Unparks the feed of a dead letter: a fresh set of attempts at the same page, now.
     * A resolved letter is a 409 (nothing to retry). A letter that cannot succeed (the
     * vendor no longer knows its cursor) is a 409 SYNC_NEEDS_RESET that says to reset.
     */
    async retryDeadLetter(id: string): Promise<DeadLetter> {
      const letter = await db.transaction().execute(async (tx) => {
        const row = await repo.findDeadLetter(tx, id);
        if (row === undefined) {
          throw notFound('dead letter');
        }
        const feed = await repo.loadFeed(tx, row.feed);
        if (row.status === 'resolved') {
          throw new AppError('CONFLICT', `this dead letter is resolved: ${explainDeadLetter(row, feed.status).explanation}`);
        }
        const { retryable, explanation } = explainDeadLetter(row, feed.status);
        if (!retryable) {
          throw new AppError('SYNC_NEEDS_RESET', `Retry cannot succeed. ${explanation}`);
        }
        await repo.retryDeadLetter(tx, id, row.feed);
        return { letter: { ...row, status: 'retrying' as const }, feedStatus: feed.status === 'blocked' ? ('idle' as const) : feed.status };
      });
      await syncRunnerFor(deps.database)?.enqueue(letter.letter.feed);
      return toDeadLetter(letter.letter, letter.feedStatus);
    },
  };
}

function toDeadLetter(row: DeadLetterRow, feedStatus: FeedStatus | undefined): DeadLetter {
  return { ...row, ...explainDeadLetter(row, feedStatus), createdAt: row.createdAt.toISOString(), resolvedAt: iso(row.resolvedAt) };
}

export type SyncService = ReturnType<typeof createSyncService>;
