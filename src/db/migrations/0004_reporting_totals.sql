-- 0004_reporting_totals: an all-time tier above the day buckets of 0003, and queue counts.
--
-- At 1000 schools the day buckets are almost as many as the payments themselves
-- (payment_rollups holds ~one row per payment per school-local day), so summing them for
-- every school is a scan of the size the rollups exist to avoid. This migration adds:
--
--   invoice_totals  invoice_rollups summed over due_date, per (school, grade), and per
--                   school over all grades (grade = '').
--   payment_totals  payment_rollups summed over paid_on, per (school, grade, method), and
--                   the marginals (school, grade, method = ''), (school, grade = '',
--                   method) and (school, '', '').
--
-- '' is "all": a real grade is never empty (students_grade check) and a method is one of
-- a fixed list, so the levels cannot collide. The marginal rows let the unfiltered
-- dashboard read ~1 row per school for its per-school and per-currency figures and ~1 row
-- per school × grade (or method) for those breakdowns.
--
-- A date range is answered from the day buckets inside it, or, when the range covers
-- most of the data, as "total − buckets outside the range" (the reporting code chooses);
-- either way the answer is exact.
--
-- invoice_rollups also gains the counts the outstanding-payments queue needs for its
-- exact `total` without counting invoices:
--   outstanding_count  invoices with paid_amount < amount,
--   partial_count      invoices with 0 < paid_amount < amount.
-- With the due date of the bucket, they give the count per status (OVERDUE = outstanding
-- and due before the school's local today; PARTIAL / PENDING otherwise).
--
-- refresh_reporting_rollups() rebuilds buckets and totals; while it runs, the row
-- triggers are switched off for that transaction by the setting bursar.refreshing_rollups
-- (a transaction-local GUC, so no lock and no effect on other sessions), and the totals
-- are recomputed from the rebuilt buckets at the end.

alter table invoice_rollups
  add column outstanding_count bigint not null default 0,
  add column partial_count     bigint not null default 0;

create table invoice_totals (
  school_id         uuid not null,
  grade             text not null,
  invoice_count     bigint not null,
  amount_due        bigint not null,
  amount_paid       bigint not null,
  outstanding_count bigint not null,
  partial_count     bigint not null,
  primary key (school_id, grade)
);

create table payment_totals (
  school_id     uuid not null,
  grade         text not null,
  method        text not null,
  payment_count bigint not null,
  amount        bigint not null,
  primary key (school_id, grade, method)
);

-- One level of the totals (e.g. every school's grade '' / method '' row) is a range of
-- these, not a scan of the table. The totals are updated in place on every money write,
-- so leave room for HOT updates.
create index invoice_totals_level_idx on invoice_totals (grade, school_id);
create index payment_totals_method_level_idx on payment_totals (method, grade, school_id);
create index payment_totals_grade_level_idx on payment_totals (grade, method, school_id);
alter table invoice_totals set (fillfactor = 70);
alter table payment_totals set (fillfactor = 70);

-- Range edges and the not-yet-due buckets are found by date across all schools.
create index invoice_rollups_due_idx on invoice_rollups (due_date);
create index payment_rollups_day_idx on payment_rollups (paid_on);

-- ---------------------------------------------------------------------------------
-- Totals follow their buckets: new − old of every bucket row change.
-- ---------------------------------------------------------------------------------
create function invoice_totals_apply() returns trigger
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
  return null;
end
$$;

create trigger invoice_rollups_totals after insert or update or delete on invoice_rollups
  for each row execute function invoice_totals_apply();

create function payment_totals_apply() returns trigger
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
  return null;
end
$$;

create trigger payment_rollups_totals after insert or update or delete on payment_rollups
  for each row execute function payment_totals_apply();

-- ---------------------------------------------------------------------------------
-- Invoice buckets with the queue counts. 0003's invoice_rollups_apply() served all three
-- events; it now serves UPDATE only (both transition tables bound), and INSERT / DELETE
-- get their own functions below.
-- ---------------------------------------------------------------------------------
create or replace function invoice_rollups_apply() returns trigger
language plpgsql as $$
begin
  insert into invoice_rollups as r (school_id, grade, due_date, invoice_count, amount_due, amount_paid, outstanding_count, partial_count)
  select d.school_id, st.grade, d.due_date, sum(d.sign), sum(d.sign * d.amount), sum(d.sign * d.paid_amount),
         sum(d.sign * (d.paid_amount < d.amount)::int), sum(d.sign * (d.paid_amount > 0 and d.paid_amount < d.amount)::int)
    from (select school_id, student_id, due_date, amount, paid_amount, cancelled_at, 1::bigint as sign from new_rows
          union all
          select school_id, student_id, due_date, amount, paid_amount, cancelled_at, -1::bigint from old_rows) d
    join students st on st.id = d.student_id
   where d.cancelled_at is null and st.deleted_at is null
   group by 1, 2, 3
  having sum(d.sign) <> 0 or sum(d.sign * d.amount) <> 0 or sum(d.sign * d.paid_amount) <> 0
      or sum(d.sign * (d.paid_amount < d.amount)::int) <> 0
      or sum(d.sign * (d.paid_amount > 0 and d.paid_amount < d.amount)::int) <> 0
   order by 1, 2, 3
  on conflict (school_id, grade, due_date) do update
     set invoice_count     = r.invoice_count + excluded.invoice_count,
         amount_due        = r.amount_due + excluded.amount_due,
         amount_paid       = r.amount_paid + excluded.amount_paid,
         outstanding_count = r.outstanding_count + excluded.outstanding_count,
         partial_count     = r.partial_count + excluded.partial_count;

  -- Only buckets that lost something can have become empty.
  delete from invoice_rollups r
   using (select distinct i.school_id, st.grade, i.due_date
            from old_rows i join students st on st.id = i.student_id) k
   where r.school_id = k.school_id and r.grade = k.grade and r.due_date = k.due_date
     and r.invoice_count = 0;
  return null;
end
$$;

drop trigger invoices_rollups_insert on invoices;
drop trigger invoices_rollups_delete on invoices;

create function invoice_rollups_on_insert() returns trigger
language plpgsql as $$
begin
  insert into invoice_rollups as r (school_id, grade, due_date, invoice_count, amount_due, amount_paid, outstanding_count, partial_count)
  select i.school_id, st.grade, i.due_date, count(*), sum(i.amount), sum(i.paid_amount),
         count(*) filter (where i.paid_amount < i.amount), count(*) filter (where i.paid_amount > 0 and i.paid_amount < i.amount)
    from new_rows i
    join students st on st.id = i.student_id
   where i.cancelled_at is null and st.deleted_at is null
   group by 1, 2, 3
   order by 1, 2, 3
  on conflict (school_id, grade, due_date) do update
     set invoice_count     = r.invoice_count + excluded.invoice_count,
         amount_due        = r.amount_due + excluded.amount_due,
         amount_paid       = r.amount_paid + excluded.amount_paid,
         outstanding_count = r.outstanding_count + excluded.outstanding_count,
         partial_count     = r.partial_count + excluded.partial_count;
  return null;
end
$$;

create function invoice_rollups_on_delete() returns trigger
language plpgsql as $$
begin
  insert into invoice_rollups as r (school_id, grade, due_date, invoice_count, amount_due, amount_paid, outstanding_count, partial_count)
  select i.school_id, st.grade, i.due_date, -count(*), -sum(i.amount), -sum(i.paid_amount),
         -count(*) filter (where i.paid_amount < i.amount), -count(*) filter (where i.paid_amount > 0 and i.paid_amount < i.amount)
    from old_rows i
    join students st on st.id = i.student_id
   where i.cancelled_at is null and st.deleted_at is null
   group by 1, 2, 3
   order by 1, 2, 3
  on conflict (school_id, grade, due_date) do update
     set invoice_count     = r.invoice_count + excluded.invoice_count,
         amount_due        = r.amount_due + excluded.amount_due,
         amount_paid       = r.amount_paid + excluded.amount_paid,
         outstanding_count = r.outstanding_count + excluded.outstanding_count,
         partial_count     = r.partial_count + excluded.partial_count;
  delete from invoice_rollups r
   using (select distinct i.school_id, st.grade, i.due_date
            from old_rows i join students st on st.id = i.student_id) k
   where r.school_id = k.school_id and r.grade = k.grade and r.due_date = k.due_date
     and r.invoice_count = 0;
  return null;
end
$$;

create trigger invoices_rollups_insert after insert on invoices
  referencing new table as new_rows for each statement execute function invoice_rollups_on_insert();
create trigger invoices_rollups_delete after delete on invoices
  referencing old table as old_rows for each statement execute function invoice_rollups_on_delete();

-- ---------------------------------------------------------------------------------
-- Students (0003's function, with the queue counts carried across grades).
-- ---------------------------------------------------------------------------------
create or replace function reporting_rollups_on_student() returns trigger
language plpgsql as $$
begin
  if not exists (
    select 1 from old_rows o join new_rows n on n.id = o.id
     where o.grade is distinct from n.grade or (o.deleted_at is null) <> (n.deleted_at is null)
  ) then
    return null;
  end if;

  -- invoices: out of the old grade (if it counted), into the new one (if it counts)
  with m as (
    select o.id, o.school_id, o.grade as old_grade, n.grade as new_grade,
           o.deleted_at is null as old_live, n.deleted_at is null as new_live
      from old_rows o join new_rows n on n.id = o.id
     where o.grade is distinct from n.grade or (o.deleted_at is null) <> (n.deleted_at is null)
  )
  insert into invoice_rollups as r (school_id, grade, due_date, invoice_count, amount_due, amount_paid, outstanding_count, partial_count)
  select d.school_id, d.grade, d.due_date, sum(d.sign), sum(d.sign * d.amount), sum(d.sign * d.paid_amount),
         sum(d.sign * (d.paid_amount < d.amount)::int), sum(d.sign * (d.paid_amount > 0 and d.paid_amount < d.amount)::int)
    from (select i.school_id, g.grade, i.due_date, i.amount, i.paid_amount, g.sign
            from m
            cross join lateral (values (m.old_grade, -1::bigint, m.old_live), (m.new_grade, 1::bigint, m.new_live)) g (grade, sign, live)
            join invoices i on i.student_id = m.id
           where g.live and i.cancelled_at is null) d
   group by 1, 2, 3
  having sum(d.sign) <> 0 or sum(d.sign * d.amount) <> 0 or sum(d.sign * d.paid_amount) <> 0
   order by 1, 2, 3
  on conflict (school_id, grade, due_date) do update
     set invoice_count     = r.invoice_count + excluded.invoice_count,
         amount_due        = r.amount_due + excluded.amount_due,
         amount_paid       = r.amount_paid + excluded.amount_paid,
         outstanding_count = r.outstanding_count + excluded.outstanding_count,
         partial_count     = r.partial_count + excluded.partial_count;

  with m as (
    select o.id, o.school_id, o.grade as old_grade, n.grade as new_grade,
           o.deleted_at is null as old_live, n.deleted_at is null as new_live
      from old_rows o join new_rows n on n.id = o.id
     where o.grade is distinct from n.grade or (o.deleted_at is null) <> (n.deleted_at is null)
  )
  delete from invoice_rollups r
   using m
   where r.school_id = m.school_id and r.grade = m.old_grade and r.invoice_count = 0;

  -- payments (+) and refunds (−), the same way
  with m as (
    select o.id, o.school_id, o.grade as old_grade, n.grade as new_grade,
           o.deleted_at is null as old_live, n.deleted_at is null as new_live
      from old_rows o join new_rows n on n.id = o.id
     where o.grade is distinct from n.grade or (o.deleted_at is null) <> (n.deleted_at is null)
  )
  insert into payment_rollups as r (school_id, grade, method, paid_on, payment_count, amount)
  select d.school_id, d.grade, d.method, d.paid_on, sum(d.sign * d.n), sum(d.sign * d.amount)
    from (select p.school_id, g.grade, p.method, (p.paid_at at time zone sc.timezone)::date as paid_on,
                 1::bigint as n, p.amount, g.sign
            from m
            cross join lateral (values (m.old_grade, -1::bigint, m.old_live), (m.new_grade, 1::bigint, m.new_live)) g (grade, sign, live)
            join invoices i on i.student_id = m.id
            join payments p on p.invoice_id = i.id
            join schools sc on sc.id = p.school_id
           where g.live
          union all
          select f.school_id, g.grade, p.method, (f.created_at at time zone sc.timezone)::date,
                 0::bigint, -f.amount, g.sign
            from m
            cross join lateral (values (m.old_grade, -1::bigint, m.old_live), (m.new_grade, 1::bigint, m.new_live)) g (grade, sign, live)
            join invoices i on i.student_id = m.id
            join refunds f on f.invoice_id = i.id
            join payments p on p.id = f.payment_id
            join schools sc on sc.id = f.school_id
           where g.live) d
   group by 1, 2, 3, 4
  having sum(d.sign * d.n) <> 0 or sum(d.sign * d.amount) <> 0
   order by 1, 2, 3, 4
  on conflict (school_id, grade, method, paid_on) do update
     set payment_count = r.payment_count + excluded.payment_count,
         amount        = r.amount + excluded.amount;

  with m as (
    select o.id, o.school_id, o.grade as old_grade, n.grade as new_grade,
           o.deleted_at is null as old_live, n.deleted_at is null as new_live
      from old_rows o join new_rows n on n.id = o.id
     where o.grade is distinct from n.grade or (o.deleted_at is null) <> (n.deleted_at is null)
  )
  delete from payment_rollups r
   using m
   where r.school_id = m.school_id and r.grade = m.old_grade and r.payment_count = 0 and r.amount = 0;
  return null;
end
$$;

-- ---------------------------------------------------------------------------------
-- Full recomputation of buckets and totals (0003's function, extended).
-- ---------------------------------------------------------------------------------
create or replace function refresh_reporting_rollups(p_school uuid default null) returns void
language plpgsql as $$
begin
  insert into billing_versions (school_id, version)
  select id, 1 from schools where p_school is null or id = p_school order by id
  on conflict (school_id) do nothing;
  perform 1 from billing_versions where p_school is null or school_id = p_school order by school_id for update;

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
  select d.school_id, d.grade, d.method, d.paid_on, sum(d.n), sum(d.amount)
    from (select p.school_id, st.grade, p.method, (p.paid_at at time zone sc.timezone)::date as paid_on, 1::bigint as n, p.amount
            from payments p
            join invoices i on i.id = p.invoice_id
            join students st on st.id = i.student_id
            join schools sc on sc.id = p.school_id
           where st.deleted_at is null and (p_school is null or p.school_id = p_school)
          union all
          select f.school_id, st.grade, p.method, (f.created_at at time zone sc.timezone)::date, 0::bigint, -f.amount
            from refunds f
            join payments p on p.id = f.payment_id
            join invoices i on i.id = f.invoice_id
            join students st on st.id = i.student_id
            join schools sc on sc.id = f.school_id
           where st.deleted_at is null and (p_school is null or f.school_id = p_school)) d
   group by 1, 2, 3, 4
  having sum(d.n) <> 0 or sum(d.amount) <> 0;

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
end
$$;

select refresh_reporting_rollups();

alter table invoice_rollups
  alter column outstanding_count drop default,
  alter column partial_count drop default;
