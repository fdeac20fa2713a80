import { createHash } from 'node:crypto';
import { sql, type RawBuilder } from 'kysely';
import type { FeedEntry } from './vendor.client.js';
import type { DeadLetterResolution, DeadLetterStatus, FeedName, FeedStatus, SyncDbOrTx, SyncTx } from './sync.tables.js';

/**
 * SQL of the gateway sync: the feed state, the shared request budget, the page store
 * (entries + account sums + cursor in one transaction), dead letters, conflicts and the
 * account reads. Every function takes the handle or transaction to run on.
 */

/** sha256 of an entry's canonical body: a repeated id with another body has another hash. */
export function bodyHash(entry: FeedEntry): Buffer {
  return createHash('sha256').update(`${entry.id}\n${entry.accountId}\n${entry.createdAt}\n${entry.type}\n${entry.amount}`).digest();
}

export interface HashedEntry {
  entry: FeedEntry;
  /** bodyHash(entry) */
  hash: Buffer;
}

export interface FeedRow {
  feed: FeedName;
  cursor: string | null;
  status: FeedStatus;
  consecutiveFailures: number;
  retryAt: Date | null;
  lastError: string | null;
  lastRunAt: Date | null;
  lastSuccessAt: Date | null;
  caughtUpAt: Date | null;
  behind: number | null;
  pages: number;
  /** Set by a reset: the next page is asked for by time. */
  resumeFrom: Date | null;
  /** The newest createdAt this feed has stored. */
  newestEntryAt: Date | null;
}

export interface StoreResult {
  inserted: number;
  conflicts: number;
}

export interface AccountRow {
  accountId: string;
  earned: number;
  spent: number;
  payout: number;
  paidOut: number;
  balance: number;
  entries: number;
  updatedAt: Date;
}

export interface PayoutEntryRow {
  id: string;
  type: 'payout' | 'paid_out';
  amount: number;
  createdAt: Date;
}

export interface DeadLetterRow {
  id: string;
  feed: FeedName;
  cursor: string | null;
  attempts: number;
  lastError: string;
  status: DeadLetterStatus;
  createdAt: Date;
  resolvedAt: Date | null;
  reason: string | null;
  resolution: DeadLetterResolution | null;
}

/** Thrown when the feed's cursor is not the one the page was fetched after: someone else stored it. */
export class CursorMovedError extends Error {
  constructor(feed: string) {
    super(`the ${feed} feed's cursor moved while this page was fetched; the page is dropped, not stored twice`);
    this.name = 'CursorMovedError';
  }
}

const ms = (value: number) => new Date(value);

/** pg_try_advisory_lock(LOCK_CLASS, hashtext(feed)) is held while a pass runs on a feed. */
export const LOCK_CLASS = 0x53_59_4e_43; // "SYNC"

/**
 * True while a pass holds the feed's advisory lock, on any instance. PostgreSQL drops the
 * lock with the session of a process that dies, so this is what tells a running pass from
 * one whose process is gone.
 */
export const feedLockHeld = (feed: RawBuilder<string>) => sql<boolean>`exists (
  select 1 from pg_locks l
   where l.locktype = 'advisory' and l.granted and l.objsubid = 2
     and l.database = (select oid from pg_database where datname = current_database())
     and l.classid = ${LOCK_CLASS}::bigint::oid
     and l.objid = (hashtext(${feed})::bigint & 4294967295)::oid)`;

const deadLetterColumns = ['id', 'feed', 'cursor', 'attempts', 'last_error as lastError', 'status', 'created_at as createdAt', 'resolved_at as resolvedAt', 'reason', 'resolution'] as const;

/** Every feed's state, as FeedRow. */
function feeds(db: SyncDbOrTx) {
  return db
    .selectFrom('sync_feeds')
    .select([
      'feed',
      'cursor',
      'status',
      'consecutive_failures as consecutiveFailures',
      'retry_at as retryAt',
      'last_error as lastError',
      'last_run_at as lastRunAt',
      'last_success_at as lastSuccessAt',
      'caught_up_at as caughtUpAt',
      'behind',
      'pages',
      'resume_from as resumeFrom',
      'newest_entry_at as newestEntryAt',
    ]);
}

export function createSyncRepository() {
  return {
    async loadFeed(db: SyncDbOrTx, feed: FeedName): Promise<FeedRow> {
      const row = await feeds(db)
        .where('feed', '=', feed)
        .executeTakeFirstOrThrow();
      return row;
    },

    async listFeeds(db: SyncDbOrTx): Promise<FeedRow[]> {
      return feeds(db)
        .orderBy('feed', 'desc')
        .execute();
    },

    async markRun(db: SyncDbOrTx, feed: FeedName, now: number): Promise<void> {
      await db.updateTable('sync_feeds').set({ last_run_at: ms(now), updated_at: sql`now()` }).where('feed', '=', feed).execute();
    },

    /**
     * Stores one page, exactly once, in one statement (atomic on its own; the caller's
     * transaction adds the rare in-page conflicts):
     *
     * 1. moves the feed's cursor from `after` to `next` — compare-and-set, so a page
     *    fetched after a cursor someone else has since moved is refused (CursorMovedError)
     *    and the transaction rolls back;
     * 2. inserts the entries (`on conflict (vendor_id) do nothing`: an id already stored
     *    stays as first received), adds the inserted rows' sums to ledger_accounts and
     *    records ids that came back with another body in sync_conflicts — one statement.
     *
     * `entries` must hold each id once (the worker dedupes a page first) and be sorted by
     * id, so concurrent stores lock rows in one order.
     */
    async storePage(
      tx: SyncDbOrTx,
      page: {
        feed: FeedName;
        after: string | null;
        /** The resume time the page was asked for with (a reset), or null. */
        since: Date | null;
        next: string;
        entries: HashedEntry[];
        now: number;
        caughtUp: boolean;
        behind: number | null;
        done: boolean;
      },
    ): Promise<StoreResult> {
      const ids: string[] = [];
      const accounts: string[] = [];
      const types: string[] = [];
      const amounts: number[] = [];
      const times: number[] = [];
      const hashes: string[] = [];
      let newest: number | null = null;
      for (const { entry, hash } of page.entries) {
        newest = newest === null || entry.createdAt > newest ? entry.createdAt : newest;
        ids.push(entry.id);
        accounts.push(entry.accountId);
        types.push(entry.type);
        amounts.push(entry.amount);
        times.push(entry.createdAt);
        hashes.push(hash.toString('hex'));
      }
      const now = ms(page.now);
      // One statement, one round trip. `moved` is the compare-and-set of the cursor (it
      // also locks the feed row, serialising stores of one feed); every write below
      // happens only if it moved a row.
      const { rows } = await sql<{ moved: number; inserted: number; conflicts: number }>`
        with moved as (
          update sync_feeds
             set cursor = ${page.next},
                 status = ${page.done ? 'done' : 'idle'},
                 consecutive_failures = 0,
                 retry_at = null,
                 last_error = null,
                 last_success_at = ${now},
                 caught_up_at = case when ${page.caughtUp} then ${now}::timestamptz else caught_up_at end,
                 behind = ${page.behind}::bigint,
                 pages = pages + 1,
                 resume_from = null,
                 newest_entry_at = greatest(newest_entry_at, ${newest === null ? null : ms(newest)}::timestamptz),
                 updated_at = now()
           where feed = ${page.feed} and cursor is not distinct from ${page.after}::text
             and resume_from is not distinct from ${page.since}::timestamptz
          returning feed
        ), resolved as (
          -- The page a dead letter was about has now been stored.
          update sync_dead_letters set status = 'resolved', resolved_at = ${now}, resolution = 'stored'
           where feed = ${page.feed} and status <> 'resolved' and exists (select 1 from moved)
          returning 1
        ), incoming as (
          select t.vendor_id, t.account_id, t.type, t.amount,
                 timestamptz 'epoch' + t.created_ms * interval '1 millisecond' as created_at,
                 decode(t.hash, 'hex') as body_hash
            from unnest(${ids}::text[], ${accounts}::text[], ${types}::text[], ${amounts}::bigint[], ${times}::bigint[], ${hashes}::text[])
                 as t(vendor_id, account_id, type, amount, created_ms, hash)
           where exists (select 1 from moved)
        ), inserted as (
          insert into ledger_entries (vendor_id, account_id, type, amount, created_at, body_hash)
          select vendor_id, account_id, type, amount, created_at, body_hash from incoming
          on conflict (vendor_id) do nothing
          returning vendor_id, account_id, type, amount
        ), repeated as (
          -- Usually empty: only ids the insert skipped are compared with what is stored.
          select i.* from incoming i where not exists (select 1 from inserted x where x.vendor_id = i.vendor_id)
        ), deltas as (
          select account_id,
                 coalesce(sum(amount) filter (where type = 'earned'), 0) as earned,
                 coalesce(sum(amount) filter (where type = 'spent'), 0) as spent,
                 coalesce(sum(amount) filter (where type = 'payout'), 0) as payout,
                 coalesce(sum(amount) filter (where type = 'paid_out'), 0) as paid_out,
                 count(*) as entries
            from inserted
           group by account_id
           order by account_id
        ), accounts as (
          insert into ledger_accounts as a (account_id, earned, spent, payout, paid_out, entries)
          select account_id, earned, spent, payout, paid_out, entries from deltas
          on conflict (account_id) do update
            set earned = a.earned + excluded.earned,
                spent = a.spent + excluded.spent,
                payout = a.payout + excluded.payout,
                paid_out = a.paid_out + excluded.paid_out,
                entries = a.entries + excluded.entries,
                updated_at = now()
          returning 1
        ), conflicts as (
          -- Sees ledger_entries as it was before this statement: ids stored by earlier pages.
          insert into sync_conflicts (vendor_id, body_hash, body, stored_hash, seen_at)
          select i.vendor_id, i.body_hash,
                 jsonb_build_object('id', i.vendor_id, 'accountId', i.account_id, 'createdAt', i.created_at, 'type', i.type, 'amount', i.amount),
                 e.body_hash, ${now}
            from repeated i
            join ledger_entries e on e.vendor_id = i.vendor_id
           where e.body_hash <> i.body_hash
          on conflict do nothing
          returning 1
        )
        select (select count(*) from moved)::int as moved,
               (select count(*) from inserted)::int as inserted,
               (select count(*) from conflicts)::int as conflicts,
               (select count(*) from accounts)::int as accounts,
               (select count(*) from resolved)::int as resolved`.execute(tx);
      const result = rows[0];
      if (result === undefined || result.moved === 0) {
        throw new CursorMovedError(page.feed);
      }
      return { inserted: result.inserted, conflicts: result.conflicts };
    },

    /** An id repeated inside one page with another body (the page's first body is the one stored). */
    async recordConflicts(tx: SyncTx, conflicts: (HashedEntry & { storedHash: Buffer })[], now: number): Promise<number> {
      if (conflicts.length === 0) {
        return 0;
      }
      const rows = await tx
        .insertInto('sync_conflicts')
        .values(
          conflicts.map(({ entry, hash, storedHash }) => ({
            vendor_id: entry.id,
            body_hash: hash,
            body: JSON.stringify({ ...entry, createdAt: new Date(entry.createdAt).toISOString() }),
            stored_hash: storedHash,
            seen_at: ms(now),
          })),
        )
        .onConflict((oc) => oc.doNothing())
        .returning('vendor_id')
        .execute();
      return rows.length;
    },

    async recordFailure(db: SyncDbOrTx, feed: FeedName, failures: number, error: string): Promise<void> {
      await db
        .updateTable('sync_feeds')
        .set({ consecutive_failures: failures, last_error: error.slice(0, 1000), updated_at: sql<Date>`now()` })
        .where('feed', '=', feed)
        .execute();
    },

    /**
     * Parks the feed on the page after `cursor`: one open dead letter per feed (later
     * failures of the same page add their `attempts`) and status blocked until `retryAt`.
     * `failures` is the feed's count of failures in a row.
     */
    async deadLetter(
      tx: SyncTx,
      letter: { feed: FeedName; cursor: string | null; attempts: number; failures: number; error: string; reason: string; now: number; retryAt: number },
    ): Promise<string> {
      const row = await tx
        .insertInto('sync_dead_letters')
        .values({ feed: letter.feed, cursor: letter.cursor, attempts: letter.attempts, last_error: letter.error.slice(0, 1000), reason: letter.reason, created_at: ms(letter.now) })
        .onConflict((oc) =>
          oc
            .column('feed')
            .where('status', '<>', 'resolved')
            .doUpdateSet((eb) => ({
              attempts: eb('sync_dead_letters.attempts', '+', eb.ref('excluded.attempts')),
              last_error: eb.ref('excluded.last_error'),
              reason: eb.ref('excluded.reason'),
              status: 'open',
              cursor: eb.ref('excluded.cursor'),
            })),
        )
        .returning('id')
        .executeTakeFirstOrThrow();
      await tx
        .updateTable('sync_feeds')
        .set({ status: 'blocked', retry_at: ms(letter.retryAt), consecutive_failures: letter.failures, last_error: letter.error.slice(0, 1000), updated_at: sql<Date>`now()` })
        .where('feed', '=', letter.feed)
        .execute();
      return row.id;
    },

    /**
     * The vendor no longer knows the cursor the feed stands on: the feed stops in
     * needs_reset (no retries: no attempt can succeed) until an operator resets it. An
     * open dead letter of the feed (a page that was failing before) takes the reason.
     * Compare-and-set from the position the request was made at, so a reset that
     * landed meanwhile is not undone. False when the feed had moved.
     */
    async markNeedsReset(
      tx: SyncTx,
      state: { feed: FeedName; cursor: string | null; since: Date | null; error: string; now: number },
    ): Promise<boolean> {
      const moved = await tx
        .updateTable('sync_feeds')
        .set({ status: 'needs_reset', retry_at: null, consecutive_failures: 0, last_error: state.error.slice(0, 1000), updated_at: sql<Date>`now()` })
        .where('feed', '=', state.feed)
        .where(sql<boolean>`cursor is not distinct from ${state.cursor}::text and resume_from is not distinct from ${state.since}::timestamptz`)
        .returning('feed')
        .executeTakeFirst();
      if (moved === undefined) {
        return false;
      }
      await tx
        .updateTable('sync_dead_letters')
        .set((eb) => ({ reason: 'cursor_unknown', last_error: state.error.slice(0, 1000), attempts: eb('attempts', '+', 1), status: 'open' }))
        .where('feed', '=', state.feed)
        .where('status', '<>', 'resolved')
        .execute();
      return true;
    },

    /**
     * Resumes a feed from a time (POST /sync/reset): the next page is asked for by time,
     * and stores its cursor. Open dead letters of the feed are closed as `reset` (their
     * page will never be asked for). The copy is complete at most up to `from` from now
     * on (caught_up_at), so the lag counts the time being fetched again. Returns the
     * state before the reset.
     */
    async resetFeed(tx: SyncTx, feed: FeedName, from: Date, now: number): Promise<{ before: FeedRow; letters: number }> {
      const before = await feeds(tx).where('feed', '=', feed).forUpdate().executeTakeFirstOrThrow();
      await tx
        .updateTable('sync_feeds')
        .set({
          cursor: null,
          resume_from: from,
          status: 'idle',
          consecutive_failures: 0,
          retry_at: null,
          last_error: null,
          behind: null,
          caught_up_at: sql<Date>`least(caught_up_at, ${from}::timestamptz)`,
          updated_at: sql<Date>`now()`,
        })
        .where('feed', '=', feed)
        .execute();
      const letters = await tx
        .updateTable('sync_dead_letters')
        .set({ status: 'resolved', resolution: 'reset', resolved_at: ms(now) })
        .where('feed', '=', feed)
        .where('status', '<>', 'resolved')
        .returning('id')
        .execute();
      return { before, letters: letters.length };
    },

    /** The feeds a pass is running on right now, on any instance (their advisory lock is held). */
    async runningFeeds(db: SyncDbOrTx): Promise<Set<FeedName>> {
      const { rows } = await sql<{ feed: FeedName }>`select f.feed from sync_feeds f where ${feedLockHeld(sql.ref('f.feed'))}`.execute(db);
      return new Set(rows.map((row) => row.feed));
    },

    /** One request slot at `now` (0 = granted), else the milliseconds to wait. See sync_reserve_slot. */
    async reserveSlot(db: SyncDbOrTx, key: string, now: number, limit: number, windowMs: number): Promise<number> {
      const { rows } = await sql<{ wait: number }>`select sync_reserve_slot(${key}, ${Math.floor(now)}::bigint, ${limit}::int, ${windowMs}::bigint) as wait`.execute(db);
      return rows[0]?.wait ?? 0;
    },

    /** The vendor's Retry-After: no request on this key before `notBefore` (epoch ms). */
    async deferBudget(db: SyncDbOrTx, key: string, notBefore: number): Promise<void> {
      await db
        .insertInto('sync_budget')
        .values({ api_key_hash: key, not_before: Math.ceil(notBefore) })
        .onConflict((oc) => oc.column('api_key_hash').doUpdateSet({ not_before: sql<number>`greatest(sync_budget.not_before, excluded.not_before)`, updated_at: sql<Date>`now()` }))
        .execute();
    },

    async budget(db: SyncDbOrTx, key: string): Promise<{ recent: number[]; notBefore: number; requestsTotal: number } | undefined> {
      return db
        .selectFrom('sync_budget')
        .select(['recent', 'not_before as notBefore', 'requests_total as requestsTotal'])
        .where('api_key_hash', '=', key)
        .executeTakeFirst();
    },

    /** Accounts by id after `after` (keyset). */
    async listAccounts(db: SyncDbOrTx, page: { after: string | null; limit: number }): Promise<AccountRow[]> {
      return db
        .selectFrom('ledger_accounts')
        .select(['account_id as accountId', 'earned', 'spent', 'payout', 'paid_out as paidOut', 'balance', 'entries', 'updated_at as updatedAt'])
        .$if(page.after !== null, (qb) => qb.where('account_id', '>', page.after ?? ''))
        .orderBy('account_id')
        .limit(page.limit)
        .execute();
    },

    async findAccount(db: SyncDbOrTx, accountId: string): Promise<AccountRow | undefined> {
      return db
        .selectFrom('ledger_accounts')
        .select(['account_id as accountId', 'earned', 'spent', 'payout', 'paid_out as paidOut', 'balance', 'entries', 'updated_at as updatedAt'])
        .where('account_id', '=', accountId)
        .executeTakeFirst();
    },

    /** An account's payout and paid_out entries, newest first (ledger_entries_payouts_idx). */
    async listPayoutEntries(db: SyncDbOrTx, accountId: string, page: { before: { createdAt: string; id: string } | null; limit: number }): Promise<PayoutEntryRow[]> {
      const rows = await db
        .selectFrom('ledger_entries')
        .select(['vendor_id as id', 'type', 'amount', 'created_at as createdAt'])
        .where('account_id', '=', accountId)
        .where('type', 'in', ['payout', 'paid_out'])
        .$if(page.before !== null, (qb) =>
          qb.where(sql<boolean>`(created_at, vendor_id) < (${page.before?.createdAt ?? ''}::timestamptz, ${page.before?.id ?? ''})`),
        )
        .orderBy('created_at', 'desc')
        .orderBy('vendor_id', 'desc')
        .limit(page.limit)
        .execute();
      return rows.map((row) => ({ ...row, type: row.type === 'paid_out' ? 'paid_out' : 'payout' }));
    },

    async listDeadLetters(db: SyncDbOrTx, page: { before: { createdAt: string; id: string } | null; limit: number; status?: DeadLetterStatus }): Promise<DeadLetterRow[]> {
      return db
        .selectFrom('sync_dead_letters')
        .select(deadLetterColumns)
        .$if(page.status !== undefined, (qb) => qb.where('status', '=', page.status ?? 'open'))
        .$if(page.before !== null, (qb) =>
          qb.where(sql<boolean>`(created_at, id) < (${page.before?.createdAt ?? ''}::timestamptz, ${page.before?.id ?? ''}::uuid)`),
        )
        .orderBy('created_at', 'desc')
        .orderBy('id', 'desc')
        .limit(page.limit)
        .execute();
    },

    async findDeadLetter(db: SyncDbOrTx, id: string): Promise<DeadLetterRow | undefined> {
      return db
        .selectFrom('sync_dead_letters')
        .select(deadLetterColumns)
        .where('id', '=', id)
        .executeTakeFirst();
    },

    /**
     * Marks a dead letter for retry and unparks its feed with a fresh set of attempts; the
     * letter is resolved by the statement that finally stores its page.
     */
    async retryDeadLetter(tx: SyncTx, id: string, feed: FeedName): Promise<void> {
      await tx.updateTable('sync_dead_letters').set({ status: 'retrying' }).where('id', '=', id).execute();
      await tx
        .updateTable('sync_feeds')
        .set({ status: 'idle', retry_at: null, consecutive_failures: 0, updated_at: sql<Date>`now()` })
        .where('feed', '=', feed)
        .where('status', '=', 'blocked')
        .execute();
    },

    async countOpenDeadLetters(db: SyncDbOrTx): Promise<number> {
      const row = await db.selectFrom('sync_dead_letters').select((eb) => eb.fn.countAll<number>().as('n')).where('status', '<>', 'resolved').executeTakeFirst();
      return Number(row?.n ?? 0);
    },

    async countConflicts(db: SyncDbOrTx): Promise<number> {
      const row = await db.selectFrom('sync_conflicts').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst();
      return Number(row?.n ?? 0);
    },

    /** Restarts the backfill feed at `from` (null = the start of the vendor's feed). */
    async startBackfill(db: SyncDbOrTx, from: string | null): Promise<void> {
      await db
        .updateTable('sync_feeds')
        .set({ cursor: from, resume_from: null, status: 'idle', consecutive_failures: 0, retry_at: null, last_error: null, behind: null, caught_up_at: null, updated_at: sql<Date>`now()` })
        .where('feed', '=', 'backfill')
        .execute();
    },
  };
}

export type SyncRepository = ReturnType<typeof createSyncRepository>;
