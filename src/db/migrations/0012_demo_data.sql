-- 0012_demo_data: the demo simulator acts only on demo data (SPEC §10 "never act on a
-- real school's data from a simulator"; issue 15).
--
-- Three facts decide whether the simulator (src/modules/simulator) may touch a row:
--   * the school is a demo school (schools.is_demo, set only by the demo seed),
--   * its simulated traffic is on (schools.simulator_enabled, PATCH /schools/:id),
--   * no one but the demo ever created or changed the invoice
--     (invoices.touched_by_person_at is null).
-- The simulator's queries filter on all three, and the billing service checks them
-- again under the invoice's row lock right before a simulated write.

-- is_demo is never writable through the API; simulator_enabled means something only
-- where is_demo (PATCH refuses it elsewhere). Both default so that every existing and
-- every API-created school is real data with the switch in its neutral position.
alter table schools
  add column is_demo boolean not null default false,
  add column simulator_enabled boolean not null default true;

-- When a person (or any writer other than the demo seed and the demo simulator) first
-- created or changed the invoice: set by the trigger below on every insert and update,
-- so every present and future write path (API create, PATCH, cancel, payment, refund,
-- bill runs, reconciliation, ...) marks it without having to remember to. Only a
-- transaction that declared itself the demo's (set_config('bursar.writer', 'demo',
-- true): the demo seed, and the billing service on the simulator's path after its
-- checks) leaves it null. Null on rows loaded by `npm run seed` (its COPY runs with
-- triggers off) is harmless: those schools are not demo schools.
alter table invoices add column touched_by_person_at timestamptz;

-- The demo's students and how each family pays (on time, late, partial, never): stable,
-- so every demo school keeps a realistic mix of open, partial and overdue bills. Only
-- students listed here get monthly bills from the simulator; a student a person adds
-- to a demo school is left alone.
create table demo_students (
  school_id  uuid not null,
  student_id uuid not null,
  behaviour  text not null check (behaviour in ('on_time', 'late', 'partial', 'never')),
  primary key (school_id, student_id),
  foreign key (school_id, student_id) references students (school_id, id)
);

-- One row per demo student and month billed (month = the first day of the due date's
-- month), written in the same transaction as the invoice: the business key that keeps
-- two simulators (several API processes) from issuing a month twice. The primary key
-- also answers "who is not billed for this month yet" by index.
create table demo_bills (
  school_id  uuid not null,
  student_id uuid not null,
  month      date not null check (extract(day from month) = 1),
  invoice_id uuid not null,
  primary key (school_id, student_id, month),
  foreign key (school_id, student_id) references students (school_id, id),
  foreign key (school_id, invoice_id) references invoices (school_id, id)
);

-- ---------------------------------------------------------------------------------
-- Databases whose demo was seeded before this migration. The demo seed wrote its
-- three schools and the app_meta marker in one transaction; a school is taken for
-- demo only with one of those names and created within ten minutes of the marker (a
-- production install never runs the demo seed, so it has no marker and nothing here
-- matches). Their invoices that a person created, changed, paid or refunded (audit
-- entries and payment/refund authors other than the simulator) are marked touched;
-- their students become demo students unless a person created them, with the seed's
-- mix of behaviours (BEHAVIOUR_CYCLE, src/modules/simulator/demo-plan.ts); their tuition
-- bills become the months already billed.
-- ---------------------------------------------------------------------------------
update schools s
   set is_demo = true
 where s.name in ('Colegio Miraflores', 'Instituto Andino', 'Lincoln Bilingual School')
   and s.deleted_at is null
   and exists (select 1 from app_meta m
                where m.key = 'demo_seeded_at' and jsonb_typeof(m.value) = 'string'
                  and abs(extract(epoch from s.created_at - (m.value #>> '{}')::timestamptz)) < 600);

update invoices i
   set touched_by_person_at = now()
  from schools s
 where s.id = i.school_id and s.is_demo
   and (exists (select 1 from audit_log a
                 where a.entity_type = 'invoice' and a.entity_id = i.id::text
                   and a.actor_username is distinct from 'simulator')
        or exists (select 1 from payments p left join users u on u.id = p.created_by
                    where p.invoice_id = i.id and p.created_by is not null and u.username is distinct from 'simulator')
        or exists (select 1 from refunds r left join users u on u.id = r.created_by
                    where r.invoice_id = i.id and r.created_by is not null and u.username is distinct from 'simulator'));

insert into demo_students (school_id, student_id, behaviour)
select st.school_id, st.id,
       (array['late', 'on_time', 'partial', 'on_time', 'never', 'on_time',
              'late', 'on_time', 'partial', 'on_time', 'late', 'never'])
         [1 + ((row_number() over (partition by st.school_id order by st.created_at, st.id) - 1) % 12)::int]
  from students st
  join schools s on s.id = st.school_id and s.is_demo
 where st.deleted_at is null
   and not exists (select 1 from audit_log a where a.entity_type = 'student' and a.entity_id = st.id::text);

insert into demo_bills (school_id, student_id, month, invoice_id)
select distinct on (i.school_id, i.student_id, date_trunc('month', i.due_date))
       i.school_id, i.student_id, date_trunc('month', i.due_date)::date, i.id
  from invoices i
  join demo_students d on d.school_id = i.school_id and d.student_id = i.student_id
 where i.touched_by_person_at is null and i.description like 'Tuition %'
 order by i.school_id, i.student_id, date_trunc('month', i.due_date), i.id;

-- ---------------------------------------------------------------------------------
-- The marking trigger. BEFORE, so the value is part of the row as written; the WHEN
-- clause skips the function (evaluated in C) once a row is marked, so writes to real
-- data pay one cheap comparison. Created after the backfill above, which sets the
-- column itself.
-- ---------------------------------------------------------------------------------
create function mark_invoice_touched_by_person() returns trigger
language plpgsql as $$
begin
  if coalesce(current_setting('bursar.writer', true), '') <> 'demo' then
    new.touched_by_person_at := now();
  end if;
  return new;
end
$$;

create trigger invoices_touched_by_person before insert or update on invoices
  for each row when (new.touched_by_person_at is null)
  execute function mark_invoice_touched_by_person();

-- The demo schools the simulator may act on: a handful of rows, found without reading
-- every school of a large install.
create index schools_demo_idx on schools (id) where is_demo and deleted_at is null;
