-- 0003_reporting_rollups: exact, incrementally maintained aggregates for the dashboard.
--
-- The dashboard (GET /reports/dashboard) never scans invoices or payments: it sums
-- these two small bucket tables instead. Each bucket is kept exact in the SAME
-- transaction as the write that changes it, by statement-level triggers with
-- transition tables (one statement may touch many rows: bulk loads, backfills).
--
--   invoice_rollups  live invoices (not cancelled, student not soft-deleted) per
--                    (school, student's grade, due date): count, Σ amount, Σ paid_amount.
--                    Outstanding = due − paid; overdue = outstanding of buckets whose
--                    due date is before the school's local today, computed at read time,
--                    so it never goes stale.
--   payment_rollups  money received per (school, student's grade, payment method,
--                    school-local day): payments add (count 1, +amount) on the local day
--                    of paid_at; refunds subtract (count 0, −amount) on the local day of
--                    their created_at, under the original payment's method. Payments of
--                    cancelled invoices still count (money moved); those of soft-deleted
--                    students do not (reports leave such students out everywhere).
--
-- A bucket that becomes empty (invoice_count = 0; payment_count = 0 and amount = 0) is
-- deleted, so the tables equal a GROUP BY over the raw tables exactly, row for row;
-- `npm run verify` and the tests compare them that way.
--
-- Concurrency. Every statement that changes rollups first bumps its schools'
-- billing_versions rows (0002): the bump triggers are named *_bump_version* and the
-- rollup triggers *_rollups*, and triggers of one event fire in name order, so a
-- writer always holds its school's billing_versions row lock before it touches a
-- bucket. Writers of one school therefore serialise (each trigger statement then reads
-- grades and zones with a fresh snapshot that includes the previous writer), buckets
-- are upserted in key order, and refresh_reporting_rollups takes the same row locks.
-- Keep those trigger names sorting that way.

create table invoice_rollups (
  school_id     uuid not null,
  grade         text not null,
  due_date      date not null,
  invoice_count bigint not null,
  amount_due    bigint not null,
  amount_paid   bigint not null,
  primary key (school_id, grade, due_date)
);

create table payment_rollups (
  school_id     uuid not null,
  grade         text not null,
  method        text not null,
  paid_on       date not null,
  payment_count bigint not null,
  -- net of refunds; negative on a day with more refunds than payments
  amount        bigint not null,
  primary key (school_id, grade, method, paid_on)
);

-- ---------------------------------------------------------------------------------
-- Invoices: insert / update / delete. Old rows subtract, new rows add; cancelled
-- invoices and invoices of soft-deleted students count as absent.
-- ---------------------------------------------------------------------------------
create function invoice_rollups_apply() returns trigger
language plpgsql as $$
begin
  if tg_op = 'INSERT' then
    insert into invoice_rollups as r (school_id, grade, due_date, invoice_count, amount_due, amount_paid)
    select i.school_id, st.grade, i.due_date, count(*), sum(i.amount), sum(i.paid_amount)
      from new_rows i
      join students st on st.id = i.student_id
     where i.cancelled_at is null and st.deleted_at is null
     group by 1, 2, 3
     order by 1, 2, 3
    on conflict (school_id, grade, due_date) do update
       set invoice_count = r.invoice_count + excluded.invoice_count,
           amount_due    = r.amount_due + excluded.amount_due,
           amount_paid   = r.amount_paid + excluded.amount_paid;
    return null;
  end if;

  if tg_op = 'UPDATE' then
    insert into invoice_rollups as r (school_id, grade, due_date, invoice_count, amount_due, amount_paid)
    select d.school_id, st.grade, d.due_date, sum(d.sign), sum(d.sign * d.amount), sum(d.sign * d.paid_amount)
      from (select school_id, student_id, due_date, amount, paid_amount, cancelled_at, -1::bigint as sign from old_rows
            union all
            select school_id, student_id, due_date, amount, paid_amount, cancelled_at, 1::bigint from new_rows) d
      join students st on st.id = d.student_id
     where d.cancelled_at is null and st.deleted_at is null
     group by 1, 2, 3
    having sum(d.sign) <> 0 or sum(d.sign * d.amount) <> 0 or sum(d.sign * d.paid_amount) <> 0
     order by 1, 2, 3
    on conflict (school_id, grade, due_date) do update
       set invoice_count = r.invoice_count + excluded.invoice_count,
           amount_due    = r.amount_due + excluded.amount_due,
           amount_paid   = r.amount_paid + excluded.amount_paid;
  else -- DELETE
    insert into invoice_rollups as r (school_id, grade, due_date, invoice_count, amount_due, amount_paid)
    select i.school_id, st.grade, i.due_date, -count(*), -sum(i.amount), -sum(i.paid_amount)
      from old_rows i
      join students st on st.id = i.student_id
     where i.cancelled_at is null and st.deleted_at is null
     group by 1, 2, 3
     order by 1, 2, 3
    on conflict (school_id, grade, due_date) do update
       set invoice_count = r.invoice_count + excluded.invoice_count,
           amount_due    = r.amount_due + excluded.amount_due,
           amount_paid   = r.amount_paid + excluded.amount_paid;
  end if;

  -- Only buckets that lost something can have become empty.
  delete from invoice_rollups r
   using (select distinct i.school_id, st.grade, i.due_date
            from old_rows i join students st on st.id = i.student_id) k
   where r.school_id = k.school_id and r.grade = k.grade and r.due_date = k.due_date
     and r.invoice_count = 0;
  return null;
end
$$;

create trigger invoices_rollups_insert after insert on invoices
  referencing new table as new_rows for each statement execute function invoice_rollups_apply();
create trigger invoices_rollups_update after update on invoices
  referencing old table as old_rows new table as new_rows for each statement execute function invoice_rollups_apply();
create trigger invoices_rollups_delete after delete on invoices
  referencing old table as old_rows for each statement execute function invoice_rollups_apply();

-- ---------------------------------------------------------------------------------
-- Payments and refunds (both append-only: insert is the only change).
-- ---------------------------------------------------------------------------------
create function payment_rollups_on_payment() returns trigger
language plpgsql as $$
begin
  insert into payment_rollups as r (school_id, grade, method, paid_on, payment_count, amount)
  select p.school_id, st.grade, p.method, (p.paid_at at time zone sc.timezone)::date, count(*), sum(p.amount)
    from new_rows p
    join invoices i on i.id = p.invoice_id
    join students st on st.id = i.student_id
    join schools sc on sc.id = p.school_id
   where st.deleted_at is null
   group by 1, 2, 3, 4
   order by 1, 2, 3, 4
  on conflict (school_id, grade, method, paid_on) do update
     set payment_count = r.payment_count + excluded.payment_count,
         amount        = r.amount + excluded.amount;
  return null;
end
$$;

create function payment_rollups_on_refund() returns trigger
language plpgsql as $$
begin
  insert into payment_rollups as r (school_id, grade, method, paid_on, payment_count, amount)
  select f.school_id, st.grade, p.method, (f.created_at at time zone sc.timezone)::date, 0, -sum(f.amount)
    from new_rows f
    join payments p on p.id = f.payment_id
    join invoices i on i.id = f.invoice_id
    join students st on st.id = i.student_id
    join schools sc on sc.id = f.school_id
   where st.deleted_at is null
   group by 1, 2, 3, 4
   order by 1, 2, 3, 4
  on conflict (school_id, grade, method, paid_on) do update
     set amount = r.amount + excluded.amount;

  delete from payment_rollups r
   using (select distinct f.school_id, st.grade, p.method, (f.created_at at time zone sc.timezone)::date as paid_on
            from new_rows f
            join payments p on p.id = f.payment_id
            join invoices i on i.id = f.invoice_id
            join students st on st.id = i.student_id
            join schools sc on sc.id = f.school_id) k
   where r.school_id = k.school_id and r.grade = k.grade and r.method = k.method and r.paid_on = k.paid_on
     and r.payment_count = 0 and r.amount = 0;
  return null;
end
$$;

create trigger payments_rollups after insert on payments
  referencing new table as new_rows for each statement execute function payment_rollups_on_payment();
create trigger refunds_rollups after insert on refunds
  referencing new table as new_rows for each statement execute function payment_rollups_on_refund();

-- ---------------------------------------------------------------------------------
-- Students: a grade change moves the student's invoices and payments between grade
-- buckets; a soft delete (or undelete) takes them out of (or back into) the rollups.
-- ---------------------------------------------------------------------------------
create function reporting_rollups_on_student() returns trigger
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
  insert into invoice_rollups as r (school_id, grade, due_date, invoice_count, amount_due, amount_paid)
  select d.school_id, d.grade, d.due_date, sum(d.sign), sum(d.sign * d.amount), sum(d.sign * d.paid_amount)
    from (select i.school_id, g.grade, i.due_date, i.amount, i.paid_amount, g.sign
            from m
            cross join lateral (values (m.old_grade, -1::bigint, m.old_live), (m.new_grade, 1::bigint, m.new_live)) g (grade, sign, live)
            join invoices i on i.student_id = m.id
           where g.live and i.cancelled_at is null) d
   group by 1, 2, 3
  having sum(d.sign) <> 0 or sum(d.sign * d.amount) <> 0 or sum(d.sign * d.paid_amount) <> 0
   order by 1, 2, 3
  on conflict (school_id, grade, due_date) do update
     set invoice_count = r.invoice_count + excluded.invoice_count,
         amount_due    = r.amount_due + excluded.amount_due,
         amount_paid   = r.amount_paid + excluded.amount_paid;

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

create trigger students_rollups after update on students
  referencing old table as old_rows new table as new_rows for each statement execute function reporting_rollups_on_student();

-- ---------------------------------------------------------------------------------
-- Full recomputation, for one school or all. The seed generator calls
-- refresh_reporting_rollups() after bulk loads done with triggers disabled; a school's
-- time-zone change (which moves every local payment day) calls it for that school.
-- It takes the billing_versions row locks that every writer takes first, so it waits
-- for in-flight writers and holds new ones back: the result is exact even under load.
-- ---------------------------------------------------------------------------------
create function refresh_reporting_rollups(p_school uuid default null) returns void
language plpgsql as $$
begin
  insert into billing_versions (school_id, version)
  select id, 1 from schools where p_school is null or id = p_school order by id
  on conflict (school_id) do nothing;
  perform 1 from billing_versions where p_school is null or school_id = p_school order by school_id for update;

  if p_school is null then
    delete from invoice_rollups;
    delete from payment_rollups;
  else
    delete from invoice_rollups where school_id = p_school;
    delete from payment_rollups where school_id = p_school;
  end if;

  insert into invoice_rollups (school_id, grade, due_date, invoice_count, amount_due, amount_paid)
  select i.school_id, st.grade, i.due_date, count(*), sum(i.amount), sum(i.paid_amount)
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
end
$$;

create function reporting_rollups_on_school() returns trigger
language plpgsql as $$
declare
  moved uuid;
begin
  for moved in
    select n.id from old_rows o join new_rows n on n.id = o.id where o.timezone is distinct from n.timezone order by n.id
  loop
    perform refresh_reporting_rollups(moved);
  end loop;
  return null;
end
$$;

create trigger schools_rollups after update on schools
  referencing old table as old_rows new table as new_rows for each statement execute function reporting_rollups_on_school();

-- Existing data (a database migrated with billing rows already in it).
select refresh_reporting_rollups();
