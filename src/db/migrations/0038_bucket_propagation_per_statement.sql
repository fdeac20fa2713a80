-- 0038_bucket_propagation_per_statement: what a statement changes in the buckets reaches
-- the totals, the school period sums and the platform deltas once per statement, grouped,
-- instead of once per bucket row.
--
-- Since 0035 the buckets (invoice_rollups, payment_rollups) are written by the fold, one
-- statement per table for every delta committed since the last fold. Their row triggers
-- (0004 and 0033: totals and platform deltas; 0034: school period sums) then ran four
-- upserts and an insert per bucket row the fold touched. Payments are spread over many
-- buckets (one per school, grade and due date), so a fold after 300 family payments
-- touched 814 invoice buckets: 171 ms, of which 150 ms in those row triggers (data set S).
-- The fold runs every second next to the payments and shares their two cores.
--
-- Now one statement trigger per event and table, with its transition tables: the rows a
-- statement inserted count as they are, the rows it deleted negated, and an update as
-- both (new rows minus old rows; no join, so a changed key would be right too). The
-- deltas are then grouped and applied with one upsert per tier, in key order, and the
-- rows a tier is left with empty are deleted, as before:
--
--   invoice_totals        per school and grade, and per school ('' grade)
--   school_invoice_sums   per school and due day ('d') and due month ('m')
--   platform_invoice_deltas  per currency, zone, grade and due date (folded by 0033)
--   payment_totals        per school, grade and method, with '' for either or both
--   school_payment_sums   per school and payment day ('d') and month ('m')
--   platform_payment_deltas  per currency, grade, method and payment day
--
-- A refresh (bursar.refreshing_rollups = 'on') rebuilds every tier itself, as before.

drop trigger invoice_rollups_totals on invoice_rollups;
drop trigger invoice_rollups_school_sums on invoice_rollups;
drop trigger payment_rollups_totals on payment_rollups;
drop trigger payment_rollups_school_sums on payment_rollups;
drop function invoice_totals_apply();
drop function school_invoice_sums_apply();
drop function payment_totals_apply();
drop function school_payment_sums_apply();

create function invoice_rollups_propagate() returns trigger
language plpgsql as $$
declare
  -- The statement's changes as bucket-shaped deltas. The transition tables a branch reads
  -- exist for its events only; PL/pgSQL plans a statement when it first runs it.
  v_deltas invoice_rollups[] := '{}';
  -- Keys a tier is left with empty.
  v_school uuid[];
  v_grade text[];
  v_period "char"[];
  v_start date[];
begin
  if current_setting('bursar.refreshing_rollups', true) = 'on' then
    return null;
  end if;
  if tg_op <> 'DELETE' then
    v_deltas := array(select n from n);
  end if;
  if tg_op <> 'INSERT' then
    v_deltas := v_deltas || array(select row(o.school_id, o.grade, o.due_date, -o.invoice_count, -o.amount_due, -o.amount_paid,
                                             -o.outstanding_count, -o.partial_count)::invoice_rollups
                                    from o);
  end if;

  with levels as (
    select d.school_id, l.grade, d.invoice_count, d.amount_due, d.amount_paid, d.outstanding_count, d.partial_count
      from unnest(v_deltas) d cross join lateral (values (d.grade), ('')) l (grade)
  ),
  keyed as (
    select school_id, grade, sum(invoice_count) as invoice_count, sum(amount_due) as amount_due, sum(amount_paid) as amount_paid,
           sum(outstanding_count) as outstanding_count, sum(partial_count) as partial_count
      from levels
     group by 1, 2
    having sum(invoice_count) <> 0 or sum(amount_due) <> 0 or sum(amount_paid) <> 0
        or sum(outstanding_count) <> 0 or sum(partial_count) <> 0
  ),
  applied as (
    insert into invoice_totals as t (school_id, grade, invoice_count, amount_due, amount_paid, outstanding_count, partial_count)
    select * from keyed order by 1, 2
    on conflict (school_id, grade) do update
       set invoice_count     = t.invoice_count + excluded.invoice_count,
           amount_due        = t.amount_due + excluded.amount_due,
           amount_paid       = t.amount_paid + excluded.amount_paid,
           outstanding_count = t.outstanding_count + excluded.outstanding_count,
           partial_count     = t.partial_count + excluded.partial_count
    returning t.school_id, t.grade, t.invoice_count
  )
  select array_agg(school_id), array_agg(grade) into v_school, v_grade from applied where invoice_count = 0;
  -- A statement cannot see its own upsert: the rows left empty go in a second one.
  if v_school is not null then
    delete from invoice_totals t
     using unnest(v_school, v_grade) k (school_id, grade)
     where t.school_id = k.school_id and t.grade = k.grade and t.invoice_count = 0;
  end if;

  with periods as (
    select d.school_id, p.period, p.period_start, d.invoice_count, d.amount_due, d.amount_paid
      from unnest(v_deltas) d
      cross join lateral (values ('d'::"char", d.due_date), ('m'::"char", date_trunc('month', d.due_date)::date)) p (period, period_start)
  ),
  keyed as (
    select school_id, period, period_start, sum(invoice_count) as invoice_count, sum(amount_due) as amount_due, sum(amount_paid) as amount_paid
      from periods
     group by 1, 2, 3
    having sum(invoice_count) <> 0 or sum(amount_due) <> 0 or sum(amount_paid) <> 0
  ),
  applied as (
    insert into school_invoice_sums as t (school_id, period, period_start, invoice_count, amount_due, amount_paid)
    select * from keyed order by 1, 2, 3
    on conflict (school_id, period, period_start) do update
       set invoice_count = t.invoice_count + excluded.invoice_count,
           amount_due    = t.amount_due + excluded.amount_due,
           amount_paid   = t.amount_paid + excluded.amount_paid
    returning t.school_id, t.period, t.period_start, t.invoice_count
  )
  select array_agg(school_id), array_agg(period), array_agg(period_start) into v_school, v_period, v_start
    from applied where invoice_count = 0;
  if v_school is not null then
    delete from school_invoice_sums t
     using unnest(v_school, v_period, v_start) k (school_id, period, period_start)
     where t.school_id = k.school_id and t.period = k.period and t.period_start = k.period_start and t.invoice_count = 0;
  end if;

  insert into platform_invoice_deltas (currency, timezone, grade, due_date, invoice_count, amount_due, amount_paid, outstanding_count, partial_count)
  select s.currency, s.timezone, d.grade, d.due_date, sum(d.invoice_count), sum(d.amount_due), sum(d.amount_paid),
         sum(d.outstanding_count), sum(d.partial_count)
    from unnest(v_deltas) d join schools s on s.id = d.school_id
   where s.deleted_at is null
   group by 1, 2, 3, 4
  having sum(d.invoice_count) <> 0 or sum(d.amount_due) <> 0 or sum(d.amount_paid) <> 0
      or sum(d.outstanding_count) <> 0 or sum(d.partial_count) <> 0;
  return null;
end
$$;

create trigger invoice_rollups_propagate_insert after insert on invoice_rollups
  referencing new table as n for each statement execute function invoice_rollups_propagate();
create trigger invoice_rollups_propagate_update after update on invoice_rollups
  referencing old table as o new table as n for each statement execute function invoice_rollups_propagate();
create trigger invoice_rollups_propagate_delete after delete on invoice_rollups
  referencing old table as o for each statement execute function invoice_rollups_propagate();

create function payment_rollups_propagate() returns trigger
language plpgsql as $$
declare
  v_deltas payment_rollups[] := '{}';
  v_school uuid[];
  v_grade text[];
  v_method text[];
  v_period "char"[];
  v_start date[];
begin
  if current_setting('bursar.refreshing_rollups', true) = 'on' then
    return null;
  end if;
  if tg_op <> 'DELETE' then
    v_deltas := array(select n from n);
  end if;
  if tg_op <> 'INSERT' then
    v_deltas := v_deltas || array(select row(o.school_id, o.grade, o.method, o.paid_on, -o.payment_count, -o.amount)::payment_rollups from o);
  end if;

  with levels as (
    select d.school_id, l.grade, l.method, d.payment_count, d.amount
      from unnest(v_deltas) d
      cross join lateral (values (d.grade, d.method), (d.grade, ''), ('', d.method), ('', '')) l (grade, method)
  ),
  keyed as (
    select school_id, grade, method, sum(payment_count) as payment_count, sum(amount) as amount
      from levels
     group by 1, 2, 3
    having sum(payment_count) <> 0 or sum(amount) <> 0
  ),
  applied as (
    insert into payment_totals as t (school_id, grade, method, payment_count, amount)
    select * from keyed order by 1, 2, 3
    on conflict (school_id, grade, method) do update
       set payment_count = t.payment_count + excluded.payment_count,
           amount        = t.amount + excluded.amount
    returning t.school_id, t.grade, t.method, t.payment_count, t.amount
  )
  select array_agg(school_id), array_agg(grade), array_agg(method) into v_school, v_grade, v_method
    from applied where payment_count = 0 and amount = 0;
  -- A statement cannot see its own upsert: the rows left empty go in a second one.
  if v_school is not null then
    delete from payment_totals t
     using unnest(v_school, v_grade, v_method) k (school_id, grade, method)
     where t.school_id = k.school_id and t.grade = k.grade and t.method = k.method and t.payment_count = 0 and t.amount = 0;
  end if;

  with periods as (
    select d.school_id, p.period, p.period_start, d.payment_count, d.amount
      from unnest(v_deltas) d
      cross join lateral (values ('d'::"char", d.paid_on), ('m'::"char", date_trunc('month', d.paid_on)::date)) p (period, period_start)
  ),
  keyed as (
    select school_id, period, period_start, sum(payment_count) as payment_count, sum(amount) as amount
      from periods
     group by 1, 2, 3
    having sum(payment_count) <> 0 or sum(amount) <> 0
  ),
  applied as (
    insert into school_payment_sums as t (school_id, period, period_start, payment_count, amount)
    select * from keyed order by 1, 2, 3
    on conflict (school_id, period, period_start) do update
       set payment_count = t.payment_count + excluded.payment_count,
           amount        = t.amount + excluded.amount
    returning t.school_id, t.period, t.period_start, t.payment_count, t.amount
  )
  select array_agg(school_id), array_agg(period), array_agg(period_start) into v_school, v_period, v_start
    from applied where payment_count = 0 and amount = 0;
  if v_school is not null then
    delete from school_payment_sums t
     using unnest(v_school, v_period, v_start) k (school_id, period, period_start)
     where t.school_id = k.school_id and t.period = k.period and t.period_start = k.period_start
       and t.payment_count = 0 and t.amount = 0;
  end if;

  insert into platform_payment_deltas (currency, grade, method, paid_on, payment_count, amount)
  select s.currency, d.grade, d.method, d.paid_on, sum(d.payment_count), sum(d.amount)
    from unnest(v_deltas) d join schools s on s.id = d.school_id
   where s.deleted_at is null
   group by 1, 2, 3, 4
  having sum(d.payment_count) <> 0 or sum(d.amount) <> 0;
  return null;
end
$$;

create trigger payment_rollups_propagate_insert after insert on payment_rollups
  referencing new table as n for each statement execute function payment_rollups_propagate();
create trigger payment_rollups_propagate_update after update on payment_rollups
  referencing old table as o new table as n for each statement execute function payment_rollups_propagate();
create trigger payment_rollups_propagate_delete after delete on payment_rollups
  referencing old table as o for each statement execute function payment_rollups_propagate();
