-- 0013_sync_reset: an unknown cursor is a state with an operator action, not a page
-- that fails forever (issue 15, point 3).
--
-- When the vendor no longer knows the feed's cursor (a vendor reset, a restored backup,
-- a simulator that lost its feed), no retry can succeed: the cursor of the next page is
-- only known from the vendor. The feed then stops in status `needs_reset` until an
-- operator resumes it from a time (POST /sync/reset {from}): the worker asks the vendor
-- for the entries that arrived since then (`resume_from`), and the page that answers
-- sets the new cursor, in the same statement that stores its rows. Entries already
-- stored are skipped by their vendor id, so resuming from an earlier time doubles nothing.

alter table sync_feeds drop constraint sync_feeds_status_check;
alter table sync_feeds add constraint sync_feeds_status_check
  check (status in ('idle', 'blocked', 'done', 'needs_reset'));

-- Set by a reset: the next page is asked for by time, not by cursor (then null again).
alter table sync_feeds add column resume_from timestamptz;
-- The newest createdAt of any entry this feed has stored: the default time to resume
-- from (nothing created after it can be stored yet, so resuming there loses nothing).
alter table sync_feeds add column newest_entry_at timestamptz;
update sync_feeds f
   set newest_entry_at = (select max(created_at) from ledger_entries)
 where f.feed = 'live';

-- Why a page was dead-lettered (the worker's failure reason: server, timeout, network,
-- client, invalid, cursor_unknown) and how an unresolved letter was closed: `stored`
-- (its page came in at last) or `reset` (an operator resumed the feed from a time, so
-- that page will never be asked for).
alter table sync_dead_letters add column reason text;
alter table sync_dead_letters add column resolution text
  check (resolution in ('stored', 'reset'));
update sync_dead_letters set resolution = 'stored' where status = 'resolved';
update sync_dead_letters set reason = 'cursor_unknown'
 where last_error ~* 'not a cursor|unknown cursor|cursor (expired|not found)';
-- The worker stored its error as '<reason>: <message>'.
update sync_dead_letters set reason = split_part(last_error, ':', 1)
 where reason is null and split_part(last_error, ':', 1) in ('server', 'timeout', 'network', 'client', 'invalid');

-- Feeds parked on such a page before this migration (they retried it forever) now say
-- what they need.
update sync_feeds f
   set status = 'needs_reset', retry_at = null
 where f.status = 'blocked'
   and exists (select 1 from sync_dead_letters d
                where d.feed = f.feed and d.status <> 'resolved' and d.reason = 'cursor_unknown');
