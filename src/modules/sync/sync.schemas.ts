import { Type, type Static } from 'typebox';
import { Timestamp, Uuid } from '../billing/billing.schemas.js';

/**
 * Gateway sync and account ledger (SPEC §2 "Account ledger", §3 "Gateway sync"). Money is
 * integer minor units. balance = earned − spent − paid_out; a payout is a request (it
 * does not move the balance), paid_out does; outstanding = payout − paid_out.
 */
export const MAX_ACCOUNTS_PAGE = 500;
export const DEFAULT_ACCOUNTS_PAGE = 50;

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) => Type.Union([schema, Type.Null()]);
const Minor = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: 'integer minor units' });
const Count = Type.Integer({ minimum: 0 });
const Cursor = Type.String({ minLength: 1, maxLength: 512, description: 'nextCursor of the previous page' });
const FeedName = Type.Union([Type.Literal('live'), Type.Literal('backfill')]);

export const AccountId = Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9._:-]+$', description: "the vendor's account id" });
export const AccountParams = Type.Object({ id: AccountId }, { additionalProperties: false });
export type AccountParams = Static<typeof AccountParams>;

export const PageQuery = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_ACCOUNTS_PAGE, default: DEFAULT_ACCOUNTS_PAGE })),
    cursor: Type.Optional(Cursor),
  },
  { additionalProperties: false },
);
export type PageQuery = Static<typeof PageQuery>;

export const AccountBalance = Type.Object({
  accountId: Type.String(),
  earned: Minor,
  spent: Minor,
  payout: Type.Integer({ minimum: 0, description: 'payout requests (minor units); do not move the balance' }),
  paidOut: Type.Integer({ minimum: 0, description: 'paid out (minor units); moves the balance' }),
  balance: Type.Integer({ description: 'earned − spent − paidOut (minor units)' }),
  entries: Count,
  updatedAt: Timestamp,
});
export type AccountBalance = Static<typeof AccountBalance>;

export const AccountPage = Type.Object({ data: Type.Array(AccountBalance, { description: 'by accountId' }), nextCursor: Nullable(Type.String()) });
export type AccountPage = Static<typeof AccountPage>;

export const PayoutEntry = Type.Object({
  id: Type.String({ description: "the vendor's entry id" }),
  type: Type.Union([Type.Literal('payout'), Type.Literal('paid_out')]),
  amount: Minor,
  createdAt: Timestamp,
});

export const Payouts = Type.Object({
  accountId: Type.String(),
  requested: Type.Integer({ minimum: 0, description: 'Σ payout (minor units)' }),
  paidOut: Type.Integer({ minimum: 0, description: 'Σ paid_out (minor units)' }),
  outstanding: Type.Integer({ description: 'requested − paidOut: payouts requested and not yet paid (minor units)' }),
  entries: Type.Array(PayoutEntry, { description: 'payout and paid_out entries, newest first' }),
  nextCursor: Nullable(Type.String()),
});
export type Payouts = Static<typeof Payouts>;

// Every state of sync.state.ts (the service does not compile if one is missing here).
const State = Type.Union(
  [
    Type.Literal('idle'),
    Type.Literal('running'),
    Type.Literal('caught_up'),
    Type.Literal('behind'),
    Type.Literal('backing_off'),
    Type.Literal('blocked'),
    Type.Literal('needs_reset'),
    Type.Literal('done'),
  ],
  {
    description:
      'The one derived state (sync.state.ts), by priority: needs_reset (the vendor no longer knows the cursor: reset from a time), ' +
      'blocked (a dead-lettered page parks the feed), done (a finished backfill), backing_off (failures or a Retry-After), ' +
      'idle / running (nothing stored yet), caught_up (the last page reached the head and lag is within two tick intervals + 60 s), behind.',
  },
);

export const FeedStatus = Type.Object({
  feed: FeedName,
  state: State,
  summary: Type.String({ description: 'one sentence on the state' }),
  action: Nullable(Type.String({ description: 'what an operator should do, when the state needs one' })),
  running: Type.Boolean({ description: 'a pass holds this feed right now (any instance)' }),
  status: Type.Union([Type.Literal('idle'), Type.Literal('blocked'), Type.Literal('done'), Type.Literal('needs_reset')], {
    description: 'the stored status the state is derived from (sync_feeds.status)',
  }),
  cursor: Nullable(Type.String({ description: "the vendor cursor of the last page stored (null: the feed's start, or a reset's time)" })),
  resumeFrom: Nullable(Timestamp),
  newestEntryAt: Nullable(Timestamp),
  lagSeconds: Nullable(Type.Number({ minimum: 0, description: 'seconds since the local copy was last complete (a page reached the head); null before that and for a finished backfill' })),
  behind: Nullable(Type.Integer({ minimum: 0, description: 'entries the vendor still had after the cursor at the last page' })),
  pages: Count,
  consecutiveFailures: Count,
  lastError: Nullable(Type.String()),
  retryAt: Nullable(Timestamp),
  lastRunAt: Nullable(Timestamp),
  lastSuccessAt: Nullable(Timestamp),
  caughtUpAt: Nullable(Timestamp),
});

export const SyncStatus = Type.Object({
  enabled: Type.Boolean({ description: 'the worker runs in this deployment (SYNC)' }),
  state: State,
  summary: Type.String({ description: "the live feed's state in one sentence" }),
  action: Nullable(Type.String({ description: 'what an operator should do, when the live feed needs it' })),
  cursor: Nullable(Type.String({ description: 'the live feed cursor' })),
  newestEntryAt: Nullable(Timestamp),
  lagSeconds: Nullable(Type.Number({ minimum: 0, description: "the live feed's lag (see FeedStatus)" })),
  lastRunAt: Nullable(Timestamp),
  failures: Count,
  deadLetters: Type.Integer({ minimum: 0, description: 'dead letters not yet resolved' }),
  conflicts: Type.Integer({ minimum: 0, description: 'vendor ids re-sent with another body (flagged, not stored)' }),
  entries: Type.Integer({ minimum: 0, description: 'ledger entries stored' }),
  accounts: Type.Integer({ minimum: 0 }),
  budget: Type.Object({
    limit: Count,
    windowSeconds: Type.Number(),
    usedInWindow: Type.Integer({ minimum: 0, description: 'requests in the current window (the last 60 s), all workers' }),
    requestsTotal: Count,
    notBefore: Nullable(Timestamp),
  }),
  feeds: Type.Array(FeedStatus),
  generatedAt: Timestamp,
});
export type SyncStatus = Static<typeof SyncStatus>;

export const RunRequest = Type.Object(
  {
    mode: Type.Optional(Type.Union([Type.Literal('live'), Type.Literal('backfill')], { default: 'live' })),
    from: Type.Optional(Type.String({ minLength: 1, maxLength: 512, description: 'backfill only: the vendor cursor to start after (default: the start of the feed)' })),
  },
  { additionalProperties: false },
);
export type RunRequest = Static<typeof RunRequest>;

export const RunAccepted = Type.Object({
  mode: FeedName,
  queued: Type.Boolean({ description: 'a run was queued now (false: one is already queued, or no worker runs here and the next scheduled run picks it up)' }),
  from: Nullable(Type.String()),
});
export type RunAccepted = Static<typeof RunAccepted>;

export const DeadLetter = Type.Object({
  id: Uuid,
  feed: FeedName,
  cursor: Nullable(Type.String({ description: 'the page is the request after this cursor' })),
  attempts: Type.Integer({ minimum: 1 }),
  lastError: Type.String(),
  reason: Nullable(Type.String({ description: 'server, timeout, network, client, invalid or cursor_unknown' })),
  status: Type.Union([Type.Literal('open'), Type.Literal('retrying'), Type.Literal('resolved')]),
  resolution: Nullable(Type.Union([Type.Literal('stored'), Type.Literal('reset')], { description: 'stored: its page came in; reset: the feed was resumed from a time past it' })),
  retryable: Type.Boolean({ description: 'false when no retry can succeed (the vendor no longer knows the cursor): reset the sync instead' }),
  explanation: Type.String({ description: 'why the letter is here and what to do, in words' }),
  createdAt: Timestamp,
  resolvedAt: Nullable(Timestamp),
});
export type DeadLetter = Static<typeof DeadLetter>;

export const DeadLetterQuery = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_ACCOUNTS_PAGE, default: DEFAULT_ACCOUNTS_PAGE })),
    cursor: Type.Optional(Cursor),
    status: Type.Optional(Type.Union([Type.Literal('open'), Type.Literal('retrying'), Type.Literal('resolved')])),
  },
  { additionalProperties: false },
);
export type DeadLetterQuery = Static<typeof DeadLetterQuery>;

export const DeadLetterPage = Type.Object({ data: Type.Array(DeadLetter, { description: 'newest first' }), nextCursor: Nullable(Type.String()) });
export type DeadLetterPage = Static<typeof DeadLetterPage>;

export const DeadLetterParams = Type.Object({ id: Uuid }, { additionalProperties: false });
export type DeadLetterParams = Static<typeof DeadLetterParams>;

/** The earliest a reset may resume from: the sync does not ask a vendor for more than a year back. */
export const RESET_MAX_AGE_DAYS = 366;

export const ResetRequest = Type.Object(
  {
    from: Type.String({
      format: 'date-time',
      description: `resume the live feed with the entries that arrived at the vendor at or after this time (ISO 8601); not in the future, at most ${RESET_MAX_AGE_DAYS} days back`,
    }),
  },
  { additionalProperties: false },
);
export type ResetRequest = Static<typeof ResetRequest>;

export const ResetAccepted = Type.Object({
  feed: Type.Literal('live'),
  from: Timestamp,
  previousStatus: Type.String({ description: 'the stored status before the reset' }),
  previousCursor: Nullable(Type.String()),
  deadLettersClosed: Type.Integer({ minimum: 0, description: "the feed's open dead letters, closed as resolution reset" }),
  queued: Type.Boolean({ description: 'a live pass was queued now' }),
});
export type ResetAccepted = Static<typeof ResetAccepted>;
