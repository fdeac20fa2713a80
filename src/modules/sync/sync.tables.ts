import type { ColumnType, DrainOuterGeneric, Generated, Kysely, Transaction } from 'kysely';
import type { Db, DbOrTx } from '../../db/database.js';
import type { DB } from '../../db/types.js';

/**
 * Kysely's view of the tables of migrations 0008 and 0013 (gateway sync). They are declared here,
 * next to the only module that uses them; `syncDb()` widens a handle to include them.
 */
type Timestamp = ColumnType<Date, Date | string, Date | string>;

export type FeedName = 'live' | 'backfill';
/** Stored feed status (0008, 0013). needs_reset: the vendor no longer knows the cursor; an operator resumes it from a time. */
export type FeedStatus = 'idle' | 'blocked' | 'done' | 'needs_reset';
export type DeadLetterStatus = 'open' | 'retrying' | 'resolved';
/** How a dead letter was closed: its page was stored at last, or the feed was reset past it. */
export type DeadLetterResolution = 'stored' | 'reset';

export interface LedgerAccountsTable {
  account_id: string;
  earned: Generated<number>;
  spent: Generated<number>;
  payout: Generated<number>;
  paid_out: Generated<number>;
  entries: Generated<number>;
  balance: ColumnType<number, never, never>;
  updated_at: Generated<Date>;
}

export interface SyncFeedsTable {
  feed: FeedName;
  cursor: string | null;
  status: Generated<FeedStatus>;
  consecutive_failures: Generated<number>;
  retry_at: Timestamp | null;
  last_error: string | null;
  last_run_at: Timestamp | null;
  last_success_at: Timestamp | null;
  caught_up_at: Timestamp | null;
  behind: number | null;
  pages: Generated<number>;
  resume_from: Timestamp | null;
  newest_entry_at: Timestamp | null;
  updated_at: Generated<Date>;
}

export interface SyncBudgetTable {
  api_key_hash: string;
  recent: Generated<number[]>;
  not_before: Generated<number>;
  requests_total: Generated<number>;
  updated_at: Generated<Date>;
}

export interface SyncDeadLettersTable {
  id: Generated<string>;
  feed: FeedName;
  cursor: string | null;
  attempts: number;
  last_error: string;
  status: Generated<DeadLetterStatus>;
  created_at: Timestamp;
  resolved_at: Timestamp | null;
  /** The worker's failure reason (server, timeout, network, client, invalid, cursor_unknown). */
  reason: string | null;
  resolution: DeadLetterResolution | null;
}

export interface SyncConflictsTable {
  vendor_id: string;
  body_hash: Buffer;
  body: unknown;
  stored_hash: Buffer;
  seen_at: Timestamp;
}

// A type alias (not an interface): withTables<T> needs an implicit index signature.
export type SyncTables = {
  ledger_accounts: LedgerAccountsTable;
  sync_feeds: SyncFeedsTable;
  sync_budget: SyncBudgetTable;
  sync_dead_letters: SyncDeadLettersTable;
  sync_conflicts: SyncConflictsTable;
};

export type SyncSchema = DrainOuterGeneric<DB & SyncTables>;
export type SyncDb = Kysely<SyncSchema>;
export type SyncTx = Transaction<SyncSchema>;
export type SyncDbOrTx = SyncDb | SyncTx;

/** The same handle (or transaction), typed with the sync tables too. */
export function syncDb(db: Db): SyncDb;
export function syncDb(db: DbOrTx): SyncDbOrTx;
export function syncDb(db: DbOrTx): SyncDbOrTx {
  return db.withTables<SyncTables>();
}
