-- 0001_foundation: the whole domain of SPEC §2.
--
-- Conventions
--   * ids are UUIDv7 (time-ordered, so b-tree inserts stay at the right edge and
--     keyset pagination by id follows creation order), generated in the database so
--     every writer (API, seeders, psql) gets the same kind of id.
--   * money is bigint minor units (cents) with CHECKs; never numeric or float.
--   * every tenant-owned row carries a non-null school_id. Child tables reference
--     their parent through (school_id, id) composite keys, so a row can never point
--     at a parent in another school: tenant consistency is enforced by the database.
--   * timestamps are timestamptz (UTC); calendar dates (due dates) are date and are
--     interpreted in the school's IANA time zone.
--   * append-only tables (payments, refunds, ledger entries, audit log) refuse UPDATE,
--     DELETE and TRUNCATE through triggers.

-- UUIDv7 (RFC 9562) for PostgreSQL >= 14, which has no built-in generator before 18:
-- the 48-bit Unix millisecond timestamp overlays the first six bytes of a random v4
-- uuid and the version nibble is switched from 4 (0100) to 7 (0111) by setting bits
-- 52 and 53; the variant bits of the v4 uuid are already correct.
create function uuid_v7() returns uuid
language sql volatile parallel safe as $$
  select encode(
    set_bit(
      set_bit(
        overlay(uuid_send(gen_random_uuid())
                placing substring(int8send((extract(epoch from clock_timestamp()) * 1000)::bigint) from 3)
                from 1 for 6),
        52, 1),
      53, 1),
    'hex')::uuid
$$;

-- Raised by triggers on append-only tables. SQLSTATE 55000 (object_not_in_prerequisite_state)
-- with a recognisable message; the API maps it to 409 IMMUTABLE_RECORD.
create function forbid_mutation() returns trigger
language plpgsql as $$
begin
  raise exception 'bursar: % rows are immutable (% refused)', tg_table_name, tg_op
    using errcode = '55000', hint = 'record a correcting movement (a refund) instead';
end
$$;

-- Small key/value table for one-off facts about this database (e.g. demo data seeded).
create table app_meta (
  key        text primary key,
  value      jsonb not null,
  updated_at timestamptz not null default now()
);

-- ---------------------------------------------------------------------------------
-- Tenants
-- ---------------------------------------------------------------------------------
create table schools (
  id                uuid primary key default uuid_v7(),
  name              text not null check (length(btrim(name)) between 1 and 200),
  address           text check (length(address) <= 500),
  phone             text check (length(phone) <= 40),
  email             text check (length(email) <= 254),
  currency          char(3) not null default 'MXN' check (currency ~ '^[A-Z]{3}$'),
  -- IANA zone name; validated by the API (the database has no immutable check for it).
  timezone          text not null default 'America/Mexico_City' check (length(timezone) between 1 and 64),
  public_statements boolean not null default false,
  is_active         boolean not null default true,
  created_at        timestamptz not null default now(),
  updated_at        timestamptz not null default now(),
  deleted_at        timestamptz
);
create index schools_name_idx on schools (name, id) where deleted_at is null;

create table students (
  id          uuid primary key default uuid_v7(),
  school_id   uuid not null references schools (id),
  first_name  text not null check (length(btrim(first_name)) between 1 and 100),
  last_name   text not null check (length(btrim(last_name)) between 1 and 100),
  email       text check (length(email) <= 254),
  grade       text not null check (length(btrim(grade)) between 1 and 20),
  enrolled_at date not null default current_date,
  is_active   boolean not null default true,
  created_at  timestamptz not null default now(),
  updated_at  timestamptz not null default now(),
  deleted_at  timestamptz,
  unique (school_id, id)
);
create index students_school_idx on students (school_id, id) where deleted_at is null;
create index students_school_grade_idx on students (school_id, grade) where deleted_at is null;

-- ---------------------------------------------------------------------------------
-- Billing
-- ---------------------------------------------------------------------------------
-- Status is not stored: PENDING/PARTIAL/PAID follow from paid_amount vs amount,
-- OVERDUE from due_date in the school's time zone at read time, CANCELLED from
-- cancelled_at. paid_amount is maintained in the same transaction as every payment
-- and refund (net of refunds).
create table invoices (
  id           uuid primary key default uuid_v7(),
  school_id    uuid not null,
  student_id   uuid not null,
  number       text not null check (length(btrim(number)) between 1 and 40),
  description  text check (length(description) <= 500),
  amount       bigint not null check (amount > 0),
  paid_amount  bigint not null default 0 check (paid_amount >= 0),
  due_date     date not null,
  created_at   timestamptz not null default now(),
  updated_at   timestamptz not null default now(),
  cancelled_at timestamptz,
  constraint invoices_paid_within_amount check (paid_amount <= amount),
  constraint invoices_cancel_only_unpaid check (cancelled_at is null or paid_amount = 0),
  constraint invoices_number_unique unique (school_id, number),
  unique (school_id, id),
  foreign key (school_id, student_id) references students (school_id, id)
);
create index invoices_student_idx on invoices (student_id, due_date);
create index invoices_school_due_idx on invoices (school_id, due_date, id);
-- The outstanding queue: oldest due first, only bills that still owe money.
create index invoices_outstanding_idx on invoices (due_date, id)
  where cancelled_at is null and paid_amount < amount;
create index invoices_school_outstanding_idx on invoices (school_id, due_date, id)
  where cancelled_at is null and paid_amount < amount;

create table payments (
  id         uuid primary key default uuid_v7(),
  school_id  uuid not null,
  invoice_id uuid not null,
  amount     bigint not null check (amount > 0),
  method     text not null check (method in ('card', 'bank_transfer', 'cash', 'cash_voucher', 'direct_debit', 'wallet')),
  reference  text check (length(reference) <= 120),
  paid_at    timestamptz not null default now(),
  created_at timestamptz not null default now(),
  created_by uuid,
  unique (school_id, id),
  foreign key (school_id, invoice_id) references invoices (school_id, id)
);
create index payments_invoice_idx on payments (invoice_id, paid_at);
create index payments_school_paid_at_idx on payments (school_id, paid_at, id);
create index payments_paid_at_idx on payments (paid_at, id);

-- A refund is a linked negative movement against one payment; the sum of refunds of
-- a payment never exceeds it (enforced by the billing service under the invoice lock).
create table refunds (
  id         uuid primary key default uuid_v7(),
  school_id  uuid not null,
  payment_id uuid not null,
  invoice_id uuid not null,
  amount     bigint not null check (amount > 0),
  reason     text check (length(reason) <= 500),
  created_at timestamptz not null default now(),
  created_by uuid,
  foreign key (school_id, payment_id) references payments (school_id, id),
  foreign key (school_id, invoice_id) references invoices (school_id, id)
);
create index refunds_payment_idx on refunds (payment_id);
create index refunds_invoice_idx on refunds (invoice_id);

-- A payment attempt at the gateway. A succeeded transaction links the payment it
-- created; a refunded one the refund; failed ones feed developer monitoring.
create table transactions (
  id              uuid primary key default uuid_v7(),
  school_id       uuid not null references schools (id),
  invoice_id      uuid,
  payment_id      uuid,
  refund_id       uuid references refunds (id),
  amount          bigint not null check (amount > 0),
  method          text not null check (method in ('card', 'bank_transfer', 'cash', 'cash_voucher', 'direct_debit', 'wallet')),
  status          text not null check (status in ('succeeded', 'failed', 'refunded', 'pending')),
  failure_code    text check (length(failure_code) <= 64),
  failure_message text check (length(failure_message) <= 500),
  gateway         text not null default 'internal' check (length(gateway) <= 64),
  created_at      timestamptz not null default now(),
  constraint transactions_failure_needs_code check (status <> 'failed' or failure_code is not null),
  constraint transactions_succeeded_needs_payment check (status <> 'succeeded' or payment_id is not null),
  foreign key (school_id, invoice_id) references invoices (school_id, id),
  foreign key (school_id, payment_id) references payments (school_id, id)
);
create index transactions_school_created_idx on transactions (school_id, created_at desc, id desc);
create index transactions_created_idx on transactions (created_at desc, id desc);
create index transactions_failures_idx on transactions (created_at desc, failure_code)
  where status = 'failed';

-- ---------------------------------------------------------------------------------
-- Gateway account ledger (the vendor's account feed). Platform-level data keyed by the
-- vendor's account id, not tenant rows; the vendor id is the primary key, so each
-- entry is stored exactly once. body_hash detects a repeated id with another body.
-- ---------------------------------------------------------------------------------
create table ledger_entries (
  vendor_id   text primary key check (length(vendor_id) between 1 and 128),
  account_id  text not null check (length(account_id) between 1 and 128),
  type        text not null check (type in ('earned', 'spent', 'payout', 'paid_out')),
  amount      bigint not null check (amount >= 0),
  created_at  timestamptz not null,
  ingested_at timestamptz not null default now(),
  body_hash   bytea not null
);
create index ledger_entries_account_idx on ledger_entries (account_id, created_at);

-- ---------------------------------------------------------------------------------
-- Users and sessions
-- ---------------------------------------------------------------------------------
create table users (
  id            uuid primary key default uuid_v7(),
  username      text not null check (username ~ '^[a-z0-9][a-z0-9._-]{2,63}$'),
  password_hash text not null,
  role          text not null check (role in ('super_admin', 'school_admin', 'finance_analyst', 'developer')),
  is_active     boolean not null default true,
  created_at    timestamptz not null default now(),
  updated_at    timestamptz not null default now(),
  last_login_at timestamptz,
  constraint users_username_unique unique (username)
);

-- Schools a school_admin may see and write.
create table user_schools (
  user_id   uuid not null references users (id) on delete cascade,
  school_id uuid not null references schools (id),
  primary key (user_id, school_id)
);
create index user_schools_school_idx on user_schools (school_id);

-- One login = one session (a refresh-token family). Access tokens carry the session
-- id, so revoking a session (logout, refresh-token reuse, password change) ends
-- its access tokens at once, not only at their expiry.
create table auth_sessions (
  id             uuid primary key default uuid_v7(),
  user_id        uuid not null references users (id) on delete cascade,
  created_at     timestamptz not null default now(),
  expires_at     timestamptz not null,
  revoked_at     timestamptz,
  revoked_reason text,
  ip             text,
  user_agent     text
);
create index auth_sessions_user_idx on auth_sessions (user_id) where revoked_at is null;

-- Refresh tokens are opaque; only their SHA-256 is stored. A token is used once:
-- presenting a used token again revokes its whole session (family).
create table refresh_tokens (
  id         uuid primary key default uuid_v7(),
  session_id uuid not null references auth_sessions (id) on delete cascade,
  token_hash bytea not null unique,
  created_at timestamptz not null default now(),
  expires_at timestamptz not null,
  used_at    timestamptz
);
create index refresh_tokens_session_idx on refresh_tokens (session_id);

-- Failed-login counters per username and per client IP (shared by every instance).
create table login_throttle (
  key          text primary key,
  failures     integer not null default 0,
  window_start timestamptz not null default now(),
  locked_until timestamptz
);

-- Idempotency-Key records for money-moving POSTs, scoped per caller. The request
-- hash detects the same key reused with another body (422); the stored response is
-- replayed for a repeat of the same request. Kept at least 24 h.
create table idempotency_keys (
  user_id         uuid not null references users (id) on delete cascade,
  key             text not null check (length(key) between 1 and 255),
  request_method  text not null,
  request_path    text not null,
  request_hash    bytea not null,
  response_status integer,
  response_body   jsonb,
  created_at      timestamptz not null default now(),
  expires_at      timestamptz not null default now() + interval '24 hours',
  primary key (user_id, key)
);
create index idempotency_keys_expires_idx on idempotency_keys (expires_at);

-- ---------------------------------------------------------------------------------
-- Audit log: who changed what, when, from which request.
-- ---------------------------------------------------------------------------------
create table audit_log (
  id             uuid primary key default uuid_v7(),
  occurred_at    timestamptz not null default now(),
  actor_user_id  uuid,
  actor_username text,
  request_id     text,
  action         text not null,
  entity_type    text not null,
  entity_id      text,
  school_id      uuid,
  changes        jsonb
);
create index audit_log_entity_idx on audit_log (entity_type, entity_id, occurred_at);
create index audit_log_school_idx on audit_log (school_id, occurred_at) where school_id is not null;
create index audit_log_actor_idx on audit_log (actor_user_id, occurred_at);

-- ---------------------------------------------------------------------------------
-- Append-only enforcement
-- ---------------------------------------------------------------------------------
create trigger payments_immutable before update or delete on payments
  for each row execute function forbid_mutation();
create trigger payments_no_truncate before truncate on payments
  for each statement execute function forbid_mutation();
create trigger refunds_immutable before update or delete on refunds
  for each row execute function forbid_mutation();
create trigger refunds_no_truncate before truncate on refunds
  for each statement execute function forbid_mutation();
create trigger ledger_entries_immutable before update or delete on ledger_entries
  for each row execute function forbid_mutation();
create trigger ledger_entries_no_truncate before truncate on ledger_entries
  for each statement execute function forbid_mutation();
create trigger audit_log_immutable before update or delete on audit_log
  for each row execute function forbid_mutation();
create trigger audit_log_no_truncate before truncate on audit_log
  for each statement execute function forbid_mutation();
