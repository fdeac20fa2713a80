-- 0007_analytics: live analytics read money movements from an index alone.
--
-- GET /analytics/metrics, /analytics/trends and /analytics/methods aggregate the
-- transactions of a window (the last 24 h, 7 or 30 days) by school, status, method and
-- hour or day. Failed attempts already have a covering index (0005,
-- transactions_failures_idx); this is its twin for money movements, succeeded payments
-- and refunds, so both halves of every aggregate are index-only range scans of the
-- window instead of one heap visit per row (seeded history is not stored in time order:
-- a 30-day window touched ~22 000 heap pages of a 1 M-row table).
--
-- It also serves GET /transactions?status=succeeded|refunded newest first (created_at
-- desc, id desc), which would otherwise walk transactions_created_idx past every failed
-- attempt. Partial: failed attempts (most rows) are not in it, and pending ones are
-- never aggregated.
create index transactions_money_idx on transactions (created_at desc, id desc)
  include (school_id, status, method, amount)
  where status in ('succeeded', 'refunded');
