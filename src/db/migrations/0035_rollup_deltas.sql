-- 0035_rollup_deltas: the dashboard's per-school buckets written once per batch, not
-- once per payment (issue 19 part 3, issue 16's family payments).
--
-- Measured (data set S, 32 connections calling record_payment() directly, no HTTP): a
-- payment's statement triggers upserted invoice_rollups and payment_rollups, whose row
-- triggers upserted invoice_totals, payment_totals, school_invoice_sums and
-- school_payment_sums (two periods each) and appended platform deltas: about ten row
-- writes per payment, and the school's totals rows stayed locked until its commit, so
-- the payments of one school queued on them. 466 payments/s; with those triggers off,
-- 999/s.
--
-- Now the writers only append, as the platform tier's already did (0033): the triggers
-- on invoices, payments, refunds, family payments and students insert their change of a
-- bucket (the same sums as before, grouped per statement) into invoice_rollup_deltas /
-- payment_rollup_deltas, which have no shared row and hold no lock to commit.
-- fold_rollup_deltas() moves them into the buckets in one upsert per table (delete …
-- returning, grouped), deletes the buckets it emptied, and the buckets' row triggers
-- keep the totals, the school period sums and the platform deltas as before — once per
-- bucket per fold instead of once per payment.
--
-- Exact reads: every reader of the buckets or of the tiers above them folds first
-- (fold_rollup_deltas(true): it waits for a fold running elsewhere, then folds what is
-- left; with nothing waiting it returns at once, without a lock). The dashboard, the
-- pending queue's counts and `npm run verify` do (on the primary when they read a
-- replica: a standby or read-only session cannot fold, and returns without); the
-- maintenance job folds every second (fold_rollup_deltas(false): skips while another
-- folds), so deltas stay few.
--
-- Locks, in the one order every path takes them: the school's billing_versions row (every
-- money writer, the schools trigger, a refresh), then the fold's advisory lock (a fold, a
-- refresh, the schools trigger). A fold takes no billing_versions row, a money writer no
-- advisory lock. A refresh and the schools trigger take both, then rebuild or move a
-- school's buckets with no fold running meanwhile and no writer of that school in flight.
-- What the platform tier holds of a school is what its folded buckets hold: a fold adds
-- to it under the school's keys of the moment, a move moves the folded part, a refresh
-- rebuilds the school's buckets from its invoices and money and drops its deltas.

create table invoice_rollup_deltas (
  school_id         uuid not null,
  id                bigint generated always as identity,
  grade             text not null,
  due_date          date not null,
  invoice_count     bigint not null,
  amount_due        bigint not null,
  amount_paid       bigint not null,
  outstanding_count bigint not null,
  partial_count     bigint not null,
  primary key (school_id, id)
);

create table payment_rollup_deltas (
  school_id     uuid not null,
  id            bigint generated always as identity,
  grade         text not null,
  method        text not null,
  paid_on       date not null,
  payment_count bigint not null,
  amount        bigint not null,
  primary key (school_id, id)
);

-- Rows live a second or so: vacuum them often, so the "anything waiting?" probe a reader
-- makes stays a look at a few pages.
alter table invoice_rollup_deltas set (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000, parallel_workers = 0);
alter table payment_rollup_deltas set (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000, parallel_workers = 0);

create function fold_rollup_deltas(p_wait boolean default true) returns void
language plpgsql as $$
declare
  v_school uuid[];
  v_grade text[];
  v_day date[];
  v_method text[];
begin
  -- Nothing committed waits: the buckets are exact as they are. (A fold deletes its
  -- deltas and updates the buckets in one commit, so a reader sees both or neither.)
  if not exists (select 1 from invoice_rollup_deltas) and not exists (select 1 from payment_rollup_deltas) then
    return;
  end if;
  -- A standby (or a read-only session) cannot fold: the primary's folds reach it.
  if pg_is_in_recovery() or current_setting('transaction_read_only') = 'on' then
    return;
  end if;
  if p_wait then
    perform pg_advisory_xact_lock(hashtext('bursar:rollup-fold'));
  elsif not pg_try_advisory_xact_lock(hashtext('bursar:rollup-fold')) then
    return;
  end if;

  with gone as (
    delete from invoice_rollup_deltas
    returning school_id, grade, due_date, invoice_count, amount_due, amount_paid, outstanding_count, partial_count
  ),
  keyed as (
    select school_id, grade, due_date, sum(invoice_count) as invoice_count, sum(amount_due) as amount_due,
           sum(amount_paid) as amount_paid, sum(outstanding_count) as outstanding_count, sum(partial_count) as partial_count
      from gone
     group by 1, 2, 3
    having sum(invoice_count) <> 0 or sum(amount_due) <> 0 or sum(amount_paid) <> 0
        or sum(outstanding_count) <> 0 or sum(partial_count) <> 0
  ),
  applied as (
    insert into invoice_rollups as r (school_id, grade, due_date, invoice_count, amount_due, amount_paid, outstanding_count, partial_count)
    select school_id, grade, due_date, invoice_count, amount_due, amount_paid, outstanding_count, partial_count
      from keyed
     order by 1, 2, 3
    on conflict (school_id, grade, due_date) do update
       set invoice_count     = r.invoice_count + excluded.invoice_count,
           amount_due        = r.amount_due + excluded.amount_due,
           amount_paid       = r.amount_paid + excluded.amount_paid,
           outstanding_count = r.outstanding_count + excluded.outstanding_count,
           partial_count     = r.partial_count + excluded.partial_count
    returning r.school_id, r.grade, r.due_date, r.invoice_count
  )
  select array_agg(school_id), array_agg(grade), array_agg(due_date) into v_school, v_grade, v_day
    from applied
   where invoice_count = 0;
  -- A bucket with no invoice left does not exist.
  if v_school is not null then
    delete from invoice_rollups r
     using unnest(v_school, v_grade, v_day) k (school_id, grade, due_date)
     where r.school_id = k.school_id and r.grade = k.grade and r.due_date = k.due_date and r.invoice_count = 0;
  end if;

  with gone as (
    delete from payment_rollup_deltas returning school_id, grade, method, paid_on, payment_count, amount
  ),
  keyed as (
    select school_id, grade, method, paid_on, sum(payment_count) as payment_count, sum(amount) as amount
      from gone
     group by 1, 2, 3, 4
    having sum(payment_count) <> 0 or sum(amount) <> 0
  ),
  applied as (
    insert into payment_rollups as r (school_id, grade, method, paid_on, payment_count, amount)
    select school_id, grade, method, paid_on, payment_count, amount
      from keyed
     order by 1, 2, 3, 4
    on conflict (school_id, grade, method, paid_on) do update
       set payment_count = r.payment_count + excluded.payment_count,
           amount        = r.amount + excluded.amount
    returning r.school_id, r.grade, r.method, r.paid_on, r.payment_count, r.amount
  )
  select array_agg(school_id), array_agg(grade), array_agg(method), array_agg(paid_on) into v_school, v_grade, v_method, v_day
    from applied
   where payment_count = 0 and amount = 0;
  if v_school is not null then
    delete from payment_rollups r
     using unnest(v_school, v_grade, v_method, v_day) k (school_id, grade, method, paid_on)
     where r.school_id = k.school_id and r.grade = k.grade and r.method = k.method and r.paid_on = k.paid_on
       and r.payment_count = 0 and r.amount = 0;
  end if;
end
$$;

-- ---------------------------------------------------------------------------------
-- The writers: 0004's and 0020's triggers, the same sums, appended instead of upserted.
-- (An emptied bucket is deleted by the fold.)
-- ---------------------------------------------------------------------------------
create or replace function invoice_rollups_on_insert() returns trigger
language plpgsql as $$
begin
  insert into invoice_rollup_deltas (school_id, grade, due_date, invoice_count, amount_due, amount_paid, outstanding_count, partial_count)
  select i.school_id, st.grade, i.due_date, count(*), sum(i.amount), sum(i.paid_amount),
         count(*) filter (where i.paid_amount < i.amount), count(*) filter (where i.paid_amount > 0 and i.paid_amount < i.amount)
    from new_rows i
    join students st on st.id = i.student_id
   where i.cancelled_at is null and st.deleted_at is null
   group by 1, 2, 3;
  return null;
end
$$;

create or replace function invoice_rollups_on_delete() returns trigger
language plpgsql as $$
begin
  insert into invoice_rollup_deltas (school_id, grade, due_date, invoice_count, amount_due, amount_paid, outstanding_count, partial_count)
  select i.school_id, st.grade, i.due_date, -count(*), -sum(i.amount), -sum(i.paid_amount),
         -count(*) filter (where i.paid_amount < i.amount), -count(*) filter (where i.paid_amount > 0 and i.paid_amount < i.amount)
    from old_rows i
    join students st on st.id = i.student_id
   where i.cancelled_at is null and st.deleted_at is null
   group by 1, 2, 3;
  return null;
end
$$;

create or replace function invoice_rollups_apply() returns trigger
language plpgsql as $$
begin
  insert into invoice_rollup_deltas (school_id, grade, due_date, invoice_count, amount_due, amount_paid, outstanding_count, partial_count)
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
      or sum(d.sign * (d.paid_amount > 0 and d.paid_amount < d.amount)::int) <> 0;
  return null;
end
$$;

create or replace function payment_rollups_on_payment() returns trigger
language plpgsql as $$
begin
  insert into payment_rollup_deltas (school_id, grade, method, paid_on, payment_count, amount)
  select p.school_id, st.grade, p.method, (p.paid_at at time zone sc.timezone)::date, count(*), sum(p.amount)
    from new_rows p
    join invoices i on i.id = p.invoice_id
    join students st on st.id = i.student_id
    join schools sc on sc.id = p.school_id
   where st.deleted_at is null
   group by 1, 2, 3, 4;
  return null;
end
$$;

create or replace function payment_rollups_on_refund() returns trigger
language plpgsql as $$
begin
  insert into payment_rollup_deltas (school_id, grade, method, paid_on, payment_count, amount)
  select f.school_id, st.grade, p.method, (f.created_at at time zone sc.timezone)::date, 0, -sum(f.amount)
    from new_rows f
    join payments p on p.id = f.payment_id
    join invoices i on i.id = f.invoice_id
    join students st on st.id = i.student_id
    join schools sc on sc.id = f.school_id
   where st.deleted_at is null
   group by 1, 2, 3, 4;
  return null;
end
$$;

create or replace function payment_rollups_on_family_payment() returns trigger
language plpgsql as $$
begin
  insert into payment_rollup_deltas (school_id, grade, method, paid_on, payment_count, amount)
  select fp.school_id, 'family credit, no grade', fp.method, (fp.paid_at at time zone sc.timezone)::date,
         count(*) filter (where fp.allocated = 0), sum(fp.credited)
    from new_rows fp
    join schools sc on sc.id = fp.school_id
   where fp.credited > 0
   group by 1, 2, 3, 4;
  return null;
end
$$;

-- A student's grade change or (un)deletion moves their invoices and money between grades.
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
  insert into invoice_rollup_deltas (school_id, grade, due_date, invoice_count, amount_due, amount_paid, outstanding_count, partial_count)
  select d.school_id, d.grade, d.due_date, sum(d.sign), sum(d.sign * d.amount), sum(d.sign * d.paid_amount),
         sum(d.sign * (d.paid_amount < d.amount)::int), sum(d.sign * (d.paid_amount > 0 and d.paid_amount < d.amount)::int)
    from (select i.school_id, g.grade, i.due_date, i.amount, i.paid_amount, g.sign
            from m
            cross join lateral (values (m.old_grade, -1::bigint, m.old_live), (m.new_grade, 1::bigint, m.new_live)) g (grade, sign, live)
            join invoices i on i.student_id = m.id
           where g.live and i.cancelled_at is null) d
   group by 1, 2, 3
  having sum(d.sign) <> 0 or sum(d.sign * d.amount) <> 0 or sum(d.sign * d.paid_amount) <> 0;

  -- payments (+) and refunds (−), the same way
  with m as (
    select o.id, o.school_id, o.grade as old_grade, n.grade as new_grade,
           o.deleted_at is null as old_live, n.deleted_at is null as new_live
      from old_rows o join new_rows n on n.id = o.id
     where o.grade is distinct from n.grade or (o.deleted_at is null) <> (n.deleted_at is null)
  )
  insert into payment_rollup_deltas (school_id, grade, method, paid_on, payment_count, amount)
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
  having sum(d.sign * d.n) <> 0 or sum(d.sign * d.amount) <> 0;
  return null;
end
$$;

-- ---------------------------------------------------------------------------------
-- The rebuilders hold the fold's lock. A refresh keeps 0033's body (renamed), after
-- taking the schools' billing_versions rows and the lock and dropping the school's
-- waiting deltas (the rebuild counts them); the schools trigger takes the moved schools'
-- rows and the lock, then moves their folded buckets as 0033 did.
-- ---------------------------------------------------------------------------------
alter function refresh_reporting_buckets(uuid) rename to rebuild_reporting_buckets;

create function refresh_reporting_buckets(p_school uuid default null) returns void
language plpgsql as $$
begin
  insert into billing_versions (school_id, version)
  select id, 1 from schools where p_school is null or id = p_school order by id
  on conflict (school_id) do nothing;
  perform 1 from billing_versions where p_school is null or school_id = p_school order by school_id for update;
  -- The rebuild counts what the school's waiting deltas hold (no writer of it is in
  -- flight), and they never reached the platform tier: dropped, not folded.
  perform pg_advisory_xact_lock(hashtext('bursar:rollup-fold'));
  if p_school is null then
    delete from invoice_rollup_deltas;
    delete from payment_rollup_deltas;
  else
    delete from invoice_rollup_deltas where school_id = p_school;
    delete from payment_rollup_deltas where school_id = p_school;
  end if;
  -- 0033's body tests the setting with `= 'on'`, which is null, not false, in a session
  -- that never set it, and then it skipped moving the school in the platform tier (a
  -- no-op while a rebuild found what the buckets held; not with deltas dropped).
  if current_setting('bursar.platform_moving', true) is null then
    perform set_config('bursar.platform_moving', 'off', true);
  end if;
  perform rebuild_reporting_buckets(p_school);
end
$$;

create or replace function reporting_rollups_on_school() returns trigger
language plpgsql as $$
declare
  v_moved uuid[];
  moved record;
begin
  select array_agg(n.id order by n.id) into v_moved
    from old_rows o join new_rows n on n.id = o.id
   where o.timezone is distinct from n.timezone or o.currency is distinct from n.currency
      or (o.deleted_at is null) <> (n.deleted_at is null);
  if v_moved is null then
    return null;
  end if;
  insert into billing_versions (school_id, version)
  select m.id, 1 from unnest(v_moved) m (id) order by m.id
  on conflict (school_id) do nothing;
  perform 1 from billing_versions where school_id = any (v_moved) order by school_id for update;
  -- No fold meanwhile: the moves below read the school's folded buckets, and what a fold
  -- adds later goes to the platform tier under the school's new keys.
  perform pg_advisory_xact_lock(hashtext('bursar:rollup-fold'));

  for moved in
    select n.id, o.currency as old_currency, o.timezone as old_timezone, o.deleted_at is null as old_live,
           n.currency as new_currency, n.timezone as new_timezone, n.deleted_at is null as new_live,
           o.timezone is distinct from n.timezone as rezoned
      from old_rows o join new_rows n on n.id = o.id
     where n.id = any (v_moved)
     order by n.id
  loop
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
