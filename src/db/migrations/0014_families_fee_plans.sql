-- 0014_families_fee_plans: families and guardians, fee plans billed in instalments by
-- bill runs, discounts and aid, family payments and credit, credit notes and
-- write-offs, gapless receipts (SPEC §7, issue 16).
--
-- Distribution discipline (docs/scale-out.md): every table here is tenant-owned, so its
-- primary key, every unique constraint and every foreign key to another tenant table
-- start with school_id. Lookups by id alone use a plain (non-unique) index on id, which
-- Citus allows. test/db/distribution.test.ts checks this for every table with a
-- school_id column.
--
-- Money model. An invoice's `amount` is the sum of its lines (charges and late fees
-- positive, discounts negative; never below zero). `paid_amount` is what has SETTLED it:
-- payments − refunds + family credit applied + credit notes + write-offs; `credited_amount`
-- is the part of it that is credit notes and write-offs (no money moved). So every
-- report, index and status that reads `amount - paid_amount` as "still open" stays right,
-- and cash paid on an invoice is `paid_amount - credited_amount`. Family credit is money
-- a family paid beyond its open invoices (families.credit_balance), applied to the next
-- invoices. Only src/modules/ledger writes any of these figures or money rows.
--
-- Invariant (SPEC §7; `npm run verify`, test/ledger properties), per family (and per
-- student without a family):
--   charges + late fees − discounts − credit notes − write-offs − payments + refunds
--     = open amount − credit
-- where payments are direct payments plus family payments in full (allocated and
-- credited), open is Σ (amount − paid_amount) of the non-cancelled invoices. Cancelled
-- invoices had nothing paid (0001's check) and count neither side.

-- ---------------------------------------------------------------------------------
-- Families and guardians
-- ---------------------------------------------------------------------------------
create table families (
  school_id          uuid not null references schools (id),
  id                 uuid not null default uuid_v7(),
  name               text not null check (length(btrim(name)) between 1 and 200),
  -- The payment reference for bank transfers: PREFIX-NNNNNN-C, C a check digit over
  -- the number (src/modules/families/reference.ts). Unique per school.
  reference          text not null check (reference ~ '^[A-Z0-9]{2,6}-[0-9]{6}-[0-9]$'),
  preferred_language text not null default 'es' check (preferred_language in ('es', 'en')),
  -- Money this family paid beyond its open invoices; only the ledger module moves it.
  credit_balance     bigint not null default 0 check (credit_balance >= 0),
  created_at         timestamptz not null default now(),
  updated_at         timestamptz not null default now(),
  deleted_at         timestamptz,
  primary key (school_id, id),
  constraint families_reference_unique unique (school_id, reference)
);
create index families_id_idx on families (id);
create index families_school_name_idx on families (school_id, name, id) where deleted_at is null;

-- The next family number per school (the NNNNNN of the reference).
create table family_counters (
  school_id   uuid primary key references schools (id),
  last_number bigint not null
);

create table guardians (
  school_id          uuid not null,
  id                 uuid not null default uuid_v7(),
  family_id          uuid not null,
  first_name         text not null check (length(btrim(first_name)) between 1 and 100),
  last_name          text not null check (length(btrim(last_name)) between 1 and 100),
  email              text check (length(email) <= 254 and email = lower(btrim(email))),
  phone              text check (length(phone) <= 40),
  relationship       text not null default 'guardian' check (length(btrim(relationship)) between 1 and 40),
  preferred_language text not null default 'es' check (preferred_language in ('es', 'en')),
  is_primary         boolean not null default false,
  reminders_opt_out  boolean not null default false,
  created_at         timestamptz not null default now(),
  updated_at         timestamptz not null default now(),
  deleted_at         timestamptz,
  primary key (school_id, id),
  foreign key (school_id, family_id) references families (school_id, id)
);
create index guardians_id_idx on guardians (id);
create index guardians_family_idx on guardians (school_id, family_id) where deleted_at is null;
-- At most one primary guardian per family.
create unique index guardians_one_primary_idx on guardians (school_id, family_id) where is_primary and deleted_at is null;

alter table students add column family_id uuid;
alter table students add constraint students_family_fk foreign key (school_id, family_id) references families (school_id, id);
create index students_family_idx on students (school_id, family_id) where family_id is not null;

-- ---------------------------------------------------------------------------------
-- Fee plans, items, enrolments
-- ---------------------------------------------------------------------------------
create table fee_plans (
  school_id     uuid not null references schools (id),
  id            uuid not null default uuid_v7(),
  name          text not null check (length(btrim(name)) between 1 and 200),
  -- e.g. '2026-2027'; its first and last day bound every due date of the plan.
  academic_year text not null check (length(btrim(academic_year)) between 1 and 20),
  year_start    date not null,
  year_end      date not null,
  created_at    timestamptz not null default now(),
  updated_at    timestamptz not null default now(),
  primary key (school_id, id),
  check (year_start <= year_end)
);
create index fee_plans_id_idx on fee_plans (id);

create table fee_plan_items (
  school_id    uuid not null,
  fee_plan_id  uuid not null,
  code         text not null check (code ~ '^[A-Za-z0-9_-]{1,40}$'),
  description  text not null check (length(btrim(description)) between 1 and 200),
  amount       bigint not null check (amount > 0),
  optional     boolean not null default false,
  account_code text check (length(account_code) <= 40),
  -- {kind: once, dueDate} | {kind: monthly, firstDue, count} | {kind: termly|custom, dueDates[]}
  schedule     jsonb not null,
  position     int not null default 0,
  created_at   timestamptz not null default now(),
  updated_at   timestamptz not null default now(),
  primary key (school_id, fee_plan_id, code),
  foreign key (school_id, fee_plan_id) references fee_plans (school_id, id)
);

create table enrolments (
  school_id      uuid not null,
  id             uuid not null default uuid_v7(),
  student_id     uuid not null,
  fee_plan_id    uuid not null,
  from_date      date not null,
  to_date        date,
  optional_items text[] not null default '{}',
  created_at     timestamptz not null default now(),
  updated_at     timestamptz not null default now(),
  primary key (school_id, id),
  foreign key (school_id, student_id) references students (school_id, id),
  foreign key (school_id, fee_plan_id) references fee_plans (school_id, id),
  check (to_date is null or to_date >= from_date)
);
create index enrolments_id_idx on enrolments (id);
create index enrolments_student_idx on enrolments (school_id, student_id);
create index enrolments_plan_idx on enrolments (school_id, fee_plan_id);

-- Who pays an enrolment's instalments, and what share (sums to 1 per enrolment; the
-- rounding remainder of each instalment goes to position 0). No rows: the family pays
-- as one (invoices without a payer).
create table enrolment_payers (
  school_id    uuid not null,
  enrolment_id uuid not null,
  guardian_id  uuid not null,
  share        numeric(7, 6) not null check (share > 0 and share <= 1),
  position     int not null,
  primary key (school_id, enrolment_id, guardian_id),
  foreign key (school_id, enrolment_id) references enrolments (school_id, id),
  foreign key (school_id, guardian_id) references guardians (school_id, id)
);

-- ---------------------------------------------------------------------------------
-- Discounts and aid
-- ---------------------------------------------------------------------------------
create table discount_rules (
  school_id           uuid not null references schools (id),
  id                  uuid not null default uuid_v7(),
  name                text not null check (length(btrim(name)) between 1 and 200),
  kind                text not null check (kind in ('sibling', 'staff', 'scholarship', 'custom')),
  basis               text not null check (basis in ('percent', 'fixed')),
  -- percent: basis points (10000 = 100 %); fixed: minor units per instalment line.
  value               bigint not null check (value > 0 and (basis <> 'percent' or value <= 10000)),
  item_codes          text[],
  from_sibling_number int check (from_sibling_number >= 2),
  cap                 bigint check (cap > 0),
  stacking            text not null default 'stack' check (stacking in ('stack', 'best_only')),
  valid_from          date,
  valid_to            date,
  is_active           boolean not null default true,
  created_at          timestamptz not null default now(),
  updated_at          timestamptz not null default now(),
  primary key (school_id, id),
  check (valid_to is null or valid_from is null or valid_to >= valid_from)
);
create index discount_rules_id_idx on discount_rules (id);

create table awards (
  school_id  uuid not null,
  id         uuid not null default uuid_v7(),
  student_id uuid not null,
  rule_id    uuid not null,
  reason     text not null check (length(btrim(reason)) between 1 and 500),
  created_by uuid,
  created_at timestamptz not null default now(),
  revoked_at timestamptz,
  revoked_by uuid,
  primary key (school_id, id),
  foreign key (school_id, student_id) references students (school_id, id),
  foreign key (school_id, rule_id) references discount_rules (school_id, id)
);
create index awards_id_idx on awards (id);
create index awards_student_idx on awards (school_id, student_id) where revoked_at is null;

-- ---------------------------------------------------------------------------------
-- Bill runs and invoice lines
-- ---------------------------------------------------------------------------------
create table bill_runs (
  school_id         uuid not null references schools (id),
  id                uuid not null default uuid_v7(),
  through           date not null,
  dry_run           boolean not null default false,
  status            text not null check (status in ('queued', 'running', 'finished', 'failed')),
  invoices_created  int not null default 0,
  lines_created     int not null default 0,
  skipped           int not null default 0,
  -- Instalments considered so far and in all (progress of a background run).
  done              int not null default 0,
  total             int,
  totals            jsonb,
  error             text,
  requested_by      uuid,
  created_at        timestamptz not null default now(),
  started_at        timestamptz,
  finished_at       timestamptz,
  primary key (school_id, id)
);
create index bill_runs_id_idx on bill_runs (id);
create index bill_runs_school_idx on bill_runs (school_id, created_at desc);

alter table invoices
  add column family_id         uuid,
  add column payer_guardian_id uuid,
  add column bill_run_id       uuid,
  add column credited_amount   bigint not null default 0 check (credited_amount >= 0),
  add constraint invoices_credited_within_paid check (credited_amount <= paid_amount),
  add constraint invoices_family_fk foreign key (school_id, family_id) references families (school_id, id),
  add constraint invoices_payer_fk foreign key (school_id, payer_guardian_id) references guardians (school_id, id);
-- A fully discounted instalment is an invoice of 0 (the family sees its scholarship);
-- POST /invoices still requires amount > 0.
alter table invoices drop constraint invoices_amount_check;
alter table invoices add constraint invoices_amount_check check (amount >= 0);
create index invoices_family_idx on invoices (school_id, family_id, due_date) where family_id is not null;

create table invoice_lines (
  school_id         uuid not null,
  id                uuid not null default uuid_v7(),
  invoice_id        uuid not null,
  kind              text not null check (kind in ('charge', 'discount', 'late_fee')),
  code              text not null check (length(code) between 1 and 40),
  description       text not null check (length(description) <= 500),
  -- charges and late fees > 0, discounts < 0.
  amount            bigint not null check ((kind = 'discount' and amount < 0) or (kind <> 'discount' and amount > 0)),
  -- A bill run's line: the instalment it bills (enrolment, item, due date, payer).
  enrolment_id      uuid,
  item_code         text,
  due_date          date,
  rule_id           uuid,
  award_id          uuid,
  -- Exactly-once key of a billed instalment or late fee; null on lines of invoices
  -- created directly.
  billing_key       text,
  created_at        timestamptz not null default now(),
  primary key (school_id, id),
  foreign key (school_id, invoice_id) references invoices (school_id, id),
  foreign key (school_id, enrolment_id) references enrolments (school_id, id),
  foreign key (school_id, rule_id) references discount_rules (school_id, id)
);
create index invoice_lines_invoice_idx on invoice_lines (school_id, invoice_id);
create unique index invoice_lines_billing_key_idx on invoice_lines (school_id, billing_key) where billing_key is not null;

-- Every invoice that exists gets its one charge line (amount = sum of lines).
insert into invoice_lines (school_id, invoice_id, kind, code, description, amount, created_at)
select school_id, id, 'charge', 'fee', coalesce(description, number), amount, created_at
  from invoices where amount > 0;

-- ---------------------------------------------------------------------------------
-- Family payments, credit, credit notes, write-offs, receipts
-- ---------------------------------------------------------------------------------
create table family_payments (
  school_id         uuid not null,
  id                uuid not null default uuid_v7(),
  family_id         uuid not null,
  payer_guardian_id uuid,
  amount            bigint not null check (amount > 0),
  -- Of amount: what went to invoices (payments rows) and what became family credit.
  allocated         bigint not null check (allocated >= 0),
  credited          bigint not null check (credited >= 0),
  method            text not null check (method in ('card', 'bank_transfer', 'cash', 'cash_voucher', 'direct_debit', 'wallet')),
  reference         text check (length(reference) <= 120),
  paid_at           timestamptz not null default now(),
  created_at        timestamptz not null default now(),
  created_by        uuid,
  primary key (school_id, id),
  foreign key (school_id, family_id) references families (school_id, id),
  foreign key (school_id, payer_guardian_id) references guardians (school_id, id),
  check (allocated + credited = amount)
);
create index family_payments_id_idx on family_payments (id);
create index family_payments_family_idx on family_payments (school_id, family_id, paid_at);

-- The share of a family payment allocated to one invoice is a payment row like any
-- other (reports, rollups and refunds see it), linked to its family payment.
alter table payments
  add column family_payment_id uuid,
  add constraint payments_family_payment_fk foreign key (school_id, family_payment_id) references family_payments (school_id, id);
create index payments_family_payment_idx on payments (school_id, family_payment_id) where family_payment_id is not null;

-- Family credit applied to an invoice: settles it (paid_amount) without new money.
create table credit_applications (
  school_id  uuid not null,
  id         uuid not null default uuid_v7(),
  family_id  uuid not null,
  invoice_id uuid not null,
  amount     bigint not null check (amount > 0),
  created_at timestamptz not null default now(),
  created_by uuid,
  primary key (school_id, id),
  foreign key (school_id, family_id) references families (school_id, id),
  foreign key (school_id, invoice_id) references invoices (school_id, id)
);
create index credit_applications_family_idx on credit_applications (school_id, family_id);
create index credit_applications_invoice_idx on credit_applications (school_id, invoice_id);

-- Credit notes (a fee correction) and write-offs (bad debt): reduce what is open
-- without moving money; never above what is open.
create table invoice_adjustments (
  school_id  uuid not null,
  id         uuid not null default uuid_v7(),
  invoice_id uuid not null,
  kind       text not null check (kind in ('credit_note', 'write_off')),
  amount     bigint not null check (amount > 0),
  reason     text not null check (length(btrim(reason)) between 1 and 500),
  number     text,
  created_at timestamptz not null default now(),
  created_by uuid,
  primary key (school_id, id),
  foreign key (school_id, invoice_id) references invoices (school_id, id)
);
create index invoice_adjustments_id_idx on invoice_adjustments (id);
create index invoice_adjustments_invoice_idx on invoice_adjustments (school_id, invoice_id);

-- Receipts: one per money received (a direct payment, or a family payment with all its
-- allocations), numbered per school without gaps. The number is taken from the
-- school's counter row in the payment's own transaction, so a rolled-back payment
-- leaves no hole and two concurrent payments cannot share a number.
create table receipt_counters (
  school_id   uuid primary key references schools (id),
  last_number bigint not null
);
create table receipts (
  school_id         uuid not null,
  seq               bigint not null check (seq > 0),
  number            text not null,
  payment_id        uuid,
  family_payment_id uuid,
  created_at        timestamptz not null default now(),
  primary key (school_id, seq),
  constraint receipts_number_unique unique (school_id, number),
  foreign key (school_id, payment_id) references payments (school_id, id),
  foreign key (school_id, family_payment_id) references family_payments (school_id, id),
  check ((payment_id is null) <> (family_payment_id is null))
);
create unique index receipts_payment_idx on receipts (school_id, payment_id) where payment_id is not null;
create unique index receipts_family_payment_idx on receipts (school_id, family_payment_id) where family_payment_id is not null;

-- ---------------------------------------------------------------------------------
-- Money rows are never updated or deleted (SPEC §7).
-- ---------------------------------------------------------------------------------
create trigger invoice_lines_immutable before update or delete on invoice_lines
  for each row execute function forbid_mutation();
create trigger family_payments_immutable before update or delete on family_payments
  for each row execute function forbid_mutation();
create trigger credit_applications_immutable before update or delete on credit_applications
  for each row execute function forbid_mutation();
create trigger invoice_adjustments_immutable before update or delete on invoice_adjustments
  for each row execute function forbid_mutation();
create trigger receipts_immutable before update or delete on receipts
  for each row execute function forbid_mutation();
