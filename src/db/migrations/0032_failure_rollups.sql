-- 0032_failure_rollups: the failures feed from hourly rollups (issue 19 part 2).
--
-- GET /reports/transactions/failures aggregated the raw failed transactions of its whole
-- window: 29 ms for 24 h and 378 ms for 720 h on data set L, where the seed system it
-- replaced answered in 12 ms. Now failed transactions are counted as they are written
-- (statement trigger, in the writer's transaction), for every school at once, per
-- currency instead of per school, in two tiers:
--
--   failure_hours  per UTC hour, failure code, gateway, method and currency
--   failure_days   the same per UTC day, for windows over 72 hours (whose series is
--                  daily): 720 hours are 30 days of rows instead of 720 hours of them
--
-- so the feed over every school reads the same few rows whatever the number of schools
-- or transactions. It reads whole days and hours from the tiers and only the two partial
-- hours at the window's edges from transactions (transactions_failures_idx), so its
-- counts stay exact. A feed filtered on one school reads that school's raw rows (a
-- per-school hourly tier would hold about one row per failure at L: a school sees less
-- than one failure an hour). `npm run verify` compares both tiers with a recomputation
-- (src/modules/reporting/rollups.ts). Failed transactions are only ever inserted; the
-- seed loads transactions with triggers off and calls refresh_failure_rollups() after.

create table failure_hours (
  hour         timestamptz not null,
  currency     text not null,
  failure_code text not null,
  gateway      text not null,
  method       text not null,
  failures     bigint not null check (failures > 0),
  amount       bigint not null,
  primary key (hour, currency, failure_code, gateway, method)
);

create table failure_days (
  day          timestamptz not null,
  currency     text not null,
  failure_code text not null,
  gateway      text not null,
  method       text not null,
  failures     bigint not null check (failures > 0),
  amount       bigint not null,
  primary key (day, currency, failure_code, gateway, method)
);

-- The failed rows a statement inserted, counted per currency and UTC hour and day, in key
-- order (two writers of the same buckets lock them in the same order).
create function failure_rollups_on_transactions() returns trigger
language plpgsql as $$
begin
  with per_currency as (
    select date_trunc('hour', t.created_at, 'UTC') as hour, s.currency, t.failure_code, t.gateway, t.method,
           count(*) as failures, sum(t.amount) as amount
      from new_rows t join schools s on s.id = t.school_id
     where t.status = 'failed'
     group by 1, 2, 3, 4, 5
  ),
  hours as (
    insert into failure_hours as h (hour, currency, failure_code, gateway, method, failures, amount)
    select hour, currency, failure_code, gateway, method, failures, amount from per_currency order by 1, 2, 3, 4, 5
    on conflict (hour, currency, failure_code, gateway, method)
      do update set failures = h.failures + excluded.failures, amount = h.amount + excluded.amount
  )
  insert into failure_days as d (day, currency, failure_code, gateway, method, failures, amount)
  select date_trunc('day', hour, 'UTC'), currency, failure_code, gateway, method, sum(failures), sum(amount)
    from per_currency
   group by 1, 2, 3, 4, 5
   order by 1, 2, 3, 4, 5
  on conflict (day, currency, failure_code, gateway, method)
    do update set failures = d.failures + excluded.failures, amount = d.amount + excluded.amount;
  return null;
end
$$;

create trigger transactions_failure_rollups after insert on transactions
  referencing new table as new_rows for each statement execute function failure_rollups_on_transactions();

-- Both tiers recomputed from transactions (the seed after a bulk load; the backfill below).
-- Some 100 000 hour buckets for a year of data set L: the aggregate fits in work_mem.
create function refresh_failure_rollups() returns void
language plpgsql as $$
begin
  perform set_config('work_mem', '256MB', true);
  delete from failure_hours;
  delete from failure_days;
  insert into failure_hours (hour, currency, failure_code, gateway, method, failures, amount)
  select date_trunc('hour', t.created_at, 'UTC'), s.currency, t.failure_code, t.gateway, t.method, count(*), sum(t.amount)
    from transactions t join schools s on s.id = t.school_id
   where t.status = 'failed'
   group by 1, 2, 3, 4, 5
   order by 1, 2, 3, 4, 5;  -- stored in time order, as the trigger appends them: a window reads few pages
  insert into failure_days (day, currency, failure_code, gateway, method, failures, amount)
  select date_trunc('day', hour, 'UTC'), currency, failure_code, gateway, method, sum(failures), sum(amount)
    from failure_hours
   group by 1, 2, 3, 4, 5
   order by 1, 2, 3, 4, 5;
end
$$;

select refresh_failure_rollups();
