-- 0034_school_period_sums: any date range of the dashboard without grade or method
-- (issue 19 part 1, "a day tier without grade and method, and a month tier for long
-- ranges").
--
-- Over every school, a range's totals come from the platform tier (0033) in about a
-- millisecond; its page of schools did not. Ranking every school by what is outstanding
-- in the range read each school's (grade, due date) buckets in it, and the page's
-- figures read its schools' (grade, method, day) payment buckets: at data set L about
-- 23 000 invoice rows for the last 30 days and 11 000 payment rows for a year of a page
-- of 50 schools. These two tables hold the same sums per school without grade or method,
-- for each month ('m') and each day ('d'), as the platform tier does per currency:
--
--   school_invoice_sums  per school and due month / due day: invoices, due, paid
--   school_payment_sums  per school and local payment month / day: payments, money
--
-- so a range is its whole months plus the days at its edges (platformPeriods in
-- dashboard.repository.ts), one row per school and period: 1 000 rows to rank every
-- school for 30 days, 12 per school for a year. Grade or method filters stay on the
-- (school, grade[, method], day) buckets.
--
-- They are kept by row triggers on invoice_rollups and payment_rollups (whose rows each
-- money write already updates, in its transaction), and rebuilt by
-- refresh_reporting_rollups(), now a wrapper of 0033's function renamed
-- refresh_reporting_buckets. `npm run verify` compares both with a recomputation from
-- the raw rows. Each school's rows are its own: writers of different schools never meet.

create table school_invoice_sums (
  school_id     uuid not null,
  period        "char" not null check (period in ('m', 'd')),
  period_start  date not null,
  invoice_count bigint not null,
  amount_due    bigint not null,
  amount_paid   bigint not null,
  primary key (school_id, period, period_start)
) with (fillfactor = 80);

create table school_payment_sums (
  school_id     uuid not null,
  period        "char" not null check (period in ('m', 'd')),
  period_start  date not null,
  payment_count bigint not null,
  amount        bigint not null,
  primary key (school_id, period, period_start)
) with (fillfactor = 80);

-- Every school's rows of one period (ranking every school by a range). Without the sums
-- in it, so a payment's update of amount_paid stays a HOT update.
create index school_invoice_sums_period_idx on school_invoice_sums (period, period_start);

create function school_invoice_sums_apply() returns trigger
language plpgsql as $$
declare
  v_school uuid := coalesce(new.school_id, old.school_id);
  v_day date := coalesce(new.due_date, old.due_date);
begin
  -- Nothing to add (a refresh rebuilds the sums after it; an empty bucket comes and goes).
  if current_setting('bursar.refreshing_rollups', true) = 'on'
     or (coalesce(new.invoice_count, 0), coalesce(new.amount_due, 0), coalesce(new.amount_paid, 0))
        = (coalesce(old.invoice_count, 0), coalesce(old.amount_due, 0), coalesce(old.amount_paid, 0)) then
    return null;
  end if;
  -- A bucket's key never changes (0033): an update changes its sums only.
  insert into school_invoice_sums as t (school_id, period, period_start, invoice_count, amount_due, amount_paid)
  select v_school, p.period, p.period_start,
         coalesce(new.invoice_count, 0) - coalesce(old.invoice_count, 0),
         coalesce(new.amount_due, 0) - coalesce(old.amount_due, 0),
         coalesce(new.amount_paid, 0) - coalesce(old.amount_paid, 0)
    from (values ('d'::"char", v_day), ('m'::"char", date_trunc('month', v_day)::date)) p (period, period_start)
   order by p.period, p.period_start
  on conflict (school_id, period, period_start) do update
     set invoice_count = t.invoice_count + excluded.invoice_count,
         amount_due    = t.amount_due + excluded.amount_due,
         amount_paid   = t.amount_paid + excluded.amount_paid;
  if coalesce(new.invoice_count, 0) < coalesce(old.invoice_count, 0) then
    delete from school_invoice_sums
     where school_id = v_school and (period, period_start) in (('d', v_day), ('m', date_trunc('month', v_day)::date)) and invoice_count = 0;
  end if;
  return null;
end
$$;

create trigger invoice_rollups_school_sums after insert or update or delete on invoice_rollups
  for each row execute function school_invoice_sums_apply();

create function school_payment_sums_apply() returns trigger
language plpgsql as $$
declare
  v_school uuid := coalesce(new.school_id, old.school_id);
  v_day date := coalesce(new.paid_on, old.paid_on);
begin
  if current_setting('bursar.refreshing_rollups', true) = 'on'
     or (coalesce(new.payment_count, 0), coalesce(new.amount, 0)) = (coalesce(old.payment_count, 0), coalesce(old.amount, 0)) then
    return null;
  end if;
  insert into school_payment_sums as t (school_id, period, period_start, payment_count, amount)
  select v_school, p.period, p.period_start,
         coalesce(new.payment_count, 0) - coalesce(old.payment_count, 0),
         coalesce(new.amount, 0) - coalesce(old.amount, 0)
    from (values ('d'::"char", v_day), ('m'::"char", date_trunc('month', v_day)::date)) p (period, period_start)
   order by p.period, p.period_start
  on conflict (school_id, period, period_start) do update
     set payment_count = t.payment_count + excluded.payment_count,
         amount        = t.amount + excluded.amount;
  -- A bucket that gained a payment holds at least one; anything else (a refund, a
  -- payment moved away) can leave it empty.
  if coalesce(new.payment_count, 0) <= coalesce(old.payment_count, 0) then
    delete from school_payment_sums
     where school_id = v_school and (period, period_start) in (('d', v_day), ('m', date_trunc('month', v_day)::date))
       and payment_count = 0 and amount = 0;
  end if;
  return null;
end
$$;

create trigger payment_rollups_school_sums after insert or update or delete on payment_rollups
  for each row execute function school_payment_sums_apply();

-- ---------------------------------------------------------------------------------
-- The refresh: 0033's function under a new name, and this wrapper, which rebuilds the
-- school sums from the buckets it has just rebuilt (under the same billing_versions
-- locks, taken by it). Callers (the schools trigger, the seed, verify's repair) keep
-- calling refresh_reporting_rollups.
-- ---------------------------------------------------------------------------------
alter function refresh_reporting_rollups(uuid) rename to refresh_reporting_buckets;

create function refresh_reporting_rollups(p_school uuid default null) returns void
language plpgsql as $$
begin
  perform refresh_reporting_buckets(p_school);
  perform rebuild_school_period_sums(p_school);
end
$$;

create function rebuild_school_period_sums(p_school uuid default null) returns void
language plpgsql as $$
begin
  if p_school is null then
    delete from school_invoice_sums;
    delete from school_payment_sums;
  else
    delete from school_invoice_sums where school_id = p_school;
    delete from school_payment_sums where school_id = p_school;
  end if;

  insert into school_invoice_sums (school_id, period, period_start, invoice_count, amount_due, amount_paid)
  select r.school_id, p.period, p.period_start, sum(r.invoice_count), sum(r.amount_due), sum(r.amount_paid)
    from invoice_rollups r
   cross join lateral (values ('d'::"char", r.due_date), ('m'::"char", date_trunc('month', r.due_date)::date)) p (period, period_start)
   where p_school is null or r.school_id = p_school
   group by 1, 2, 3
  having sum(r.invoice_count) <> 0;

  insert into school_payment_sums (school_id, period, period_start, payment_count, amount)
  select r.school_id, p.period, p.period_start, sum(r.payment_count), sum(r.amount)
    from payment_rollups r
   cross join lateral (values ('d'::"char", r.paid_on), ('m'::"char", date_trunc('month', r.paid_on)::date)) p (period, period_start)
   where p_school is null or r.school_id = p_school
   group by 1, 2, 3
  having sum(r.payment_count) <> 0 or sum(r.amount) <> 0;
end
$$;

select rebuild_school_period_sums();
analyze school_invoice_sums;
analyze school_payment_sums;
