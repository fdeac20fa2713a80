-- 0032_failure_rollups: the failures feed from hourly rollups (issue 19 part 2).
--
-- GET /reports/transactions/failures aggregated the raw failed transactions of its whole
-- window: 29 ms for 24 h and 378 ms for 720 h on data set L, where the seed system it
-- replaced answered in 12 ms. Now failed transactions are counted per UTC hour as they
-- are written (statement trigger, in the writer's transaction), in two tiers:
--
--   failure_rollups  per school, hour, failure code, gateway and method (a school's
--                    admin, or a filter on one school, reads their schools' rows)
--   failure_hours    the same for every school, per currency instead of school (a
--                    caller who sees every school reads at most hours × codes ×
--                    gateways × methods × currencies rows, whatever the number of schools)
--   failure_days     failure_hours per UTC day, for windows over 72 hours (whose series
--                    is daily): 720 hours are 30 days of rows instead of 720 hours of them
--
-- The feed reads whole days (long windows) and whole hours from the tiers and only the two
-- partial hours at the window's edges from transactions (transactions_failures_idx), so
-- its counts stay exact.
-- `npm run verify` compares both tiers with a recomputation (src/modules/reporting/rollups.ts).
-- Failed transactions are only ever inserted; the seed loads transactions with triggers
-- off and calls refresh_failure_rollups() afterwards.

create table failure_rollups (
  school_id    uuid not null references schools (id),
  hour         timestamptz not null,
  failure_code text not null,
  gateway      text not null,
  method       text not null,
  failures     bigint not null check (failures > 0),
  amount       bigint not null,
  primary key (school_id, hour, failure_code, gateway, method)
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

-- The failed rows a statement inserted, counted per school and UTC hour into both tiers,
-- in key order (two writers of the same buckets lock them in the same order).
create function failure_rollups_on_transactions() returns trigger
language plpgsql as $$
begin
  with f as (
    select t.school_id, date_trunc('hour', t.created_at, 'UTC') as hour, t.failure_code, t.gateway, t.method,
           count(*) as failures, sum(t.amount) as amount
      from new_rows t
     where t.status = 'failed'
     group by 1, 2, 3, 4, 5
  ),
  per_school as (
    insert into failure_rollups as r (school_id, hour, failure_code, gateway, method, failures, amount)
    select school_id, hour, failure_code, gateway, method, failures, amount from f order by 1, 2, 3, 4, 5
    on conflict (school_id, hour, failure_code, gateway, method)
      do update set failures = r.failures + excluded.failures, amount = r.amount + excluded.amount
  ),
  per_currency as (
    select f.hour, s.currency, f.failure_code, f.gateway, f.method, sum(f.failures) as failures, sum(f.amount) as amount
      from f join schools s on s.id = f.school_id
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
create function refresh_failure_rollups() returns void
language plpgsql as $$
begin
  delete from failure_rollups;
  delete from failure_hours;
  delete from failure_days;
  insert into failure_rollups (school_id, hour, failure_code, gateway, method, failures, amount)
  select school_id, date_trunc('hour', created_at, 'UTC'), failure_code, gateway, method, count(*), sum(amount)
    from transactions where status = 'failed'
   group by 1, 2, 3, 4, 5;
  insert into failure_hours (hour, currency, failure_code, gateway, method, failures, amount)
  select r.hour, s.currency, r.failure_code, r.gateway, r.method, sum(r.failures), sum(r.amount)
    from failure_rollups r join schools s on s.id = r.school_id
   group by 1, 2, 3, 4, 5;
  insert into failure_days (day, currency, failure_code, gateway, method, failures, amount)
  select date_trunc('day', hour, 'UTC'), currency, failure_code, gateway, method, sum(failures), sum(amount)
    from failure_hours
   group by 1, 2, 3, 4, 5;
end
$$;

select refresh_failure_rollups();
