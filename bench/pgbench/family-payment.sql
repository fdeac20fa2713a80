-- One family payment as POST /families/:id/payments makes it, without HTTP: a call of
-- record_family_payment() for a family of bench_family_payments (made by
-- family-payment.sh) with a fresh Idempotency-Key, paying what its three oldest open
-- invoices owed when the table was made.
\set n random(1, :families)
select record_family_payment(:user_id::uuid, 'pgbench', 'pgbench', md5(random()::text), '/api/v1/families/pgbench/payments', '\x00'::bytea,
                             null, f.id, f.amount, 'bank_transfer', null, now(), false, null, false, interval '400 days')
  from bench_family_payments f where f.n = :n;
