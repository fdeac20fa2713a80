-- 0036_live_wake_after_commit: the live hubs woken after a payment's commit, not in it.
--
-- Every transaction that inserts transactions rows NOTIFYs bursar_live (0006). PostgreSQL
-- queues notifications in commit order by taking one database-wide lock in every
-- notifying commit and holding it until that commit is flushed to disk, so notifying
-- commits are flushed one at a time, never together. Measured (data set S, 32
-- connections calling record_payment() directly): 553 payments/s with the NOTIFY,
-- 846/s without.
--
-- A writer that wakes the hubs itself once it has committed (POST /payments and POST
-- /families/:id/payments: src/modules/live/wake.ts) sets bursar.live_wake to
-- 'after_commit' for its transaction, and the trigger leaves the NOTIFY to it. Every
-- other writer is woken for as before.
create or replace function transactions_notify_live() returns trigger
language plpgsql as $$
begin
  if current_setting('bursar.live_wake', true) is distinct from 'after_commit' then
    perform pg_notify('bursar_live', '');
  end if;
  return null;
end
$$;
