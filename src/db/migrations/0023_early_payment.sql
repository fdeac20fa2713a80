-- 0023_early_payment: early-payment discounts, "pronto pago" (SPEC §8, issue 17 part 1).
--
-- Terms {basis: percent|fixed, value, byDay} on a fee plan (for every item without its
-- own) or on an item. byDay is days relative to the instalment's due date (0: by the due
-- date itself; -5: five days before). A bill run writes, on each invoice, the discount it
-- offers (early_discount: the sum over its lines of percent of the line after its other
-- discounts, or the fixed amount split like a discount) and the last day to earn it
-- (early_by: the earliest deadline of its lines). Paying the invoice in full by that day
-- — the school-local date of the payment — earns it: the paying transaction first posts
-- the discount line (ledger_post_early_discount), then the payment, which is then exactly
-- what is open.

alter table fee_plans add column early_payment jsonb
  check (early_payment is null or jsonb_typeof(early_payment) = 'object');
alter table fee_plan_items add column early_payment jsonb
  check (early_payment is null or jsonb_typeof(early_payment) = 'object');

alter table invoices
  add column early_discount bigint not null default 0 check (early_discount >= 0),
  add column early_by date,
  add column early_applied boolean not null default false,
  add constraint invoices_early_terms check ((early_discount = 0) = (early_by is null));

-- The ledger's posting of an invoice's early-payment discount (ledger.ts,
-- postEarlyPaymentDiscount): one discount line under the key early:<invoice>, and
-- amount −= discount; at most once. The caller holds the invoice row locked and has
-- checked that the payment earns it. Answers the discount posted (0: nothing to post).
create function ledger_post_early_discount(p_school uuid, p_invoice uuid) returns bigint
language plpgsql as $$
declare
  v_discount bigint;
begin
  update invoices
     set amount = amount - early_discount, early_applied = true, updated_at = now()
   where school_id = p_school and id = p_invoice and cancelled_at is null
     and not early_applied and early_discount > 0 and early_discount <= amount - paid_amount
  returning early_discount into v_discount;
  if v_discount is null then
    return 0;
  end if;
  insert into invoice_lines (school_id, invoice_id, kind, code, description, amount, billing_key)
  values (p_school, p_invoice, 'discount', 'early_payment', 'Early payment discount', -v_discount, 'early:' || p_invoice);
  return v_discount;
end
$$;

-- Whether a payment of p_amount at p_paid_at earns the invoice's early discount: offered,
-- not taken, the school-local payment date by early_by, and the amount covering what is
-- open once the discount is taken.
create function early_discount_earned(p_invoice invoices, p_timezone text, p_paid_at timestamptz, p_amount bigint) returns boolean
language sql stable as $$
  select p_invoice.early_discount > 0 and not p_invoice.early_applied and p_invoice.cancelled_at is null
     and (p_paid_at at time zone p_timezone)::date <= p_invoice.early_by
     and p_amount >= p_invoice.amount - p_invoice.paid_amount - p_invoice.early_discount
     and p_invoice.early_discount <= p_invoice.amount - p_invoice.paid_amount
$$;

-- POST /families/:id/payments (0019's record_family_payment), now earning early-payment
-- discounts: an invoice the payment settles in full by its early_by day is allocated
-- its discounted amount, and its discount line is posted before the payment.
create or replace function record_family_payment(
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
  v_early uuid[] := '{}';
  v_need bigint;
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
  select f.id, f.school_id, s.currency, s.timezone, s.created_at as school_created_at
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
    select i.id, i.number, i.amount - i.paid_amount as open, i.touched_by_person_at is not null as touched, i as inv
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
    -- Pronto pago (0023): what is left pays this invoice in full once its early discount
    -- is taken, by its day: the discount is earned, and the invoice owes that much less.
    v_need := r.open;
    if early_discount_earned(r.inv, v_family.timezone, p_paid_at, v_left) then
      v_need := r.open - (r.inv).early_discount;
      v_early := v_early || r.id;
    end if;
    v_share := least(v_left, v_need);
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
  -- The earned early discounts, once every invoice this payment reaches is held.
  perform ledger_post_early_discount(v_family.school_id, e) from unnest(v_early) e;

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
