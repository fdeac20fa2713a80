-- 0041_school_language: the language a school writes its documents in (es | en).
--
-- Bursar writes some text into what it bills: a bill run names the month of each
-- invoice ("Colegiatura · Jan 2027"), the daily run names the invoice a late fee is for
-- ("Late fee on INV-000123"). They were written in English for every school, so a
-- family in Mexico or Colombia read "Jan 2027" and "Late fee on" in a Spanish portal,
-- statement and receipt. A school now has a language; what Bursar writes into its
-- invoices is in it. Unset, it follows the currency, as the schools Bursar serves do:
-- USD schools write English, MXN and COP schools (and any other) Spanish. The rule is
-- this trigger alone: an insert or an update that leaves language null gets it.
alter table schools add column language text check (language in ('es', 'en'));

create function schools_default_language() returns trigger
language plpgsql as $$
begin
  if new.language is null then
    new.language := case when new.currency = 'USD' then 'en' else 'es' end;
  end if;
  return new;
end
$$;

create trigger schools_default_language before insert or update on schools
  for each row execute function schools_default_language();

update schools set language = null;
alter table schools alter column language set not null;

-- The ledger's late fees (0021) in the school's language: the invoice's description and
-- its line's. Otherwise as 0021.
create or replace function ledger_post_late_fees(p_school uuid, p_day date)
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
  v_spanish boolean := (select s.language = 'es' from schools s where s.id = p_school);
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
             case when v_spanish then 'Recargo por ' else 'Late fee on ' end || i.number, t.fee, p_day, i.touched_by_person_at, 'late_fee', i.id
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
           when 'daily_interest' then
             case when v_spanish then 'Interés del ' || to_char(p_day, 'YYYY-MM-DD') || ' por ' else 'Interest for ' || to_char(p_day, 'YYYY-MM-DD') || ' on ' end || i.number
           else case when v_spanish then 'Recargo por ' else 'Late fee on ' end || i.number
         end,
         u.fee, p_day, u.key
    from unnest(v_fee_invoices, v_fees, v_related, v_keys) u (fee_invoice, fee, related, key)
    join invoices i on i.school_id = p_school and i.id = u.related;

  perform set_config('bursar.writer', v_writer, true);
  return query select u.related, u.fee_invoice, u.fee from unnest(v_related, v_fee_invoices, v_fees) u (related, fee_invoice, fee);
end
$$;
