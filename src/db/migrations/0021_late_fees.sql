-- 0021_late_fees: late fees per school policy, posted by the daily collections run (SPEC §8).
--
--   late_fee_policies   one per school: fixed (minor units, once per overdue invoice),
--                       percent (of the open amount, once) or daily_interest (percent of
--                       the open amount per school-local day); grace days; a cap in minor
--                       units per overdue invoice (late fees posted, gross of waivers and
--                       of late-fee invoices cancelled: forgiving fees makes no room).
--   invoices.kind       'regular' | 'late_fee'. A late-fee invoice has related_invoice_id,
--                       the overdue invoice it charges for; at most one live (not
--                       cancelled) late-fee invoice per invoice, which gains a late_fee
--                       line per posting. Its student, family and payer are the overdue
--                       invoice's; no late fee is charged on a late-fee invoice.
--   collection_runs     what each school day's run did (the scheduler's "done today"
--                       mark, and the answer of POST /collections/run).
--   invoice_adjustments gains kind 'waiver': a late fee forgiven (no money moved), like a
--                       credit note; the service allows it on late-fee invoices only.
--
-- Exactly once. Every late_fee line has a billing key: `late_fee:<invoice>` for fixed and
-- percent, `late_fee:<invoice>:<day>` for daily interest (unique per school, 0014), so a
-- re-run of a day or a second worker posts nothing twice; runs of one school also
-- serialise on an advisory lock, so the cap (read from the lines already posted) holds.

alter table invoices
  add column kind text not null default 'regular' check (kind in ('regular', 'late_fee')),
  add column related_invoice_id uuid,
  add constraint invoices_late_fee_related check ((kind = 'late_fee') = (related_invoice_id is not null)),
  add constraint invoices_related_fk foreign key (school_id, related_invoice_id) references invoices (school_id, id);
create unique index invoices_late_fee_of_idx on invoices (school_id, related_invoice_id)
  where related_invoice_id is not null and cancelled_at is null;
-- Every late-fee invoice of an invoice, cancelled ones too (what counts towards the cap).
create index invoices_related_idx on invoices (school_id, related_invoice_id) where related_invoice_id is not null;

alter table invoice_adjustments drop constraint invoice_adjustments_kind_check;
alter table invoice_adjustments add constraint invoice_adjustments_kind_check check (kind in ('credit_note', 'write_off', 'waiver'));

create table late_fee_policies (
  school_id  uuid not null references schools (id),
  kind       text not null check (kind in ('fixed', 'percent', 'daily_interest')),
  -- fixed: minor units (an integer); percent and daily_interest: percent (0 < v ≤ 100)
  value      numeric(14, 4) not null check (value > 0 and (kind = 'fixed' and value = trunc(value) or kind <> 'fixed' and value <= 100)),
  grace_days integer not null default 0 check (grace_days between 0 and 365),
  cap        bigint check (cap > 0),
  enabled    boolean not null default true,
  updated_at timestamptz not null default now(),
  updated_by uuid,
  primary key (school_id)
);

create table collection_runs (
  school_id        uuid not null references schools (id),
  day              date not null,
  late_fees_posted integer not null default 0,
  late_fee_amount  bigint not null default 0,
  reminders_sent   integer not null default 0,
  reminders_skipped integer not null default 0,
  runs             integer not null default 1,
  first_run_at     timestamptz not null default now(),
  last_run_at      timestamptz not null default now(),
  primary key (school_id, day)
);

-- The ledger's posting of a school day's late fees (src/modules/ledger/ledger.ts,
-- postLateFees). Lock order, as every money writer of a school: invoice rows first (the
-- existing late-fee invoices, by due date and id, as a family payment locks them), then
-- the school's invoice counter, then the money rows (whose statement triggers take the
-- school's billing_versions row). Answers one row per late fee posted.
create function ledger_post_late_fees(p_school uuid, p_day date)
returns table (invoice_id uuid, late_fee_invoice_id uuid, amount bigint)
language plpgsql as $$
declare
  v_policy late_fee_policies;
  v_related uuid[];
  v_fee_invoices uuid[];
  v_existing uuid[];
  v_fees bigint[];
  v_keys text[];
  v_new int;
  v_last bigint;
  v_writer text := coalesce(current_setting('bursar.writer', true), '');
begin
  select * into v_policy from late_fee_policies p where p.school_id = p_school and p.enabled;
  if not found then
    return;
  end if;
  perform pg_advisory_xact_lock(hashtext('bursar:late-fees'), hashtext(p_school::text));

  -- What is due today: each regular invoice still open past its due date and grace, its
  -- live late-fee invoice (if any), what its late-fee invoices have charged so far
  -- (cancelled ones too), the fee by the policy, never beyond the cap, and not posted
  -- yet under its billing key.
  with overdue as (
    select i.id, i.due_date, i.amount - i.paid_amount as open, lf.id as fee_invoice,
           coalesce((select sum(l.amount)
                       from invoices f
                       join invoice_lines l on l.school_id = f.school_id and l.invoice_id = f.id and l.kind = 'late_fee'
                      where f.school_id = i.school_id and f.related_invoice_id = i.id), 0) as charged
      from invoices i
      left join invoices lf on lf.school_id = i.school_id and lf.related_invoice_id = i.id and lf.cancelled_at is null
     where i.school_id = p_school and i.kind = 'regular' and i.cancelled_at is null and i.paid_amount < i.amount
       and i.due_date + v_policy.grace_days < p_day
  ),
  priced as (
    select o.id, o.due_date, o.fee_invoice,
           case when v_policy.kind = 'daily_interest' then 'late_fee:' || o.id || ':' || p_day else 'late_fee:' || o.id end as key,
           least(case v_policy.kind when 'fixed' then v_policy.value::bigint else round(o.open * v_policy.value / 100)::bigint end,
                 coalesce(v_policy.cap - o.charged, 9223372036854775807)) as fee
      from overdue o
  )
  select array_agg(p.id order by p.due_date, p.id), array_agg(p.fee_invoice order by p.due_date, p.id),
         array_agg(p.fee order by p.due_date, p.id), array_agg(p.key order by p.due_date, p.id)
    into v_related, v_fee_invoices, v_fees, v_keys
    from priced p
   where p.fee > 0
     and not exists (select 1 from invoice_lines l where l.school_id = p_school and l.billing_key = p.key);
  if v_related is null then
    return;
  end if;

  perform 1 from invoices i
   where i.school_id = p_school and i.id = any (v_fee_invoices)
   order by i.due_date, i.id
     for update;

  -- A late fee written by this run inherits whether its overdue invoice is demo data
  -- (0012): the run is the system, not a person, so the marking trigger is told so.
  perform set_config('bursar.writer', 'demo', true);

  v_existing := v_fee_invoices;
  select count(*) into v_new from unnest(v_fee_invoices) f where f is null;
  if v_new > 0 then
    insert into invoice_counters as c (school_id, last_number) values (p_school, v_new)
    on conflict (school_id) do update set last_number = c.last_number + excluded.last_number
    returning last_number into v_last;

    with todo as (
      select u.related, u.fee, u.key, row_number() over (order by u.ord) as n
        from unnest(v_related, v_fee_invoices, v_fees, v_keys) with ordinality u (related, fee_invoice, fee, key, ord)
       where u.fee_invoice is null
    ),
    created as (
      insert into invoices (school_id, student_id, family_id, payer_guardian_id, number, description, amount, due_date,
                            touched_by_person_at, kind, related_invoice_id)
      select p_school, i.student_id, i.family_id, i.payer_guardian_id,
             'INV-' || lpad((v_last - v_new + t.n)::text, greatest(6, length((v_last - v_new + t.n)::text)), '0'),
             'Late fee on ' || i.number, t.fee, p_day, i.touched_by_person_at, 'late_fee', i.id
        from todo t join invoices i on i.school_id = p_school and i.id = t.related
       order by t.n
      returning id, related_invoice_id
    )
    select array_agg(coalesce(c.id, u.fee_invoice) order by u.ord)
      into v_fee_invoices
      from unnest(v_related, v_fee_invoices) with ordinality u (related, fee_invoice, ord)
      left join created c on c.related_invoice_id = u.related and u.fee_invoice is null;
  end if;

  update invoices i
     set amount = i.amount + u.fee, updated_at = now()
    from unnest(v_existing, v_fees) u (fee_invoice, fee)
   where i.school_id = p_school and i.id = u.fee_invoice; -- not those inserted above (their amount is the fee)

  insert into invoice_lines (school_id, invoice_id, kind, code, description, amount, due_date, billing_key)
  select p_school, u.fee_invoice, 'late_fee', 'late_fee',
         case v_policy.kind
           when 'daily_interest' then 'Interest for ' || to_char(p_day, 'YYYY-MM-DD') || ' on ' || i.number
           else 'Late fee on ' || i.number
         end,
         u.fee, p_day, u.key
    from unnest(v_fee_invoices, v_fees, v_related, v_keys) u (fee_invoice, fee, related, key)
    join invoices i on i.school_id = p_school and i.id = u.related;

  perform set_config('bursar.writer', v_writer, true);
  return query select u.related, u.fee_invoice, u.fee from unnest(v_related, v_fee_invoices, v_fees) u (related, fee_invoice, fee);
end
$$;
