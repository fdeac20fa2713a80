-- 0031_payment_in_one_call: a payment on one invoice in one round trip (issue 19 part 3).
--
-- Measured (bench `reconciliation`, data set S, statement logging on): a payment made
-- eleven statements in its transaction (begin, idempotency claim, the invoice lock, the
-- payment with its transaction, the invoice with its receipt, the webhook probe, audit,
-- stored response, commit), each parsed and planned again: about 5 ms of PostgreSQL
-- and 3 ms of the API's one JavaScript thread per payment. Here, as 0019 did for family
-- payments, the whole payment is one function call, whose plans PL/pgSQL keeps per
-- connection, with the same locks in the same order and the same rules:
--
--   ledger_post_payment()  the ledger's posting of a payment on one invoice (the TS
--                          postPayment is a call of it): the payment and its succeeded
--                          transaction, then paid_amount += amount and the school's next
--                          receipt. The caller holds the invoice row locked.
--   record_payment()       POST /payments: claim or replay the Idempotency-Key, lock the
--                          invoice, the simulator's admission, the checks (cancelled, the
--                          paidAt window, pronto pago, overpayment), the posting, audit,
--                          the stored response — and whether any webhook endpoint listens
--                          to payment events (the service then writes them, in the same
--                          transaction).
--
-- Errors the service turns into problem+json (SQLSTATE, class BF): BF404 invoice not
-- visible, BFDEM the demo simulator may not pay it, BFCAN the invoice is cancelled, BF409
-- paidAt before the school's window (detail: the first day allowed), BFOVR more than is
-- open (detail: what is open), BFKEY Idempotency-Key reused.

-- An instant as the API writes it (Date.toISOString: UTC, milliseconds).
create function api_instant(p timestamptz) returns text
language sql immutable as $$
  select to_char(p at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
$$;

create function ledger_post_payment(
  p_school uuid, p_invoice uuid, p_amount bigint, p_method text, p_reference text, p_paid_at timestamptz, p_created_by uuid
) returns jsonb
language plpgsql as $$
declare
  v_payment record;
  v_posted jsonb;
begin
  if p_amount is null or p_amount <= 0 then
    raise exception 'ledger: payment amount must be a positive integer of minor units, got %', p_amount;
  end if;
  -- The money rows first (their statement triggers take the school's billing_versions
  -- row), then the invoice, the receipt counter last: the order of every writer (0019).
  with payment as (
    insert into payments (school_id, invoice_id, amount, method, reference, paid_at, created_by)
    values (p_school, p_invoice, p_amount, p_method, p_reference, p_paid_at, p_created_by)
    returning id, school_id, invoice_id, amount, method, paid_at, created_at
  ),
  gateway as (
    insert into transactions (school_id, invoice_id, payment_id, amount, method, status)
    select school_id, invoice_id, id, amount, method, 'succeeded' from payment
  )
  select id, paid_at, created_at into v_payment from payment;

  with inv as (
    update invoices
       set paid_amount = invoices.paid_amount + p_amount, updated_at = now()
      from schools
     where schools.id = invoices.school_id and invoices.school_id = p_school and invoices.id = p_invoice
    returning invoices.id, invoice_status(invoices.amount, invoices.paid_amount, invoices.due_date, invoices.cancelled_at, schools.timezone) as status,
              invoices.amount, invoices.paid_amount, invoices.credited_amount
  ),
  counter as (
    insert into receipt_counters as c (school_id, last_number) values (p_school, 1)
    on conflict (school_id) do update set last_number = c.last_number + 1
    returning last_number
  ),
  receipt as (
    insert into receipts (school_id, seq, number, payment_id, family_payment_id)
    select p_school, counter.last_number, receipt_number(s.name, s.timezone, v_payment.paid_at, counter.last_number), v_payment.id, null
      from counter, schools s
     where s.id = p_school
    returning number
  )
  select jsonb_build_object(
           'id', v_payment.id, 'paidAt', api_instant(v_payment.paid_at), 'createdAt', api_instant(v_payment.created_at),
           'receiptNumber', receipt.number,
           'invoice', jsonb_build_object('id', inv.id, 'status', inv.status, 'amount', inv.amount, 'paidAmount', inv.paid_amount,
                                         'creditedAmount', inv.credited_amount, 'pendingAmount', inv.amount - inv.paid_amount))
    into v_posted
    from inv, receipt;
  if v_posted is null then
    raise exception 'ledger: invoice % not found in school %', p_invoice, p_school;
  end if;
  return v_posted;
end
$$;

-- POST /payments in one call (src/modules/billing/billing.service.ts checks the body and
-- presents the answer). p_schools null: every school (the caller's scope). Answers
-- {replayed, status, body, subscribed}; body is the stored answer (raw: the service
-- masks it for the caller, on a replay too).
create function record_payment(
  p_user uuid, p_username text, p_request_id text,
  p_key text, p_path text, p_hash bytea,
  p_schools uuid[], p_invoice uuid,
  p_amount bigint, p_method text, p_reference text, p_paid_at timestamptz, p_paid_at_given boolean,
  p_demo boolean, p_before_registration interval
) returns jsonb
language plpgsql as $$
declare
  v_previous record;
  v_inv record;
  v_early bigint := 0;
  v_posted jsonb;
  v_body jsonb;
begin
  if p_key is not null and not coalesce(idempotency_claim(p_user, p_key, 'POST', p_path, p_hash), false) then
    select request_hash, response_status, response_body into v_previous
      from idempotency_keys where user_id = p_user and key = p_key;
    if v_previous.request_hash <> p_hash or v_previous.response_status is null then
      raise exception 'this Idempotency-Key was already used for a different request' using errcode = 'BFKEY';
    end if;
    return jsonb_build_object('replayed', true, 'status', v_previous.response_status, 'body', v_previous.response_body, 'subscribed', false);
  end if;

  -- The invoice row: every money movement on it serialises here.
  select i as inv, s.currency, s.timezone, s.created_at as school_created_at
    into v_inv
    from invoices i join schools s on s.id = i.school_id
   where i.id = p_invoice and s.deleted_at is null
     and (p_schools is null or i.school_id = any (p_schools))
     for update of i;
  if not found then
    raise exception 'invoice not found' using errcode = 'BF404';
  end if;
  if p_demo then
    perform 1 from schools s
      where s.id = (v_inv.inv).school_id and s.is_demo and s.simulator_enabled and s.is_active and s.deleted_at is null
        for share of s;
    if not found or (v_inv.inv).touched_by_person_at is not null then
      raise exception 'the demo simulator acts only on demo schools with simulated traffic on, never on an invoice a person created or changed'
        using errcode = 'BFDEM';
    end if;
    perform set_config('bursar.writer', 'demo', true);
  end if;
  if (v_inv.inv).cancelled_at is not null then
    raise exception 'the invoice is cancelled and takes no payments' using errcode = 'BFCAN';
  end if;
  if p_paid_at_given and p_paid_at < v_inv.school_created_at - p_before_registration then
    raise exception 'paidAt is too early' using errcode = 'BF409',
      detail = to_char((v_inv.school_created_at - p_before_registration) at time zone 'UTC', 'YYYY-MM-DD');
  end if;
  -- Pronto pago (0023): paying exactly what is open minus the early discount, by its day, earns it first.
  if early_discount_earned(v_inv.inv, v_inv.timezone, p_paid_at, p_amount)
     and p_amount <= (v_inv.inv).amount - (v_inv.inv).paid_amount - (v_inv.inv).early_discount then
    v_early := ledger_post_early_discount((v_inv.inv).school_id, p_invoice);
  end if;
  if p_amount > (v_inv.inv).amount - (v_inv.inv).paid_amount - v_early then
    raise exception 'amount exceeds what is open' using errcode = 'BFOVR', detail = ((v_inv.inv).amount - (v_inv.inv).paid_amount)::text;
  end if;

  v_posted := ledger_post_payment((v_inv.inv).school_id, p_invoice, p_amount, p_method, p_reference, p_paid_at, p_user);

  insert into audit_log (actor_user_id, actor_username, request_id, action, entity_type, entity_id, school_id, changes)
  values (p_user, p_username, p_request_id, 'payment.create', 'payment', (v_posted ->> 'id')::uuid, (v_inv.inv).school_id,
          jsonb_build_object('invoiceId', p_invoice, 'amount', p_amount, 'method', p_method)
            || case when v_early > 0 then jsonb_build_object('earlyPaymentDiscount', v_early) else '{}'::jsonb end);

  v_body := jsonb_build_object(
    'id', v_posted -> 'id', 'invoiceId', p_invoice, 'schoolId', (v_inv.inv).school_id, 'studentId', (v_inv.inv).student_id,
    'amount', p_amount, 'refundedAmount', 0, 'currency', v_inv.currency, 'method', p_method, 'reference', p_reference,
    'paidAt', v_posted -> 'paidAt', 'createdAt', v_posted -> 'createdAt', 'receiptNumber', v_posted -> 'receiptNumber',
    'invoice', jsonb_build_object(
      'id', p_invoice, 'status', v_posted -> 'invoice' -> 'status',
      'paidAmount', (v_posted -> 'invoice' ->> 'paidAmount')::bigint - (v_posted -> 'invoice' ->> 'creditedAmount')::bigint,
      'pendingAmount', v_posted -> 'invoice' -> 'pendingAmount'));
  if p_key is not null then
    update idempotency_keys set response_status = 201, response_body = v_body where user_id = p_user and key = p_key;
  end if;
  return jsonb_build_object('replayed', false, 'status', 201, 'body', v_body,
    'subscribed', exists (select 1 from webhook_endpoints e
                           where e.deleted_at is null and e.enabled and e.events && array['payment.succeeded', 'invoice.paid']));
end
$$;
