-- 0006_live_events: transactions as a gap-free, resumable event stream.
--
-- Every payment, refund and failed attempt is a transactions row, and every row is a
-- live event (payment_received | payment_refunded | payment_failed). Clients resume
-- with the last event id they saw, so events need a total order in which a reader that
-- has seen event E can never later find a new event before E.
--
-- Insertion order (a sequence, uuid v7) does not give that: a transaction that took an
-- earlier number can commit after a later one. Commit order is what matters, so each
-- row records the id of the database transaction that wrote it (xact_id, xid8), and an
-- event is only published once every transaction with a smaller xid has ended, i.e.
-- xact_id < pg_snapshot_xmin(pg_current_snapshot()). Below that horizon nothing can be
-- added any more, so (xact_id, id) is a stable order: events become final in xact_id
-- order, all of one transaction at once. The event id is that pair.
--
-- Rows from before this migration (and bulk-seeded history) have no xact_id; they are
-- history, not events.
alter table transactions add column xact_id xid8;
alter table transactions alter column xact_id set default pg_current_xact_id();
create index transactions_events_idx on transactions (xact_id, id) where xact_id is not null;

-- Wake the live hubs (every instance LISTENs) when new events commit. NOTIFY is
-- transactional: it is delivered at commit, once per transaction and payload.
create function transactions_notify_live() returns trigger
language plpgsql as $$
begin
  perform pg_notify('bursar_live', '');
  return null;
end
$$;

create trigger transactions_notify_live after insert on transactions
  for each statement execute function transactions_notify_live();
