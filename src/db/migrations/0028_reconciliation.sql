-- 0028_reconciliation: bank statements matched against what families paid (SPEC §9
-- "Bank reconciliation", src/modules/reconciliation).

-- A school's saved CSV column mapping (its bank's column names and date format).
create table statement_mappings (
  school_id  uuid primary key references schools (id),
  mapping    jsonb not null,
  updated_at timestamptz not null default now(),
  updated_by uuid
);

-- One upload of a statement: what it held and what it added.
create table bank_imports (
  school_id   uuid not null references schools (id),
  id          uuid not null default uuid_v7(),
  format      text not null check (format in ('csv', 'camt053', 'ofx')),
  currency    char(3) not null,
  -- Lines in the file (after in-file repeats were dropped), lines new to the school,
  -- lines it already had (an earlier or overlapping statement) and in-file repeats.
  lines       integer not null check (lines >= 0),
  added       integer not null check (added >= 0),
  known       integer not null check (known >= 0),
  repeats     integer not null check (repeats >= 0),
  created_at  timestamptz not null default now(),
  created_by  uuid,
  primary key (school_id, id)
);
create index bank_imports_school_idx on bank_imports (school_id, id desc);

-- One movement on the school's bank account, stored once per bank transaction id.
--   matched:   its payment (or family payment) is recorded;
--   suggested: a likely invoice or family is named, a person confirms;
--   unmatched: nothing found (an exception);
--   ignored:   money paid out, or set aside by a person.
create table bank_lines (
  school_id           uuid not null,
  id                  uuid not null default uuid_v7(),
  import_id           uuid not null,
  bank_transaction_id text not null,
  booked_on           date not null,
  amount              bigint not null,
  currency            char(3) not null,
  description         text not null,
  payer_name          text,
  status              text not null check (status in ('matched', 'suggested', 'unmatched', 'ignored')),
  -- The invoice or family matched or suggested, and why ('reference', 'invoice', 'amount', …).
  invoice_id          uuid,
  family_id           uuid,
  reason              text,
  payment_id          uuid,
  family_payment_id   uuid,
  decided_by          uuid,
  decided_at          timestamptz,
  created_at          timestamptz not null default now(),
  primary key (school_id, id),
  unique (school_id, bank_transaction_id),
  foreign key (school_id, import_id) references bank_imports (school_id, id),
  foreign key (school_id, invoice_id) references invoices (school_id, id),
  foreign key (school_id, family_id) references families (school_id, id),
  foreign key (school_id, payment_id) references payments (school_id, id),
  foreign key (school_id, family_payment_id) references family_payments (school_id, id),
  check (status <> 'matched' or payment_id is not null or family_payment_id is not null),
  check (payment_id is null or family_payment_id is null)
);
create index bank_lines_status_idx on bank_lines (school_id, status, id desc);
create index bank_lines_import_idx on bank_lines (school_id, import_id, id);
-- One bank line per recorded payment: a payment is never matched twice.
create unique index bank_lines_payment_idx on bank_lines (school_id, payment_id) where payment_id is not null;
create unique index bank_lines_family_payment_idx on bank_lines (school_id, family_payment_id) where family_payment_id is not null;
