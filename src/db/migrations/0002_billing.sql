-- 0002_billing: what the billing module needs beyond the tables of 0001.

-- The one definition of an invoice's status (SPEC §2). Everything that shows or filters
-- by status calls this, so "OVERDUE" is always computed at read time in the school's
-- time zone and never goes stale. `at` is a parameter so tests can ask "as of".
--   CANCELLED  voided (only possible while nothing is paid)
--   PAID       paid = amount
--   OVERDUE    not fully paid and the due date is before today in the school's zone
--   PARTIAL    0 < paid < amount, not yet due
--   PENDING    nothing paid, not yet due
create function invoice_status(
  amount bigint, paid_amount bigint, due_date date, cancelled_at timestamptz, tz text,
  at timestamptz default now()
) returns text
language sql stable parallel safe as $$
  select case
    when cancelled_at is not null then 'CANCELLED'
    when paid_amount >= amount then 'PAID'
    when due_date < (at at time zone tz)::date then 'OVERDUE'
    when paid_amount > 0 then 'PARTIAL'
    else 'PENDING'
  end
$$;

-- Per-school invoice number sequence, for invoices created without a number.
create table invoice_counters (
  school_id   uuid primary key references schools (id),
  last_number bigint not null
);

-- Statement cache versions. Any write that can change a statement (invoices, payments,
-- refunds, students, the school itself) bumps its school's version in the same
-- transaction; cached statements are keyed by it, so a read after a write can never
-- see a stale statement, whichever instance cached it.
create table billing_versions (
  school_id uuid primary key references schools (id),
  version   bigint not null default 1
);

-- Statement-level triggers with transition tables: one bump per school per statement,
-- whatever the number of rows (a bulk insert of 60 000 invoices bumps each school once).
-- Schools are locked in id order so concurrent multi-school statements cannot deadlock.
create function bump_billing_versions_by_school_id() returns trigger
language plpgsql as $$
begin
  insert into billing_versions as v (school_id, version)
  select distinct school_id, 1 from changed order by school_id
  on conflict (school_id) do update set version = v.version + 1;
  return null;
end
$$;

create function bump_billing_versions_by_id() returns trigger
language plpgsql as $$
begin
  insert into billing_versions as v (school_id, version)
  select distinct id, 1 from changed order by id
  on conflict (school_id) do update set version = v.version + 1;
  return null;
end
$$;

create trigger schools_bump_version after update on schools
  referencing new table as changed for each statement execute function bump_billing_versions_by_id();
create trigger students_bump_version_insert after insert on students
  referencing new table as changed for each statement execute function bump_billing_versions_by_school_id();
create trigger students_bump_version_update after update on students
  referencing new table as changed for each statement execute function bump_billing_versions_by_school_id();
create trigger invoices_bump_version_insert after insert on invoices
  referencing new table as changed for each statement execute function bump_billing_versions_by_school_id();
create trigger invoices_bump_version_update after update on invoices
  referencing new table as changed for each statement execute function bump_billing_versions_by_school_id();
-- Payments and refunds always update their invoice in the same transaction (which bumps
-- already); these make the cache correct even for a writer that forgot to.
create trigger payments_bump_version after insert on payments
  referencing new table as changed for each statement execute function bump_billing_versions_by_school_id();
create trigger refunds_bump_version after insert on refunds
  referencing new table as changed for each statement execute function bump_billing_versions_by_school_id();

-- Lists and reports by student, most recent payments first, and refunds per invoice.
create index payments_school_created_idx on payments (school_id, created_at desc, id desc);
-- Daily and monthly reports bucket refunds by when they were made, per school.
create index refunds_school_created_idx on refunds (school_id, created_at);
-- Reports leave out soft-deleted students; these are few, so a partial index finds them cheaply.
create index students_deleted_idx on students (id) where deleted_at is not null;
create index students_school_name_idx on students (school_id, last_name, first_name) where deleted_at is null;
