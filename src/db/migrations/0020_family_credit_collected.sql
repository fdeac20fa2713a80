-- 0020_family_credit_collected: money received as family credit counts as collected.
--
-- "Collected" (the dashboard, the daily and monthly reports) was Σ payments − Σ refunds.
-- The part of a family payment that no invoice took (families.credit_balance) has no
-- payments row, so money a family paid ahead was never counted as received — neither
-- when paid nor when the credit later settled an invoice (applying credit moves no
-- money). It is counted now, on the school-local day of the family payment, with its
-- method, under the grade FAMILY_CREDIT_GRADE: the credit belongs to no student, and a
-- real grade is 1–20 characters (students_grade check), so this 23-character key can
-- never be one. A family payment that went entirely to credit counts as one payment.
--
-- payment_movements is the one definition of what the payment buckets sum (payments,
-- refunds, family credit); refresh_reporting_rollups() and `npm run verify`
-- (src/modules/reporting/rollups.ts) both read it.

create view payment_movements as
  select p.school_id, st.grade, p.method, (p.paid_at at time zone sc.timezone)::date as paid_on, 1::bigint as n, p.amount
    from payments p
    join invoices i on i.id = p.invoice_id
    join students st on st.id = i.student_id
    join schools sc on sc.id = p.school_id
   where st.deleted_at is null
  union all
  select f.school_id, st.grade, p.method, (f.created_at at time zone sc.timezone)::date, 0::bigint, -f.amount
    from refunds f
    join payments p on p.id = f.payment_id
    join invoices i on i.id = f.invoice_id
    join students st on st.id = i.student_id
    join schools sc on sc.id = f.school_id
   where st.deleted_at is null
  union all
  select fp.school_id, 'family credit, no grade'::text, fp.method, (fp.paid_at at time zone sc.timezone)::date,
         (fp.allocated = 0)::int::bigint, fp.credited
    from family_payments fp
    join schools sc on sc.id = fp.school_id
   where fp.credited > 0;

create function payment_rollups_on_family_payment() returns trigger
language plpgsql as $$
begin
  insert into payment_rollups as r (school_id, grade, method, paid_on, payment_count, amount)
  select fp.school_id, 'family credit, no grade', fp.method, (fp.paid_at at time zone sc.timezone)::date,
         count(*) filter (where fp.allocated = 0), sum(fp.credited)
    from new_rows fp
    join schools sc on sc.id = fp.school_id
   where fp.credited > 0
   group by 1, 2, 3, 4
   order by 1, 2, 3, 4
  on conflict (school_id, grade, method, paid_on) do update
     set payment_count = r.payment_count + excluded.payment_count,
         amount        = r.amount + excluded.amount;
  return null;
end
$$;

-- Lock order: every money write takes its school's billing_versions row before any
-- rollup row (the payments, refunds and invoices triggers do: "…_bump_version" fires
-- before "…_rollups", triggers of one event firing in name order). A family payment's
-- first rows are family_payments, so it bumps there too — else its family-credit
-- bucket, and through it the school's payment_totals rows, would be taken first, and a
-- concurrent payment holding billing_versions and wanting those rows would deadlock.
create trigger family_payments_bump_version after insert on family_payments
  referencing new table as changed for each statement execute function bump_billing_versions_by_school_id();
create trigger family_payments_rollups after insert on family_payments
  referencing new table as new_rows for each statement execute function payment_rollups_on_family_payment();

-- 0004's function, the payment buckets now from payment_movements.
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
end
$$;

-- Family payments made before this migration: their credit into the buckets (the
-- totals follow through payment_rollups' row trigger).
insert into payment_rollups as r (school_id, grade, method, paid_on, payment_count, amount)
select m.school_id, m.grade, m.method, m.paid_on, sum(m.n), sum(m.amount)
  from payment_movements m
 where m.grade = 'family credit, no grade'
 group by 1, 2, 3, 4
 order by 1, 2, 3, 4
on conflict (school_id, grade, method, paid_on) do update
   set payment_count = r.payment_count + excluded.payment_count,
       amount        = r.amount + excluded.amount;
