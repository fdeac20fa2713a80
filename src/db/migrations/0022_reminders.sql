-- 0022_reminders: payment reminders (dunning), the messages they become, the outbox,
-- and the key that signs pay links (SPEC §8, issue 17 part 2).
--
-- A school's reminder policy is a list of steps relative to an invoice's due date
-- (negative = before). The daily collections run writes one `messages` row per step,
-- invoice and guardian, in its own transaction; the row's dedupe_key makes that
-- exactly-once under re-runs and concurrent runs (insert ... on conflict do nothing).
-- A message is then either `outbox` (its channel is not configured: it stays here for a
-- person to read and send, nothing is lost) or `queued` for the delivery worker
-- (src/modules/messages/delivery.ts), which claims due rows with a lease, sends them
-- through the channel's adapter and records sent / bounced, or retries with backoff
-- (next_attempt_at) until it gives up and marks the message failed.

create table reminder_policies (
  school_id  uuid not null references schools (id),
  -- [{offsetDays, channel: email|sms|whatsapp, template: upcoming|due|overdue|final_notice}]
  steps      jsonb not null check (jsonb_typeof(steps) = 'array' and jsonb_array_length(steps) <= 20),
  enabled    boolean not null default true,
  updated_at timestamptz not null default now(),
  updated_by uuid,
  primary key (school_id)
);

create table messages (
  school_id           uuid not null references schools (id),
  id                  uuid not null default uuid_v7(),
  kind                text not null check (kind in ('reminder')),
  -- What makes it once: reminder:<invoice>:<guardian>:<offsetDays>:<channel>.
  dedupe_key          text not null,
  family_id           uuid,
  guardian_id         uuid,
  invoice_id          uuid,
  template            text check (template in ('upcoming', 'due', 'overdue', 'final_notice')),
  -- The collections day that wrote it.
  day                 date,
  channel             text not null check (channel in ('email', 'sms', 'whatsapp')),
  language            text not null check (language in ('es', 'en')),
  recipient           text not null check (length(recipient) between 1 and 254),
  status              text not null check (status in ('queued', 'sent', 'failed', 'bounced', 'outbox')),
  subject             text,
  body                text not null,
  attempts            integer not null default 0,
  next_attempt_at     timestamptz,
  lease_until         timestamptz,
  last_error          text,
  provider_message_id text,
  sent_at             timestamptz,
  created_at          timestamptz not null default now(),
  updated_at          timestamptz not null default now(),
  primary key (school_id, id),
  constraint messages_dedupe_unique unique (school_id, dedupe_key),
  foreign key (school_id, family_id) references families (school_id, id),
  foreign key (school_id, guardian_id) references guardians (school_id, id),
  foreign key (school_id, invoice_id) references invoices (school_id, id),
  check (status <> 'queued' or next_attempt_at is not null)
);
create index messages_id_idx on messages (id);
create index messages_family_idx on messages (school_id, family_id, id desc) where family_id is not null;
create index messages_invoice_idx on messages (school_id, invoice_id, id desc) where invoice_id is not null;
create index messages_outbox_idx on messages (school_id, id desc) where status = 'outbox';
-- The outbox of every school a super_admin or finance_analyst sees, newest first.
create index messages_outbox_all_idx on messages (id desc) where status = 'outbox';
-- The delivery worker's queue: what is due to be (re)tried.
create index messages_due_idx on messages (next_attempt_at) where status = 'queued';

-- The key pay links are signed with (src/modules/paylinks): one per installation, in the
-- database so every API and worker process signs and checks alike. gen_random_uuid() is
-- drawn from a cryptographic source.
insert into app_meta (key, value)
values ('pay_link_key', to_jsonb(encode(sha256(convert_to(gen_random_uuid()::text || gen_random_uuid()::text || gen_random_uuid()::text, 'UTF8')), 'hex')))
on conflict (key) do nothing;
