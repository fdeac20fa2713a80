-- 0008_gateway_sync: pull the gateway's account feed exactly once, under its limits.
--
-- The entries themselves live in ledger_entries (0001: vendor id primary key, append-only).
-- This migration adds what the sync worker (src/modules/sync) needs around them:
--
--   * ledger_accounts: per-account running sums, maintained in the same transaction as
--     every insert into ledger_entries (npm run verify proves them equal to a full
--     recomputation);
--   * sync_feeds: one row per feed (live, backfill) with the vendor cursor, committed in
--     the same transaction as the rows fetched with it;
--   * sync_budget: the vendor's request budget (5 per minute per API key), shared by every
--     worker of every instance and kept across restarts;
--   * sync_dead_letters / sync_conflicts: pages that kept failing, and vendor ids re-sent
--     with another body.

-- Per-account sums of the ledger (minor units). balance = earned − spent − paid_out;
-- a payout is a request and does not move the balance, paid_out does.
create table ledger_accounts (
  account_id text primary key check (length(account_id) between 1 and 128),
  earned     bigint not null default 0 check (earned >= 0),
  spent      bigint not null default 0 check (spent >= 0),
  payout     bigint not null default 0 check (payout >= 0),
  paid_out   bigint not null default 0 check (paid_out >= 0),
  entries    bigint not null default 0 check (entries >= 0),
  balance    bigint generated always as (earned - spent - paid_out) stored,
  updated_at timestamptz not null default now()
);

-- GET /accounts/:id/payouts lists an account's payout and paid_out entries newest first.
create index ledger_entries_payouts_idx on ledger_entries (account_id, created_at desc, vendor_id desc)
  where type in ('payout', 'paid_out');

-- One row per feed walked by the worker. `cursor` is the vendor's opaque cursor of the
-- last page stored (null = the start of the feed); it only ever changes in the
-- transaction that stores that page's rows. `status`: idle, blocked (a page failed
-- max-attempts times: the worker waits for retry_at or a manual retry rather than skip
-- it), done (a backfill that reached the head).
create table sync_feeds (
  feed                 text primary key check (feed in ('live', 'backfill')),
  cursor               text,
  status               text not null default 'idle' check (status in ('idle', 'blocked', 'done')),
  consecutive_failures integer not null default 0 check (consecutive_failures >= 0),
  retry_at             timestamptz,
  last_error           text,
  last_run_at          timestamptz,
  last_success_at      timestamptz,
  -- The last time a page came back not full: the local copy was complete then.
  caught_up_at         timestamptz,
  -- Entries the vendor said were still after our cursor (its `remaining`), if it says.
  behind               bigint,
  pages                bigint not null default 0,
  updated_at           timestamptz not null default now()
);
insert into sync_feeds (feed) values ('live'), ('backfill');
update sync_feeds set status = 'done' where feed = 'backfill';

-- The vendor's limit is a sliding window per API key: at most `limit_per_window`
-- requests in any `window_ms`. `recent` holds the times of the last `limit_per_window`
-- reservations (epoch ms of the worker's clock): a request may start at t when fewer
-- than that many lie in (t − window, t]. A slot is reserved under SELECT … FOR UPDATE of
-- this row before every request, by every worker. `not_before` is the vendor's last
-- Retry-After.
create table sync_budget (
  api_key_hash     text primary key,
  recent           bigint[] not null default '{}',
  not_before       bigint not null default 0,
  requests_total   bigint not null default 0,
  updated_at       timestamptz not null default now()
);

-- A page (the request after `cursor`) that failed max-attempts times in a row. The feed
-- stops there (status blocked): skipping it would lose its entries, and the cursor of
-- the page after it is only known from its own answer.
create table sync_dead_letters (
  id          uuid primary key default uuid_v7(),
  feed        text not null references sync_feeds (feed),
  cursor      text,
  attempts    integer not null check (attempts > 0),
  last_error  text not null,
  status      text not null default 'open' check (status in ('open', 'retrying', 'resolved')),
  created_at  timestamptz not null,
  resolved_at timestamptz
);
create index sync_dead_letters_list_idx on sync_dead_letters (created_at desc, id desc);
-- At most one unresolved dead letter per feed: the feed is parked on it.
create unique index sync_dead_letters_open_idx on sync_dead_letters (feed) where status <> 'resolved';

-- A vendor id that came again with a different body. The first body stays in
-- ledger_entries (append-only); each distinct other body is recorded once here.
create table sync_conflicts (
  vendor_id   text not null,
  body_hash   bytea not null,
  body        jsonb not null,
  stored_hash bytea not null,
  seen_at     timestamptz not null,
  primary key (vendor_id, body_hash)
);

-- Reserves one request slot of a budget at p_now (epoch ms of the caller's clock), in one
-- round trip, under the budget row's lock. Returns 0 when granted (the slot is recorded),
-- else the milliseconds to wait: until the vendor's Retry-After, or until the oldest of
-- the last p_limit requests leaves the window (the window is (t − p_window_ms, t]).
create function sync_reserve_slot(p_key text, p_now bigint, p_limit integer, p_window_ms bigint)
returns bigint
language plpgsql as $$
declare
  budget sync_budget%rowtype;
  kept   bigint[];
  n      integer;
begin
  insert into sync_budget (api_key_hash) values (p_key) on conflict do nothing;
  select * into budget from sync_budget where api_key_hash = p_key for update;
  if p_now < budget.not_before then
    return budget.not_before - p_now;
  end if;
  kept := array(select t from unnest(budget.recent) as t where t > p_now - p_window_ms order by t);
  n := coalesce(array_length(kept, 1), 0);
  if n >= p_limit then
    return greatest(1, kept[n - p_limit + 1] + p_window_ms - p_now);
  end if;
  update sync_budget
     set recent = kept || p_now, requests_total = requests_total + 1, updated_at = now()
   where api_key_hash = p_key;
  return 0;
end
$$;
