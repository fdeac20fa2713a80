-- 0019_family_payment_in_one_call: a family payment in one round trip.
--
-- Measured (bench `familypay`, data sets S and L alike, 2 cores): a family payment made
-- ten round trips (begin, idempotency claim, family lock, invoice locks, two postings,
-- balance, audit, stored response, commit). The API process spent ~4.3 ms of its one
-- JavaScript thread per payment, a third of it in socket writes, and PostgreSQL planned
-- ten statements. Here the whole payment is one function call, in the caller's
-- transaction (one statement: its own transaction when the caller has none), with the
-- same locks in the same order and the same rules:
--
--   family_invoices()             the invoices of a family (one definition; the TS
--                                 familyInvoicesSql is a call of it, inlined by the planner)
--   idempotency_claim()           claims an Idempotency-Key (runIdempotent uses it too)
--   ledger_post_family_payment()  the ledger's posting of a family payment (the TS
--                                 postFamilyPayment is a call of it)
--   record_family_payment()       POST /families/:id/payments: claim or replay, the family
--                                 row lock, checks, the family's open invoices locked
--                                 oldest due first only as far as the money goes,
--                                 allocation, posting, balance, audit, stored response.
--
-- Errors the service turns into problem+json (SQLSTATE, class BF):
--   BF404 family not visible, BF422 payer is not a guardian of the family, BF409 paidAt
--   before the school's window, BFKEY Idempotency-Key reused, BFDEM the demo simulator
--   may not pay this family.

create function family_invoices(p_school uuid, p_family uuid) returns setof invoices
language sql stable as $$
  select i.* from invoices i
   where i.school_id = p_school and i.family_id = p_family
  union all
  select i.* from students s join invoices i on i.student_id = s.id and i.school_id = s.school_id
   where s.school_id = p_school and s.family_id = p_family and i.family_id is null
$$;

create function idempotency_claim(p_user uuid, p_key text, p_method text, p_path text, p_hash bytea) returns boolean
language sql volatile as $$
  -- A new key, or one whose retention has ended (taken over); false: the key is in use.
  insert into idempotency_keys as k (user_id, key, request_method, request_path, request_hash)
  values (p_user, p_key, p_method, p_path, p_hash)
  on conflict (user_id, key) do update
    set request_method = excluded.request_method,
        request_path = excluded.request_path,
        request_hash = excluded.request_hash,
        response_status = null,
        response_body = null,
        created_at = now(),
        expires_at = now() + interval '24 hours'
    where k.expires_at < now()
  returning true
$$;

-- The ledger's posting (src/modules/ledger/ledger.ts, postFamilyPayment, checks its
-- input first): the family_payments row, one payment with its succeeded transaction per
-- allocation, then the allocated invoices, the family's credit and ONE receipt. Every
-- allocated invoice must be the family's. The caller holds the family row and the
-- invoice rows locked.
create function ledger_post_family_payment(
  p_school uuid, p_family uuid, p_payer uuid, p_amount bigint, p_method text, p_reference text,
  p_paid_at timestamptz, p_created_by uuid, p_invoice_ids uuid[], p_amounts bigint[]
) returns jsonb
language plpgsql as $$
declare
  v_allocated bigint := coalesce((select sum(a) from unnest(p_amounts) a), 0);
  v_credited bigint := p_amount - v_allocated;
  v_fp record;
  v_payments jsonb;
  v_receipt text;
  v_settled int;
  v_families int;
begin
  -- Money rows first (their statement triggers take the school's billing_versions row),
  -- then the invoices, the receipt counter last: every writer of a school takes the same
  -- rows in the same order.
  with fp as (
    insert into family_payments (school_id, family_id, payer_guardian_id, amount, allocated, credited, method, reference, paid_at, created_by)
    values (p_school, p_family, p_payer, p_amount, v_allocated, v_credited, p_method, p_reference, p_paid_at, p_created_by)
    returning id, paid_at, created_at
  ),
  payment as (
    insert into payments (school_id, invoice_id, amount, method, reference, paid_at, created_by, family_payment_id)
    select p_school, a.invoice_id, a.amount, p_method, p_reference, fp.paid_at, p_created_by, fp.id
      from fp, unnest(p_invoice_ids, p_amounts) with ordinality as a(invoice_id, amount, ord)
     order by a.ord
    returning id, school_id, invoice_id, amount, method
  ),
  gateway as (
    insert into transactions (school_id, invoice_id, payment_id, amount, method, status)
    select school_id, invoice_id, id, amount, method, 'succeeded' from payment
  )
  select fp.id, fp.paid_at, fp.created_at,
         coalesce((select jsonb_agg(jsonb_build_object('id', payment.id, 'invoiceId', payment.invoice_id, 'amount', payment.amount)) from payment), '[]') as payments
    into v_fp
    from fp;

  with inv as (
    update invoices
       set paid_amount = invoices.paid_amount + a.amount, updated_at = now()
      from unnest(p_invoice_ids, p_amounts) as a(invoice_id, amount)
     where invoices.school_id = p_school and invoices.id = a.invoice_id
       and invoices.id in (select fi.id from family_invoices(p_school, p_family) fi)
    returning invoices.id
  ),
  fam as (
    update families set credit_balance = credit_balance + v_credited
     where school_id = p_school and id = p_family and v_credited > 0
    returning id
  ),
  counter as (
    insert into receipt_counters as c (school_id, last_number) values (p_school, 1)
    on conflict (school_id) do update set last_number = c.last_number + 1
    returning last_number
  ),
  receipt as (
    insert into receipts (school_id, seq, number, payment_id, family_payment_id)
    select p_school, counter.last_number, receipt_number(s.name, s.timezone, v_fp.paid_at, counter.last_number), null, v_fp.id
      from counter, schools s
     where s.id = p_school
    returning number
  )
  select receipt.number, (select count(*) from inv)::int, (select count(*) from fam)::int
    into v_receipt, v_settled, v_families
    from receipt;

  if v_receipt is null or v_settled <> coalesce(cardinality(p_invoice_ids), 0) or (v_credited > 0 and v_families <> 1) then
    raise exception 'ledger: family payment of family %: an allocated invoice or the family is not in school % and family', p_family, p_school;
  end if;
  return jsonb_build_object('id', v_fp.id, 'receiptNumber', v_receipt, 'allocated', v_allocated, 'credited', v_credited,
                            'paidAt', v_fp.paid_at, 'createdAt', v_fp.created_at, 'payments', v_fp.payments);
end
$$;

-- POST /families/:id/payments in one call (src/modules/familypayments/familypayments.service.ts
-- checks the body and presents the answer). p_schools null: every school (the caller's
-- scope); p_key null: no Idempotency-Key (the demo seed). Answers
-- {replayed, status, body}; body is the stored answer (raw: the service masks it).
create function record_family_payment(
  p_user uuid, p_username text, p_request_id text,
  p_key text, p_path text, p_hash bytea,
  p_schools uuid[], p_family uuid,
  p_amount bigint, p_method text, p_reference text, p_paid_at timestamptz, p_paid_at_given boolean,
  p_payer uuid, p_demo boolean,
  p_before_registration interval
) returns jsonb
language plpgsql as $$
declare
  v_previous record;
  v_family record;
  v_left bigint := p_amount;
  v_share bigint;
  v_ids uuid[] := '{}';
  v_amounts bigint[] := '{}';
  v_allocations jsonb := '[]';
  v_posted jsonb;
  v_owed bigint;
  v_credit bigint;
  v_body jsonb;
  v_open refcursor;
  r record;
begin
  if p_key is not null and not coalesce(idempotency_claim(p_user, p_key, 'POST', p_path, p_hash), false) then
    select request_hash, response_status, response_body into v_previous
      from idempotency_keys where user_id = p_user and key = p_key;
    if v_previous.request_hash <> p_hash or v_previous.response_status is null then
      raise exception 'this Idempotency-Key was already used for a different request' using errcode = 'BFKEY';
    end if;
    return jsonb_build_object('replayed', true, 'status', v_previous.response_status, 'body', v_previous.response_body);
  end if;

  -- The family row first (every money movement of a family serialises here), then its invoices.
  select f.id, f.school_id, s.currency, s.created_at as school_created_at
    into v_family
    from families f join schools s on s.id = f.school_id
   where f.id = p_family and f.deleted_at is null and s.deleted_at is null
     and (p_schools is null or f.school_id = any (p_schools))
     for update of f;
  if not found then
    raise exception 'family not found' using errcode = 'BF404';
  end if;
  if p_paid_at_given and p_paid_at < v_family.school_created_at - p_before_registration then
    raise exception 'paidAt is too early' using errcode = 'BF409',
      detail = to_char((v_family.school_created_at - p_before_registration) at time zone 'UTC', 'YYYY-MM-DD');
  end if;
  if p_payer is not null and not exists (
    select 1 from guardians g
     where g.school_id = v_family.school_id and g.family_id = p_family and g.id = p_payer and g.deleted_at is null) then
    raise exception 'not a guardian of this family' using errcode = 'BF422';
  end if;

  -- The family's open invoices (one payer: only theirs), oldest due date first, each
  -- locked as it is fetched — one at a time from a cursor (a FOR loop would fetch, and
  -- lock, ten ahead), only as far as the money goes. READ COMMITTED re-checks a row a
  -- concurrent payment settled while this waited: it drops out. Allocation: each takes
  -- what it owes until the money runs out; the rest is family credit (SPEC §7; the same
  -- rule as familypayments/allocation.ts, which the demo seed uses).
  open v_open for
    select i.id, i.number, i.amount - i.paid_amount as open, i.touched_by_person_at is not null as touched
      from invoices i
     where i.school_id = v_family.school_id
       and i.id in (select fi.id from family_invoices(v_family.school_id, p_family) fi)
       and i.cancelled_at is null and i.paid_amount < i.amount
       and (p_payer is null or i.payer_guardian_id = p_payer)
     order by i.due_date, i.id
       for update of i;
  while v_left > 0 loop
    fetch v_open into r;
    exit when not found;
    if p_demo and r.touched then
      raise exception 'the demo simulator pays for a family only when every bill its payment could reach is demo data' using errcode = 'BFDEM';
    end if;
    v_share := least(v_left, r.open);
    v_ids := v_ids || r.id;
    v_amounts := v_amounts || v_share;
    v_allocations := v_allocations || jsonb_build_array(jsonb_build_object('invoiceId', r.id, 'invoiceNumber', r.number, 'amount', v_share));
    v_left := v_left - v_share;
  end loop;
  close v_open;
  if p_demo then
    if not exists (select 1 from schools s where s.id = v_family.school_id and s.is_demo and s.simulator_enabled and s.is_active and s.deleted_at is null) then
      raise exception 'the demo simulator acts only on demo schools it is switched on for' using errcode = 'BFDEM';
    end if;
    perform set_config('bursar.writer', 'demo', true);
  end if;

  v_posted := ledger_post_family_payment(v_family.school_id, p_family, p_payer, p_amount, p_method, p_reference,
                                         p_paid_at, p_user, v_ids, v_amounts);
  -- The payments rows of the allocations, in allocation (due) order.
  select coalesce(jsonb_agg(a.value || jsonb_build_object('paymentId', p.value ->> 'id', 'familyPaymentId', v_posted ->> 'id') order by a.ordinality), '[]')
    into v_allocations
    from jsonb_array_elements(v_allocations) with ordinality a
    join jsonb_array_elements(v_posted -> 'payments') p on p.value ->> 'invoiceId' = a.value ->> 'invoiceId';

  select coalesce(sum(fi.amount - fi.paid_amount) filter (where fi.cancelled_at is null), 0)
    into v_owed
    from family_invoices(v_family.school_id, p_family) fi;
  select credit_balance into v_credit from families where school_id = v_family.school_id and id = p_family;

  insert into audit_log (actor_user_id, actor_username, request_id, action, entity_type, entity_id, school_id, changes)
  values (p_user, p_username, p_request_id, 'family_payment.create', 'family_payment', (v_posted ->> 'id')::uuid, v_family.school_id,
          jsonb_build_object('familyId', p_family, 'payerGuardianId', p_payer, 'amount', p_amount, 'method', p_method,
                             'allocated', (v_posted -> 'allocated'), 'credited', (v_posted -> 'credited'),
                             'receiptNumber', v_posted -> 'receiptNumber',
                             'allocations', (select coalesce(jsonb_agg(jsonb_build_object('invoiceId', a -> 'invoiceId', 'amount', a -> 'amount')), '[]')
                                               from jsonb_array_elements(v_allocations) a)));

  v_body := jsonb_build_object(
    'id', v_posted -> 'id', 'familyId', p_family, 'schoolId', v_family.school_id, 'payerGuardianId', p_payer,
    'amount', p_amount, 'allocated', v_posted -> 'allocated', 'credited', v_posted -> 'credited', 'currency', v_family.currency,
    'receiptNumber', v_posted -> 'receiptNumber', 'method', p_method, 'reference', p_reference,
    'paidAt', v_posted -> 'paidAt', 'createdAt', v_posted -> 'createdAt',
    'allocations', v_allocations, 'balance', jsonb_build_object('owed', v_owed, 'credit', v_credit));
  if p_key is not null then
    update idempotency_keys set response_status = 201, response_body = v_body where user_id = p_user and key = p_key;
  end if;
  return jsonb_build_object('replayed', false, 'status', 201, 'body', v_body);
end
$$;

-- ---------------------------------------------------------------------------------
-- Statement cache versions (0002): once per school per transaction. A version only has
-- to differ once the transaction's changes are visible, i.e. after its commit; a
-- payment bumped its school twice (its payments, then its invoice), a family payment
-- too, each an upsert of the same hot row. The schools bumped so far are kept in a
-- transaction-local setting (undone with a rolled-back savepoint, like the bump).
-- ---------------------------------------------------------------------------------
create function bump_billing_versions(p_schools uuid[]) returns void
language plpgsql as $$
declare
  v_done text := coalesce(current_setting('bursar.bumped_schools', true), '');
  v_bumped text;
begin
  with bumped as (
    insert into billing_versions as v (school_id, version)
    select c.id, 1 from unnest(p_schools) c (id) where strpos(v_done, c.id::text) = 0 order by c.id
    on conflict (school_id) do update set version = v.version + 1
    returning school_id
  )
  select string_agg(school_id::text, ',') into v_bumped from bumped;
  if v_bumped is not null then
    perform set_config('bursar.bumped_schools', v_done || ',' || v_bumped, true);
  end if;
end
$$;

create or replace function bump_billing_versions_by_school_id() returns trigger
language plpgsql as $$
begin
  perform bump_billing_versions(array(select distinct school_id from changed));
  return null;
end
$$;

create or replace function bump_billing_versions_by_id() returns trigger
language plpgsql as $$
begin
  perform bump_billing_versions(array(select distinct id from changed));
  return null;
end
$$;
