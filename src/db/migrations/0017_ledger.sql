-- 0017_ledger: what the ledger module (src/modules/ledger) needs beyond 0014.

-- Credit-note numbers per school (CN-000001, ...), taken in the credit note's own
-- transaction like invoice and receipt numbers, so they are gapless and never shared.
create table credit_note_counters (
  school_id   uuid primary key references schools (id),
  last_number bigint not null
);

-- The one spelling of a receipt number: <PREFIX>-<YYYY>-<NNNNNN>, PREFIX up to four
-- ASCII letters of the school's name upper-cased ('SCH' when it has none), YYYY the
-- year of the payment in the school's time zone, NNNNNN the school's receipt sequence
-- (wider once it passes 999 999, never truncated). Stable, not immutable: it reads
-- the time zone database.
create function receipt_number(school_name text, tz text, paid_at timestamptz, seq bigint) returns text
language sql stable parallel safe as $$
  select coalesce(nullif(upper(left(regexp_replace(school_name, '[^A-Za-z]', '', 'g'), 4)), ''), 'SCH')
      || '-' || to_char(paid_at at time zone tz, 'YYYY')
      || '-' || lpad(seq::text, greatest(6, length(seq::text)), '0')
$$;

-- Adjustments are numbered per school when they are credit notes (write-offs carry no number).
create unique index invoice_adjustments_number_idx on invoice_adjustments (school_id, number) where number is not null;
