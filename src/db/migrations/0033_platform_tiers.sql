-- 0033_platform_tiers: the dashboard over every school from a platform tier (issue 19 part 1).
--
-- The dashboard for "all schools" summed one totals row per school: its cost grew with
-- the number of schools (151 ms at 4 167 schools). The platform tier holds the same sums
-- per currency instead of per school, so the answer for every school reads the same few
-- rows at 10 or 10 000 schools:
--
--   platform_invoice_sums  per currency, time zone, grade ('' = every grade) and period
--   platform_payment_sums  per currency, grade ('' = every grade), method ('' = every
--                          method) and period
--
-- A period is 'a' (all time, period_start -infinity), 'm' (a calendar month, its first
-- day) or 'd' (a day: the due date of invoices, the school-local day of money received).
-- A date range reads whole months from 'm' rows and the days at its edges from 'd' rows.
-- The invoices keep the time zone so "overdue" (due before the school's local today)
-- stays exact: each zone has its own today.
--
-- Only live schools (deleted_at is null) count, as on the dashboard.
--
-- Writing without a hot row. Every payment of a currency would update the same platform
-- row, and hold its lock until commit: payments of all schools would queue on it. So the
-- writers only append: the row triggers of the per-school totals (which fire for every
-- change of a day bucket, in the writer's transaction) insert the change into
-- platform_invoice_deltas / platform_payment_deltas, and fold_platform_deltas() moves
-- them into the sums in one statement per table (delete … returning, grouped, upserted).
-- A reader sums the sums and the deltas not folded yet in one statement, so it is exact
-- whether or not a fold ran, or runs at the same time. The dashboard folds before it reads
-- (when deltas wait), and the maintenance job folds on its interval.
--
-- A school's time zone, currency or deletion moves its whole contribution: the schools
-- trigger appends minus its buckets under the old keys and plus them under the new ones,
-- under the school's billing_versions lock (every money writer takes it first), so no
-- payment falls between the two. refresh_reporting_rollups(school) does the same around
-- its rebuild; refresh_reporting_rollups() (every school) rebuilds the platform tier
-- from the rebuilt buckets. `npm run verify` compares the tier with a recomputation.

create table platform_invoice_sums (
  period            "char" not null check (period in ('a', 'm', 'd')),
  period_start      date not null,
  currency          text not null,
  grade             text not null,
  timezone          text not null,
  invoice_count     bigint not null,
  amount_due        bigint not null,
  amount_paid       bigint not null,
  outstanding_count bigint not null,
  partial_count     bigint not null,
  primary key (period, grade, period_start, currency, timezone)
);

create table platform_payment_sums (
  period        "char" not null check (period in ('a', 'm', 'd')),
  period_start  date not null,
  currency      text not null,
  grade         text not null,
  method        text not null,
  payment_count bigint not null,
  amount        bigint not null,
  primary key (period, grade, method, period_start, currency)
);

-- Keys in the order the dashboard reads them: a level (grade, method) and a date range,
-- every currency. Buckets that became empty are deleted after each fold: these find
-- them without a scan.
-- A few thousand rows read through their keys: a parallel plan's start-up (10–15 ms on
-- two cores) would cost more than the read.
alter table platform_invoice_sums set (parallel_workers = 0);
alter table platform_payment_sums set (parallel_workers = 0);

create index platform_invoice_sums_empty_idx on platform_invoice_sums (currency) where invoice_count = 0;
create index platform_payment_sums_empty_idx on platform_payment_sums (currency) where payment_count = 0 and amount = 0;

create table platform_invoice_deltas (
  id                bigint generated always as identity primary key,
  currency          text not null,
  timezone          text not null,
  grade             text not null,
  due_date          date not null,
  invoice_count     bigint not null,
  amount_due        bigint not null,
  amount_paid       bigint not null,
  outstanding_count bigint not null,
  partial_count     bigint not null
);

create table platform_payment_deltas (
  id            bigint generated always as identity primary key,
  currency      text not null,
  grade         text not null,
  method        text not null,
  paid_on       date not null,
  payment_count bigint not null,
  amount        bigint not null
);

-- ---------------------------------------------------------------------------------
-- Folding: grouped by key first, then spread over the levels (grade and '', method and
-- '') and periods (all time, month, day).
-- ---------------------------------------------------------------------------------
create function fold_platform_deltas() returns void
language plpgsql as $$
begin
  -- One folder at a time; another finds the lock taken and leaves the deltas to it.
  if not pg_try_advisory_xact_lock(hashtext('bursar:platform-fold')) then
    return;
  end if;

  with gone as (
    delete from platform_invoice_deltas
    returning currency, timezone, grade, due_date, invoice_count, amount_due, amount_paid, outstanding_count, partial_count
  ),
  keyed as (
    select currency, timezone, grade, due_date, sum(invoice_count) as invoice_count, sum(amount_due) as amount_due,
           sum(amount_paid) as amount_paid, sum(outstanding_count) as outstanding_count, sum(partial_count) as partial_count
      from gone
     group by 1, 2, 3, 4
  )
  insert into platform_invoice_sums as t (period, period_start, currency, grade, timezone, invoice_count, amount_due, amount_paid, outstanding_count, partial_count)
  select p.period, p.period_start, k.currency, g.grade, k.timezone, sum(k.invoice_count), sum(k.amount_due), sum(k.amount_paid),
         sum(k.outstanding_count), sum(k.partial_count)
    from keyed k
    cross join lateral (values (k.grade), ('')) g (grade)
    cross join lateral (values ('a'::"char", '-infinity'::date), ('m', date_trunc('month', k.due_date)::date), ('d', k.due_date)) p (period, period_start)
   group by 1, 2, 3, 4, 5
   order by 1, 4, 2, 3, 5
  on conflict (period, grade, period_start, currency, timezone) do update
     set invoice_count     = t.invoice_count + excluded.invoice_count,
         amount_due        = t.amount_due + excluded.amount_due,
         amount_paid       = t.amount_paid + excluded.amount_paid,
         outstanding_count = t.outstanding_count + excluded.outstanding_count,
         partial_count     = t.partial_count + excluded.partial_count;
  delete from platform_invoice_sums where invoice_count = 0;

  with gone as (
    delete from platform_payment_deltas returning currency, grade, method, paid_on, payment_count, amount
  ),
  keyed as (
    select currency, grade, method, paid_on, sum(payment_count) as payment_count, sum(amount) as amount
      from gone
     group by 1, 2, 3, 4
  )
  insert into platform_payment_sums as t (period, period_start, currency, grade, method, payment_count, amount)
  select p.period, p.period_start, k.currency, l.grade, l.method, sum(k.payment_count), sum(k.amount)
    from keyed k
    cross join lateral (values (k.grade, k.method), (k.grade, ''), ('', k.method), ('', '')) l (grade, method)
    cross join lateral (values ('a'::"char", '-infinity'::date), ('m', date_trunc('month', k.paid_on)::date), ('d', k.paid_on)) p (period, period_start)
   group by 1, 2, 3, 4, 5
   order by 1, 4, 5, 2, 3
  on conflict (period, grade, method, period_start, currency) do update
     set payment_count = t.payment_count + excluded.payment_count,
         amount        = t.amount + excluded.amount;
  delete from platform_payment_sums where payment_count = 0 and amount = 0;
end
$$;

-- One school's buckets, times p_sign, as deltas under the given currency and time zone.
create function platform_school_deltas(p_school uuid, p_sign bigint, p_currency text, p_timezone text) returns void
language sql as $$
  insert into platform_invoice_deltas (currency, timezone, grade, due_date, invoice_count, amount_due, amount_paid, outstanding_count, partial_count)
  select p_currency, p_timezone, grade, due_date, p_sign * invoice_count, p_sign * amount_due, p_sign * amount_paid,
         p_sign * outstanding_count, p_sign * partial_count
    from invoice_rollups
   where school_id = p_school;
  insert into platform_payment_deltas (currency, grade, method, paid_on, payment_count, amount)
  select p_currency, grade, method, paid_on, p_sign * payment_count, p_sign * amount
    from payment_rollups
   where school_id = p_school;
$$;

-- The whole tier again from the day buckets of the live schools (refresh_reporting_rollups()
-- of every school, the seed). Writers append deltas; the exclusive lock waits for those
-- in flight and holds new ones back, so no delta is both deleted here and in the buckets
-- read here, or in neither.
create function rebuild_platform_tiers() returns void
language plpgsql as $$
begin
  lock table platform_invoice_deltas, platform_payment_deltas in exclusive mode;
  delete from platform_invoice_deltas;
  delete from platform_payment_deltas;
  delete from platform_invoice_sums;
  delete from platform_payment_sums;
  insert into platform_invoice_deltas (currency, timezone, grade, due_date, invoice_count, amount_due, amount_paid, outstanding_count, partial_count)
  select s.currency, s.timezone, r.grade, r.due_date, sum(r.invoice_count), sum(r.amount_due), sum(r.amount_paid),
         sum(r.outstanding_count), sum(r.partial_count)
    from invoice_rollups r
    join schools s on s.id = r.school_id
   where s.deleted_at is null
   group by 1, 2, 3, 4;
  insert into platform_payment_deltas (currency, grade, method, paid_on, payment_count, amount)
  select s.currency, r.grade, r.method, r.paid_on, sum(r.payment_count), sum(r.amount)
    from payment_rollups r
    join schools s on s.id = r.school_id
   where s.deleted_at is null
   group by 1, 2, 3, 4;
  -- The lock already keeps every other folder out of these rows.
  perform fold_platform_deltas();
end
$$;

-- ---------------------------------------------------------------------------------
-- 0004's totals triggers, each now also appending its bucket's change as a delta (the
-- school's currency and time zone looked up; a deleted school adds nothing).
-- ---------------------------------------------------------------------------------
create or replace function invoice_totals_apply() returns trigger
language plpgsql as $$
begin
  if current_setting('bursar.refreshing_rollups', true) = 'on' then
    return null;
  end if;
  insert into invoice_totals as t (school_id, grade, invoice_count, amount_due, amount_paid, outstanding_count, partial_count)
  select d.school_id, d.grade, sum(d.s * d.invoice_count), sum(d.s * d.amount_due), sum(d.s * d.amount_paid),
         sum(d.s * d.outstanding_count), sum(d.s * d.partial_count)
    from (select new.school_id, level.grade, new.invoice_count, new.amount_due, new.amount_paid,
                 new.outstanding_count, new.partial_count, 1::bigint as s
            from (values (new.grade), ('')) level (grade)
           where tg_op <> 'DELETE'
          union all
          select old.school_id, level.grade, old.invoice_count, old.amount_due, old.amount_paid,
                 old.outstanding_count, old.partial_count, -1::bigint
            from (values (old.grade), ('')) level (grade)
           where tg_op <> 'INSERT') d
   group by 1, 2
  having sum(d.s * d.invoice_count) <> 0 or sum(d.s * d.amount_due) <> 0 or sum(d.s * d.amount_paid) <> 0
      or sum(d.s * d.outstanding_count) <> 0 or sum(d.s * d.partial_count) <> 0
   order by 1, 2
  on conflict (school_id, grade) do update
     set invoice_count     = t.invoice_count + excluded.invoice_count,
         amount_due        = t.amount_due + excluded.amount_due,
         amount_paid       = t.amount_paid + excluded.amount_paid,
         outstanding_count = t.outstanding_count + excluded.outstanding_count,
         partial_count     = t.partial_count + excluded.partial_count;
  if tg_op <> 'INSERT' then
    delete from invoice_totals where school_id = old.school_id and grade in (old.grade, '') and invoice_count = 0;
  end if;

  -- A bucket's key never changes: an update changes its sums only.
  insert into platform_invoice_deltas (currency, timezone, grade, due_date, invoice_count, amount_due, amount_paid, outstanding_count, partial_count)
  select s.currency, s.timezone, b.grade, b.due_date,
         coalesce(new.invoice_count, 0) - coalesce(old.invoice_count, 0),
         coalesce(new.amount_due, 0) - coalesce(old.amount_due, 0),
         coalesce(new.amount_paid, 0) - coalesce(old.amount_paid, 0),
         coalesce(new.outstanding_count, 0) - coalesce(old.outstanding_count, 0),
         coalesce(new.partial_count, 0) - coalesce(old.partial_count, 0)
    from (select coalesce(new.school_id, old.school_id) as school_id, coalesce(new.grade, old.grade) as grade,
                 coalesce(new.due_date, old.due_date) as due_date) b
    join schools s on s.id = b.school_id
   where s.deleted_at is null
     and (coalesce(new.invoice_count, 0) <> coalesce(old.invoice_count, 0) or coalesce(new.amount_due, 0) <> coalesce(old.amount_due, 0)
          or coalesce(new.amount_paid, 0) <> coalesce(old.amount_paid, 0)
          or coalesce(new.outstanding_count, 0) <> coalesce(old.outstanding_count, 0)
          or coalesce(new.partial_count, 0) <> coalesce(old.partial_count, 0));
  return null;
end
$$;

create or replace function payment_totals_apply() returns trigger
language plpgsql as $$
begin
  if current_setting('bursar.refreshing_rollups', true) = 'on' then
    return null;
  end if;
  insert into payment_totals as t (school_id, grade, method, payment_count, amount)
  select d.school_id, d.grade, d.method, sum(d.s * d.payment_count), sum(d.s * d.amount)
    from (select new.school_id, level.grade, level.method, new.payment_count, new.amount, 1::bigint as s
            from (values (new.grade, new.method), (new.grade, ''), ('', new.method), ('', '')) level (grade, method)
           where tg_op <> 'DELETE'
          union all
          select old.school_id, level.grade, level.method, old.payment_count, old.amount, -1::bigint
            from (values (old.grade, old.method), (old.grade, ''), ('', old.method), ('', '')) level (grade, method)
           where tg_op <> 'INSERT') d
   group by 1, 2, 3
  having sum(d.s * d.payment_count) <> 0 or sum(d.s * d.amount) <> 0
   order by 1, 2, 3
  on conflict (school_id, grade, method) do update
     set payment_count = t.payment_count + excluded.payment_count,
         amount        = t.amount + excluded.amount;
  if tg_op <> 'INSERT' then
    delete from payment_totals
     where school_id = old.school_id and grade in (old.grade, '') and method in (old.method, '') and payment_count = 0 and amount = 0;
  end if;

  insert into platform_payment_deltas (currency, grade, method, paid_on, payment_count, amount)
  select s.currency, b.grade, b.method, b.paid_on,
         coalesce(new.payment_count, 0) - coalesce(old.payment_count, 0), coalesce(new.amount, 0) - coalesce(old.amount, 0)
    from (select coalesce(new.school_id, old.school_id) as school_id, coalesce(new.grade, old.grade) as grade,
                 coalesce(new.method, old.method) as method, coalesce(new.paid_on, old.paid_on) as paid_on) b
    join schools s on s.id = b.school_id
   where s.deleted_at is null
     and (coalesce(new.payment_count, 0) <> coalesce(old.payment_count, 0) or coalesce(new.amount, 0) <> coalesce(old.amount, 0));
  return null;
end
$$;

-- ---------------------------------------------------------------------------------
-- 0020's refresh, with the platform tier kept: one school's contribution out before its
-- buckets are rebuilt and in after (unless the schools trigger below is moving it
-- itself), or the whole tier rebuilt when every school is.
-- ---------------------------------------------------------------------------------
create or replace function refresh_reporting_rollups(p_school uuid default null) returns void
language plpgsql as $$
declare
  moving boolean := current_setting('bursar.platform_moving', true) = 'on';
  live record;
begin
  insert into billing_versions (school_id, version)
  select id, 1 from schools where p_school is null or id = p_school order by id
  on conflict (school_id) do nothing;
  perform 1 from billing_versions where p_school is null or school_id = p_school order by school_id for update;

  if p_school is not null and not moving then
    select currency, timezone into live from schools where id = p_school and deleted_at is null;
    if found then
      perform platform_school_deltas(p_school, -1, live.currency, live.timezone);
    end if;
  end if;

  perform set_config('bursar.refreshing_rollups', 'on', true);

  if p_school is null then
    delete from invoice_rollups;
    delete from payment_rollups;
    delete from invoice_totals;
    delete from payment_totals;
  else
    delete from invoice_rollups where school_id = p_school;
    delete from payment_rollups where school_id = p_school;
    delete from invoice_totals where school_id = p_school;
    delete from payment_totals where school_id = p_school;
  end if;

  insert into invoice_rollups (school_id, grade, due_date, invoice_count, amount_due, amount_paid, outstanding_count, partial_count)
  select i.school_id, st.grade, i.due_date, count(*), sum(i.amount), sum(i.paid_amount),
         count(*) filter (where i.paid_amount < i.amount), count(*) filter (where i.paid_amount > 0 and i.paid_amount < i.amount)
    from invoices i
    join students st on st.id = i.student_id
   where i.cancelled_at is null and st.deleted_at is null
     and (p_school is null or i.school_id = p_school)
   group by 1, 2, 3;

  insert into payment_rollups (school_id, grade, method, paid_on, payment_count, amount)
  select m.school_id, m.grade, m.method, m.paid_on, sum(m.n), sum(m.amount)
    from payment_movements m
   where p_school is null or m.school_id = p_school
   group by 1, 2, 3, 4
  having sum(m.n) <> 0 or sum(m.amount) <> 0;

  insert into invoice_totals (school_id, grade, invoice_count, amount_due, amount_paid, outstanding_count, partial_count)
  select school_id, coalesce(grade, ''), sum(invoice_count), sum(amount_due), sum(amount_paid), sum(outstanding_count), sum(partial_count)
    from invoice_rollups
   where p_school is null or school_id = p_school
   group by grouping sets ((school_id, grade), (school_id));

  insert into payment_totals (school_id, grade, method, payment_count, amount)
  select school_id, coalesce(grade, ''), coalesce(method, ''), sum(payment_count), sum(amount)
    from payment_rollups
   where p_school is null or school_id = p_school
   group by grouping sets ((school_id, grade, method), (school_id, grade), (school_id, method), (school_id))
  having sum(payment_count) <> 0 or sum(amount) <> 0;

  perform set_config('bursar.refreshing_rollups', 'off', true);

  if p_school is null then
    perform rebuild_platform_tiers();
  elsif not moving then
    select currency, timezone into live from schools where id = p_school and deleted_at is null;
    if found then
      perform platform_school_deltas(p_school, 1, live.currency, live.timezone);
    end if;
  end if;
end
$$;

-- 0003's schools trigger: a time-zone change still rebuilds the school's buckets (every
-- local payment day moves); a change of time zone, currency or deletion also moves the
-- school's contribution to the platform tier, out under the old keys, in under the new.
create or replace function reporting_rollups_on_school() returns trigger
language plpgsql as $$
declare
  moved record;
begin
  for moved in
    select n.id, o.currency as old_currency, o.timezone as old_timezone, o.deleted_at is null as old_live,
           n.currency as new_currency, n.timezone as new_timezone, n.deleted_at is null as new_live,
           o.timezone is distinct from n.timezone as rezoned
      from old_rows o join new_rows n on n.id = o.id
     where o.timezone is distinct from n.timezone or o.currency is distinct from n.currency
        or (o.deleted_at is null) <> (n.deleted_at is null)
     order by n.id
  loop
    insert into billing_versions (school_id, version) values (moved.id, 1) on conflict (school_id) do nothing;
    perform 1 from billing_versions where school_id = moved.id for update;
    perform set_config('bursar.platform_moving', 'on', true);
    if moved.old_live then
      perform platform_school_deltas(moved.id, -1, moved.old_currency, moved.old_timezone);
    end if;
    if moved.rezoned then
      perform refresh_reporting_rollups(moved.id);
    end if;
    if moved.new_live then
      perform platform_school_deltas(moved.id, 1, moved.new_currency, moved.new_timezone);
    end if;
    perform set_config('bursar.platform_moving', 'off', true);
  end loop;
  return null;
end
$$;

-- The tier for the data already here.
select rebuild_platform_tiers();
