-- 0005_failures_feed_index: the failures feed reads only the index.
--
-- GET /reports/transactions/failures aggregates the failed attempts of a time window
-- (by code and currency, by gateway, per hour) and lists the latest ones. Every column
-- those statements filter or group on is carried by the index, so the aggregates are
-- index-only scans of the window instead of one heap visit per failed attempt (the
-- table is append-only, so the visibility map stays set once autovacuum has passed).
drop index transactions_failures_idx;
create index transactions_failures_idx on transactions (created_at desc, id desc)
  include (school_id, method, gateway, failure_code, amount)
  where status = 'failed';
