-- 0027_accounting: the chart-of-accounts mapping of a school (SPEC §9 "Accounting",
-- GET|PUT /schools/:id/accounts): which account code each side of the journal posts to.
-- A school without a row uses the defaults of src/modules/accounting/accounts.ts.
create table school_accounts (
  school_id  uuid primary key references schools (id),
  accounts   jsonb not null,
  updated_at timestamptz not null default now(),
  updated_by uuid
);
