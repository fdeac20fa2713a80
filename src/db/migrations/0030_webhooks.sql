-- 0030_webhooks: outbound webhooks (SPEC §9, issue 18 part 1).
--
-- A webhook endpoint belongs to the user who made it (its owner) and, optionally, to a
-- list of schools (`school_ids`; null: every school the owner may see). It is platform
-- configuration, not a school's row, so it has no school_id of its own; what it may
-- receive is decided per event at fan-out (src/modules/webhooks/webhooks.outbox.ts), in
-- SQL, from the owner's role and assigned schools.
--
-- The transactional outbox: a change that has subscribers writes one `webhook_events`
-- row (an event belongs to exactly one school) and one `webhook_deliveries` row per
-- subscribed endpoint, in the change's own transaction; a rollback takes them back, a
-- commit keeps them for the delivery worker. A change with no subscribed endpoint
-- writes nothing (one probe of this small table per posting, never a row per invoice).
--
-- The delivery worker claims due deliveries with `for update skip locked` and a lease,
-- never one whose endpoint still has an earlier pending delivery for the same object
-- (in order per object: `event_seq`), and records every attempt in
-- `webhook_attempts`. The event id is the Standard Webhooks `webhook-id`, the same on
-- every retry and replay.

create table webhook_endpoints (
  id               uuid primary key default uuid_v7(),
  owner_id         uuid not null references users (id),
  url              text not null check (length(url) between 8 and 2048),
  description      text check (length(description) <= 500),
  events           text[] not null check (cardinality(events) between 1 and 20),
  -- null: every school the owner may see; else only these (and only those the owner may see).
  school_ids       uuid[] check (school_ids is null or cardinality(school_ids) between 1 and 500),
  -- Standard Webhooks secret: whsec_ + base64 of 32 random bytes. Shown once at creation and rotation.
  secret           text not null check (secret ~ '^whsec_[A-Za-z0-9+/=]{20,200}$'),
  enabled          boolean not null default true,
  disabled_reason  text,
  disabled_at      timestamptz,
  created_at       timestamptz not null default now(),
  updated_at       timestamptz not null default now(),
  deleted_at       timestamptz
);
create index webhook_endpoints_owner_idx on webhook_endpoints (owner_id, id desc) where deleted_at is null;

-- One row per event that had at least one subscribed endpoint when it was written.
create table webhook_events (
  school_id   uuid not null references schools (id),
  id          uuid not null default uuid_v7(),
  -- Commit order within an object: the object's row lock serialises its writers.
  seq         bigint generated always as identity,
  type        text not null check (type in ('invoice.created', 'invoice.paid', 'invoice.overdue', 'payment.succeeded', 'payment.failed',
                                              'refund.created', 'credit_note.created', 'reminder.sent', 'bill_run.finished', 'endpoint.test')),
  -- The object the event is about (data.id): deliveries of one object go out in order.
  object_id   text not null,
  -- The object as the API shows it to a role that sees every field; masked per owner at delivery.
  data        jsonb not null,
  occurred_at timestamptz not null default now(),
  primary key (school_id, id)
);

create table webhook_deliveries (
  school_id        uuid not null,
  id               uuid not null default uuid_v7(),
  event_id         uuid not null,
  event_seq        bigint not null,
  endpoint_id      uuid not null references webhook_endpoints (id),
  object_id        text not null,
  -- pending: to (re)try; succeeded: a 2xx came back; failed: given up after 3 days (replay sets pending again).
  status           text not null default 'pending' check (status in ('pending', 'succeeded', 'failed')),
  attempts         integer not null default 0,
  next_attempt_at  timestamptz not null default now(),
  lease_until      timestamptz,
  -- The retry window starts here (the first attempt, or the replay).
  first_attempt_at timestamptz,
  last_status_code integer,
  last_error       text,
  last_latency_ms  integer,
  delivered_at     timestamptz,
  created_at       timestamptz not null default now(),
  updated_at       timestamptz not null default now(),
  primary key (school_id, id),
  foreign key (school_id, event_id) references webhook_events (school_id, id)
);
create unique index webhook_deliveries_event_endpoint_idx on webhook_deliveries (school_id, event_id, endpoint_id);
-- The worker's queue: what is due.
create index webhook_deliveries_due_idx on webhook_deliveries (next_attempt_at) where status = 'pending';
-- "Is an earlier delivery of this object still pending for this endpoint?"
create index webhook_deliveries_order_idx on webhook_deliveries (endpoint_id, object_id, event_seq) where status = 'pending';
-- An endpoint's delivery log, newest first.
create index webhook_deliveries_endpoint_idx on webhook_deliveries (endpoint_id, id desc);
create index webhook_deliveries_id_idx on webhook_deliveries (id);

-- Every attempt: what was sent, what came back, how long it took.
create table webhook_attempts (
  school_id      uuid not null,
  id             uuid not null default uuid_v7(),
  delivery_id    uuid not null,
  attempt        integer not null check (attempt >= 1),
  webhook_id     text not null,
  request_body   text not null,
  response_code  integer,
  latency_ms     integer not null check (latency_ms >= 0),
  error          text,
  attempted_at   timestamptz not null,
  primary key (school_id, id),
  foreign key (school_id, delivery_id) references webhook_deliveries (school_id, id)
);
create index webhook_attempts_delivery_idx on webhook_attempts (school_id, delivery_id, attempt);

-- An invoice as GET /invoices shows it (list form): the `data` of invoice.* events.
create function webhook_invoice_json(i invoices, s schools) returns jsonb
language sql stable as $$
  select jsonb_build_object(
    'id', i.id, 'schoolId', i.school_id, 'studentId', i.student_id, 'familyId', i.family_id,
    'payerGuardianId', i.payer_guardian_id, 'kind', i.kind, 'relatedInvoiceId', i.related_invoice_id,
    'number', i.number, 'description', i.description, 'amount', i.amount,
    'paidAmount', i.paid_amount - i.credited_amount, 'creditedAmount', i.credited_amount,
    'pendingAmount', i.amount - i.paid_amount, 'currency', s.currency,
    'status', invoice_status(i.amount, i.paid_amount, i.due_date, i.cancelled_at, s.timezone),
    'dueDate', to_char(i.due_date, 'YYYY-MM-DD'),
    'createdAt', to_char(i.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
    'updatedAt', to_char(i.updated_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
    'cancelledAt', case when i.cancelled_at is not null then to_char(i.cancelled_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') end)
$$;

-- An endpoint's owner is told when it is disabled: a message in the outbox.
alter table messages drop constraint messages_kind_check;
alter table messages add constraint messages_kind_check check (kind in ('reminder', 'invitation', 'webhook_disabled'));

-- invoice.overdue is published once per invoice (the daily collections run looks here first).
create index webhook_events_object_idx on webhook_events (school_id, type, object_id);
