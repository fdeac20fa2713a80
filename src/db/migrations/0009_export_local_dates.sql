-- Status for a given local date, and each school's local date once per query.
--
-- invoice_status (0002) converts "now" into the school's calendar for every row it is
-- called on. The pending export calls it for every outstanding invoice (and converts
-- again for days overdue), so it joins school_local_dates() instead: one conversion per
-- school, and invoice_status_on with that date. invoice_status is redefined through
-- invoice_status_on, so status still has one definition.

create function invoice_status_on(
  amount bigint, paid_amount bigint, due_date date, cancelled_at timestamptz, today date
) returns text
language sql immutable parallel safe as $$
  select case
    when cancelled_at is not null then 'CANCELLED'
    when paid_amount >= amount then 'PAID'
    when due_date < today then 'OVERDUE'
    when paid_amount > 0 then 'PARTIAL'
    else 'PENDING'
  end
$$;

create or replace function invoice_status(
  amount bigint, paid_amount bigint, due_date date, cancelled_at timestamptz, tz text,
  at timestamptz default now()
) returns text
language sql stable parallel safe as $$
  select invoice_status_on(amount, paid_amount, due_date, cancelled_at, (at at time zone tz)::date)
$$;

-- Every school's local date at the transaction's "now". PL/pgSQL on purpose: a SQL
-- function would be inlined and its conversion repeated for every row that uses it;
-- this one runs once per scan, and being parallel safe it keeps parallel plans.
create function school_local_dates() returns table (school_id uuid, today date)
language plpgsql stable parallel safe rows 1000 as $$
begin
  return query select s.id, (now() at time zone s.timezone)::date from schools s;
end
$$;
