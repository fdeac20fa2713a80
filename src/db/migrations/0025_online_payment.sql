-- 0025_online_payment: paying online through a gateway (SPEC §8, issue 17 part 5).
--
--   checkout_sessions         a session Bursar opened at a gateway for an invoice or a family
--                             (POST /invoices/:id/checkout, /families/:id/checkout, a pay link)
--   gateway_payments          one row per gateway payment id and outcome: a webhook records
--                             its payment (or its failed attempt) exactly once, in the same
--                             transaction as the payment, however often the gateway retries
--   gateway_webhook_receipts  the signatures seen in the last minutes: a replayed request
--                             (the same signature again) is refused
--   gateway_sim_sessions,     the bundled gateway simulator's own store (it plays an outside
--   gateway_sim_events        service: its hosted checkout page and the webhooks it sends)
--
-- Tenant tables keep school_id first in their keys (docs/scale-out.md). The receipts and the
-- simulator's tables are not tenant data: they belong to the webhook endpoint and to the
-- stand-in gateway, like the vendor's account feed of migration 0001.

create table checkout_sessions (
  school_id           uuid not null references schools (id),
  id                  uuid not null default uuid_v7(),
  provider            text not null check (provider in ('simulator', 'stripe')),
  provider_session_id text not null check (length(provider_session_id) between 1 and 255),
  invoice_id          uuid,
  family_id           uuid,
  amount              bigint not null check (amount > 0),
  currency            char(3) not null,
  -- Who opened it: a staff user, a guardian in the portal, or a pay link (no user).
  via                 text not null check (via in ('staff', 'portal', 'pay_link')),
  created_by          uuid,
  status              text not null default 'open' check (status in ('open', 'paid', 'failed', 'unapplied')),
  url                 text not null check (length(url) <= 2000),
  expires_at          timestamptz not null,
  created_at          timestamptz not null default now(),
  primary key (school_id, id),
  constraint checkout_sessions_provider_unique unique (school_id, provider, provider_session_id),
  constraint checkout_sessions_one_target check ((invoice_id is null) <> (family_id is null)),
  foreign key (school_id, invoice_id) references invoices (school_id, id),
  foreign key (school_id, family_id) references families (school_id, id)
);
create index checkout_sessions_invoice_idx on checkout_sessions (school_id, invoice_id, created_at desc) where invoice_id is not null;
create index checkout_sessions_family_idx on checkout_sessions (school_id, family_id, created_at desc) where family_id is not null;

create table gateway_payments (
  school_id          uuid not null references schools (id),
  provider           text not null check (provider in ('simulator', 'stripe')),
  gateway_payment_id text not null check (length(gateway_payment_id) between 1 and 255),
  outcome            text not null check (outcome in ('succeeded', 'failed', 'unapplied')),
  checkout_id        uuid not null,
  event_id           text not null check (length(event_id) <= 255),
  amount             bigint not null check (amount > 0),
  -- What it became: a payment on the invoice, a family payment, or a failed transaction.
  payment_id         uuid,
  family_payment_id  uuid,
  transaction_id     uuid,
  created_at         timestamptz not null default now(),
  primary key (school_id, provider, gateway_payment_id, outcome),
  foreign key (school_id, checkout_id) references checkout_sessions (school_id, id)
);

create table gateway_webhook_receipts (
  provider    text not null,
  signature   bytea not null,
  received_at timestamptz not null default now(),
  primary key (provider, signature)
);
create index gateway_webhook_receipts_received_idx on gateway_webhook_receipts (received_at);

create table gateway_sim_sessions (
  id                  text primary key,
  merchant            text not null,
  description         text not null,
  amount              bigint not null check (amount > 0),
  currency            char(3) not null,
  language            text not null check (language in ('es', 'en')),
  client_reference_id text not null,
  metadata            jsonb not null,
  success_url         text not null,
  cancel_url          text not null,
  status              text not null default 'open' check (status in ('open', 'complete')),
  payment_id          text,
  expires_at          timestamptz not null,
  created_at          timestamptz not null default now()
);

create table gateway_sim_events (
  id              text primary key,
  session_id      text not null references gateway_sim_sessions (id),
  body            text not null,
  attempts        integer not null default 0,
  next_attempt_at timestamptz not null default now(),
  lease_until     timestamptz,
  delivered_at    timestamptz,
  last_error      text,
  created_at      timestamptz not null default now()
);
create index gateway_sim_events_due_idx on gateway_sim_events (next_attempt_at) where delivered_at is null;

-- The simulator's webhook signing secret: one per installation, like the pay-link key.
insert into app_meta (key, value)
values ('gateway_sim_secret', to_jsonb('whsec_sim_' || encode(sha256(convert_to(gen_random_uuid()::text || gen_random_uuid()::text, 'UTF8')), 'hex')))
on conflict (key) do nothing;
