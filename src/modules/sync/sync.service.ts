import type { Config } from '../../config.js';
import type { Database } from '../../db/database.js';
import { AppError, notFound } from '../../shared/errors.js';
import { decodeCursor, encodeCursor } from '../../shared/pagination.js';
import type { Clock } from './clock.js';
import { createSyncRepository, type FeedRow } from './sync.repository.js';
import { syncRunnerFor } from './sync.runner.js';
import {
  DEFAULT_ACCOUNTS_PAGE,
  type AccountBalance,
  type AccountPage,
  type DeadLetter,
  type DeadLetterPage,
  type DeadLetterQuery,
  type PageQuery,
  type Payouts,
  type RunAccepted,
  type RunRequest,
  type SyncStatus,
} from './sync.schemas.js';
import { syncDb } from './sync.tables.js';
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

/**
 * The gateway-sync API: account balances and payouts (accounts:read), sync status, runs
 * and dead letters (sync:read / sync:run). Access is decided by the route policies.
 */
export function createSyncService(deps: { database: Database; config: Config; clock: Clock }) {
  const db = syncDb(deps.database.db);
  const repo = createSyncRepository();
  const key = budgetKey(deps.config.vendor.apiKey);

  const feedStatus = (row: FeedRow, now: number) => ({
    feed: row.feed,
    status: row.status,
    cursor: row.cursor,
    lagSeconds: row.caughtUpAt === null ? null : Math.max(0, (now - row.caughtUpAt.getTime()) / 1000),
    behind: row.behind,
    pages: row.pages,
    consecutiveFailures: row.consecutiveFailures,
    lastError: row.lastError,
    retryAt: iso(row.retryAt),
    lastRunAt: iso(row.lastRunAt),
    lastSuccessAt: iso(row.lastSuccessAt),
    caughtUpAt: iso(row.caughtUpAt),
  });

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
      const [feeds, budget, deadLetters, conflicts, totals] = await Promise.all([
        repo.listFeeds(db),
        repo.budget(db, key),
        repo.countOpenDeadLetters(db),
        repo.countConflicts(db),
        db
          .selectFrom('ledger_accounts')
          .select((eb) => [eb.fn.coalesce(eb.fn.sum<number>('entries'), eb.lit(0)).as('entries'), eb.fn.countAll<number>().as('accounts')])
          .executeTakeFirstOrThrow(),
      ]);
      const live = feeds.find((feed) => feed.feed === 'live');
      const windowMs = WINDOW_MS;
      return {
        enabled: deps.config.sync.enabled,
        cursor: live?.cursor ?? null,
        lagSeconds: live ? feedStatus(live, now).lagSeconds : null,
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
          notBefore: budget !== undefined && budget.notBefore > now ? new Date(budget.notBefore).toISOString() : null,
        },
        feeds: feeds.map((row) => feedStatus(row, now)),
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

    async listDeadLetters(query: DeadLetterQuery): Promise<DeadLetterPage> {
      const limit = query.limit ?? DEFAULT_ACCOUNTS_PAGE;
      const before = query.cursor === undefined ? null : decodeTimeCursor(query.cursor, (id) => UUID.test(id));
      const rows = await repo.listDeadLetters(db, { before, limit: limit + 1, status: query.status });
      const data = rows.slice(0, limit).map(toDeadLetter);
      const last = data[data.length - 1];
      return { data, nextCursor: rows.length > limit && last !== undefined ? encodeCursor([last.createdAt, last.id]) : null };
    },

    /**
     * Unparks the feed of a dead letter: a fresh set of attempts at the same page, now.
     * A resolved letter is a 409 (nothing to retry).
     */
    async retryDeadLetter(id: string): Promise<DeadLetter> {
      const letter = await db.transaction().execute(async (tx) => {
        const row = await repo.findDeadLetter(tx, id);
        if (row === undefined) {
          throw notFound('dead letter');
        }
        if (row.status === 'resolved') {
          throw new AppError('CONFLICT', 'this dead letter is resolved: its page has been stored');
        }
        await repo.retryDeadLetter(tx, id, row.feed);
        return { ...row, status: 'retrying' as const };
      });
      await syncRunnerFor(deps.database)?.enqueue(letter.feed);
      return toDeadLetter(letter);
    },
  };
}

function toDeadLetter(row: { id: string; feed: 'live' | 'backfill'; cursor: string | null; attempts: number; lastError: string; status: 'open' | 'retrying' | 'resolved'; createdAt: Date; resolvedAt: Date | null }): DeadLetter {
  return { ...row, createdAt: row.createdAt.toISOString(), resolvedAt: iso(row.resolvedAt) };
}

export type SyncService = ReturnType<typeof createSyncService>;
