-- 0024_guardian_users: the `guardian` role and invitations (SPEC §8, issue 17 part 3).
--
-- A guardian user is linked to exactly one guardian (and through it to one family and
-- one school); it sees only that family, through the portal routes (src/modules/portal),
-- and every staff route refuses it (the role has none of their permissions).
-- An invitation is a one-time, expiring token to set a password, sent to the guardian's
-- e-mail through the messages table (so with no SMTP configured it waits in the outbox).
-- Only the token's SHA-256 is stored.

alter table users drop constraint users_role_check;
alter table users add constraint users_role_check
  check (role in ('super_admin', 'school_admin', 'finance_analyst', 'developer', 'guardian'));

-- No foreign key into guardians: `users` is a global table (docs/scale-out.md: it stays on
-- the coordinator) and guardians a distributed one, which Citus does not allow. The link
-- is checked when the user is made (users.service, the invitation), and a guardian user
-- whose guardian is gone or deleted resolves to no family at all (auth.repository).
alter table users
  add column guardian_school_id uuid,
  add column guardian_id uuid,
  add constraint users_guardian_role check ((role = 'guardian') = (guardian_id is not null) and (guardian_id is null) = (guardian_school_id is null));
-- One user per guardian.
create unique index users_guardian_idx on users (guardian_school_id, guardian_id) where guardian_id is not null;

create table guardian_invitations (
  school_id   uuid not null,
  id          uuid not null default uuid_v7(),
  guardian_id uuid not null,
  token_hash  bytea not null,
  expires_at  timestamptz not null,
  accepted_at timestamptz,
  user_id     uuid references users (id),
  created_by  uuid,
  created_at  timestamptz not null default now(),
  primary key (school_id, id),
  foreign key (school_id, guardian_id) references guardians (school_id, id)
);
-- Looked up by token alone (the accept link names no school): a plain index, as Citus
-- allows on a distributed table; a random 256-bit token does not collide.
create index guardian_invitations_token_idx on guardian_invitations (token_hash);
create index guardian_invitations_guardian_idx on guardian_invitations (school_id, guardian_id, created_at desc);

-- Messages: invitations too (their dedupe_key is invitation:<invitation id>).
alter table messages drop constraint messages_kind_check;
alter table messages add constraint messages_kind_check check (kind in ('reminder', 'invitation'));
