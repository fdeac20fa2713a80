/**
 * The billing groups of `npm run bench` (issue 16, "Speed"): a bill run of every student
 * of the data set (`billrun`), family payments with 32 clients (`familypay`) and the
 * family statement (`familystatement`).
 *
 * They write (a fee plan per school, enrolments, hundreds of thousands of invoices), so
 * they run on a copy of the data set (`create database … template …`, dropped at the
 * end): every bench run starts from the same data and the other groups never see the
 * bills of an earlier run.
 *
 * Set-up, through the API as a bursar would do it: per school a NEW fee plan for the
 * academic year after every plan (and every invoice) of the data set, with 10 monthly
 * tuition instalments, a sibling discount rule (10 % from the second child), and every
 * active student enrolled in bulk (POST /fee-plans/:id/enrolments). Families come from
 * the data set (`npm run seed`); a data set without any (an older seed) gets them here
 * in one SQL statement per table — siblings of 3, 2 and 1 in turn, no guardians — so
 * that sibling discounts and family payments have something to work on.
 */
import { randomUUID } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import pg from 'pg';
import { formatReference } from '../src/modules/families/reference.js';

type Request = (method: string, url: string, headers?: Record<string, string>, body?: unknown) => Promise<{ status: number; body: string; ms: number }>;

export interface BillingContext {
  request: Request;
  /** The server's base URL (http://127.0.0.1:PORT), for requests that are not JSON. */
  base: string;
  /** An access token, fresh after `refresh()` (tokens expire: a phase at L takes minutes). */
  token: string;
  refresh: () => Promise<void>;
  db: pg.Client;
  log: (message: string) => void;
  /** Concurrent HTTP clients for set-up and runs (one per school at a time). */
  clients: number;
}

const round1 = (x: number) => Math.round(x * 10) / 10;

/** A copy of `source` (template; nobody may be connected to it), named `target`, replaced if it exists. */
export async function cloneDatabase(adminUrl: string, source: string, target: string): Promise<string> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`drop database if exists ${target} with (force)`);
    await client.query(`create database ${target} template ${source} strategy file_copy`);
  } finally {
    await client.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${target}`;
  return url.toString();
}

export async function dropDatabase(adminUrl: string, name: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`drop database if exists ${name} with (force)`);
  } finally {
    await client.end();
  }
}

/** Runs `work` over `items` with `n` concurrent workers. */
async function pool<T>(items: readonly T[], n: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) {
        const item = items[next++] as T;
        await work(item);
      }
    }),
  );
}

/** Families for a data set without any: per school, students in id order grouped 3, 2, 1, 3, 2, 1, … (no guardians). */
async function ensureFamilies(db: pg.Client, log: (message: string) => void): Promise<void> {
  const existing = Number((await db.query<{ n: string }>('select count(*) n from families')).rows[0]?.n ?? 0);
  if (existing > 0) {
    log(`billing set-up: ${existing} families in the data set`);
    return;
  }
  const maxPerSchool = Number((await db.query<{ n: string }>('select coalesce(max(n), 0) n from (select count(*) n from students group by school_id) x')).rows[0]?.n ?? 0);
  const families = Math.ceil(maxPerSchool / 2) + 1;
  const references = Array.from({ length: families }, (_, i) => formatReference('BEN', i + 1));
  const started = performance.now();
  await db.query('begin');
  await db.query(`
    create temporary table bench_members on commit drop as
    select s.school_id, s.id as student_id, s.last_name,
           ((s.rn - 1) / 6) * 3 + case when (s.rn - 1) % 6 < 3 then 1 when (s.rn - 1) % 6 < 5 then 2 else 3 end as family_no
      from (select school_id, id, last_name, row_number() over (partition by school_id order by id) as rn
              from students where deleted_at is null) s`);
  await db.query(`
    create temporary table bench_families on commit drop as
    select school_id, family_no, uuid_v7() as id, min(last_name) as name from bench_members group by school_id, family_no`);
  await db.query(
    `insert into families (school_id, id, name, reference)
     select f.school_id, f.id, 'Familia ' || f.name, ($1::text[])[f.family_no] from bench_families f order by f.school_id, f.id`,
    [references],
  );
  await db.query('create index on bench_members (school_id); create index on bench_families (school_id, family_no); analyze bench_members; analyze bench_families');
  await db.query(`insert into family_counters (school_id, last_number) select school_id, max(family_no) from bench_families group by school_id`);
  // One statement per school: the students' statement triggers (0003/0004) compare the
  // transition tables row by row, which one statement over every student would make quadratic.
  await db.query(`
    do $$
    declare school uuid;
    begin
      for school in select distinct school_id from bench_members order by 1 loop
        update students s set family_id = f.id
          from bench_members m join bench_families f on f.school_id = m.school_id and f.family_no = m.family_no
         where m.school_id = school and s.school_id = school and s.id = m.student_id;
      end loop;
    end
    $$`);
  await db.query('commit');
  await db.query('analyze families; analyze students');
  const made = Number((await db.query<{ n: string }>('select count(*) n from families')).rows[0]?.n ?? 0);
  log(`billing set-up: the data set has no families; made ${made} (3, 2, 1 siblings in turn) in ${round1((performance.now() - started) / 1000)} s`);
}

export interface BillingSetup {
  schools: string[];
  /** The run's `through`: the last day of the new academic year. */
  through: string;
  academicYear: string;
  enrolled: number;
  seconds: number;
}

/** Families if needed, then per school a new plan, a sibling rule and every student enrolled (API). */
export async function setUpBilling(ctx: BillingContext): Promise<BillingSetup> {
  const { db, request, log } = ctx;
  await ensureFamilies(db, log);
  await ctx.refresh();
  const { token } = ctx;
  // The year after everything in the data set: after the last plan's year and the last due date.
  const last = (await db.query<{ d: string }>(`select greatest((select max(year_end) from fee_plans), (select max(due_date) from invoices), current_date)::text d`)).rows[0]?.d ?? '';
  const lastDay = new Date(`${last}T00:00:00Z`);
  const startYear = lastDay.getUTCMonth() >= 7 ? lastDay.getUTCFullYear() + 1 : lastDay.getUTCFullYear();
  const yearStart = `${startYear}-08-01`;
  const yearEnd = `${startYear + 1}-07-31`;
  const academicYear = `${startYear}-${startYear + 1}`;
  const schools = (await db.query<{ id: string }>('select id from schools where deleted_at is null order by id')).rows.map((r) => r.id);
  const students = new Map<string, string[]>();
  for (const row of (await db.query<{ school_id: string; ids: string[] }>(`select school_id, array_agg(id order by id) ids from students where deleted_at is null and is_active group by school_id`)).rows) {
    students.set(row.school_id, row.ids);
  }
  const headers = { authorization: `Bearer ${token}` };
  const started = performance.now();
  let enrolled = 0;
  await pool(schools, ctx.clients, async (schoolId) => {
    const plan = await request('POST', '/api/v1/fee-plans', headers, {
      schoolId,
      name: `Bench ${academicYear}`,
      academicYear,
      yearStart,
      yearEnd,
      items: [{ code: 'TUITION', description: `Tuition ${academicYear}`, amount: 350_000, schedule: { kind: 'monthly', firstDue: `${startYear}-09-05`, count: 10 } }],
    });
    if (plan.status !== 201) {
      throw new Error(`POST /fee-plans → ${plan.status} ${plan.body.slice(0, 300)}`);
    }
    const planId = (JSON.parse(plan.body) as { id: string }).id;
    const rule = await request('POST', '/api/v1/discount-rules', headers, {
      schoolId,
      name: `Hermanos ${academicYear}`,
      kind: 'sibling',
      basis: 'percent',
      value: 10,
      fromSiblingNumber: 2,
      itemCodes: ['TUITION'],
      validFrom: yearStart,
      validTo: yearEnd,
    });
    if (rule.status !== 201) {
      throw new Error(`POST /discount-rules → ${rule.status} ${rule.body.slice(0, 300)}`);
    }
    const ids = students.get(schoolId) ?? [];
    if (ids.length > 0) {
      const bulk = await request('POST', `/api/v1/fee-plans/${planId}/enrolments`, headers, { studentIds: ids, from: yearStart });
      if (bulk.status !== 200 && bulk.status !== 201) {
        throw new Error(`POST /fee-plans/:id/enrolments → ${bulk.status} ${bulk.body.slice(0, 300)}`);
      }
      enrolled += (JSON.parse(bulk.body) as { enrolled: number }).enrolled;
    }
  });
  const seconds = round1((performance.now() - started) / 1000);
  log(`billing set-up: ${schools.length} plans (${academicYear}, 10 monthly instalments), sibling rules, ${enrolled} enrolments in ${seconds} s`);
  await db.query('analyze enrolments; analyze fee_plan_items; analyze discount_rules');
  return { schools, through: yearEnd, academicYear, enrolled, seconds };
}

interface RunAnswer {
  id: string | null;
  status: string;
  invoicesCreated: number;
  linesCreated: number;
  error: string | null;
  preview?: { invoices: number; lines: number };
}

export interface BillRunResult {
  schools: number;
  dryRun: { seconds: number; invoices: number; lines: number; invoicesPerSecond: number };
  run: { seconds: number; invoices: number; lines: number; invoicesPerSecond: number; inline: number; background: number };
}

/** The dry run of every school, then the real run of every school (POST /bill-runs; background runs polled to the end). */
export async function benchBillRuns(ctx: BillingContext, setup: BillingSetup): Promise<BillRunResult> {
  const { request, log } = ctx;
  await ctx.refresh();
  let headers = { authorization: `Bearer ${ctx.token}` };
  let dryInvoices = 0;
  let dryLines = 0;
  const dryStarted = performance.now();
  await pool(setup.schools, ctx.clients, async (schoolId) => {
    const dry = await request('POST', '/api/v1/bill-runs', headers, { schoolId, through: setup.through, dryRun: true });
    if (dry.status !== 200) {
      throw new Error(`dry run → ${dry.status} ${dry.body.slice(0, 300)}`);
    }
    const body = JSON.parse(dry.body) as RunAnswer;
    dryInvoices += body.preview?.invoices ?? 0;
    dryLines += body.preview?.lines ?? 0;
  });
  const drySeconds = (performance.now() - dryStarted) / 1000;
  log(`bill run, dry: ${dryInvoices} invoices, ${dryLines} lines in ${round1(drySeconds)} s`);

  await ctx.refresh();
  headers = { authorization: `Bearer ${ctx.token}` };
  let invoices = 0;
  let lines = 0;
  let inline = 0;
  const queued: string[] = [];
  const started = performance.now();
  await pool(setup.schools, ctx.clients, async (schoolId) => {
    const run = await request('POST', '/api/v1/bill-runs', headers, { schoolId, through: setup.through });
    const body = JSON.parse(run.body) as RunAnswer;
    if (run.status === 201) {
      inline++;
      invoices += body.invoicesCreated;
      lines += body.linesCreated;
    } else if (run.status === 202 && body.id) {
      queued.push(body.id);
    } else {
      throw new Error(`bill run → ${run.status} ${run.body.slice(0, 300)}`);
    }
  });
  // Background runs, polled until every one has finished: in the order they were queued
  // (the order the workers take them), one GET per poll while the oldest still runs, so
  // that polling a thousand runs does not take the CPU the runs need.
  await ctx.refresh();
  headers = { authorization: `Bearer ${ctx.token}` };
  for (const id of queued) {
    for (;;) {
      const got = await request('GET', `/api/v1/bill-runs/${id}`, headers);
      const body = JSON.parse(got.body) as RunAnswer;
      if (body.status === 'failed') {
        throw new Error(`bill run ${id} failed: ${body.error ?? ''}`);
      }
      if (body.status === 'finished') {
        invoices += body.invoicesCreated;
        lines += body.linesCreated;
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  const seconds = (performance.now() - started) / 1000;
  log(`bill run: ${invoices} invoices, ${lines} lines in ${round1(seconds)} s (${inline} in the request, ${queued.length} in the background)`);
  if (invoices !== dryInvoices || lines !== dryLines) {
    throw new Error(`the run billed ${invoices} invoices and ${lines} lines, the dry run announced ${dryInvoices} and ${dryLines}`);
  }
  return {
    schools: setup.schools.length,
    dryRun: { seconds: round1(drySeconds), invoices: dryInvoices, lines: dryLines, invoicesPerSecond: Math.round(dryInvoices / drySeconds) },
    run: { seconds: round1(seconds), invoices, lines, invoicesPerSecond: Math.round(invoices / seconds), inline, background: queued.length },
  };
}

/** The fields of a /proc/<pid>/stat line after the command's closing parenthesis: state, ppid, …, utime (12th), stime (13th), in clock ticks. */
const statFields = (stat: string) => stat.slice(stat.lastIndexOf(')') + 2).split(' ');

/** CPU time (ms, user + system) used so far by the server process and by the database: its postmaster and every process it started. */
async function cpuSplit(serverPid: number, postmasterPid: number): Promise<{ server: number; database: number }> {
  const split = { server: 0, database: 0 };
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) {
      continue;
    }
    const fields = statFields(await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => ''));
    // Clock ticks of 10 ms (Linux's USER_HZ).
    const ms = (Number(fields[11]) + Number(fields[12])) * 10;
    if (Number(entry) === serverPid) {
      split.server += ms;
    } else if (Number(entry) === postmasterPid || Number(fields[1]) === postmasterPid) {
      split.database += ms;
    }
  }
  return split;
}

export interface FamilyPayResult {
  clients: number;
  seconds: number;
  payments: number;
  perSecond: number;
  allocationsPerPayment: number;
  errors: number;
  /** CPU time per payment (ms): the database's processes, the server's, and this client's (Linux, with the server's pid). */
  cpuMsPerPayment?: { database: number; server: number; client: number };
}

/**
 * Family payments, 32 clients for 5 s: each pays one family (spread over every school)
 * exactly what its three oldest open invoices owe (the family's invoices as the
 * families module defines them: billed to the family, or to one of its students without
 * a family), so every payment is allocated across three invoices (a family paid twice
 * gets its next three, roughly).
 */
export async function benchFamilyPayments(ctx: BillingContext, options: { clients: number; seconds: number; serverPid?: number | undefined }): Promise<FamilyPayResult> {
  const { db, request, log } = ctx;
  await ctx.refresh();
  const { token } = ctx;
  const { rows: families } = await db.query<{ id: string; amount: string }>(`
    select f.id, sum(i.open) as amount
      from families f
      cross join lateral (select fi.amount - fi.paid_amount as open
                            from (select i.* from invoices i where i.school_id = f.school_id and i.family_id = f.id
                                  union all
                                  select i.* from students s join invoices i on i.school_id = s.school_id and i.student_id = s.id
                                   where s.school_id = f.school_id and s.family_id = f.id and i.family_id is null) fi
                           where fi.cancelled_at is null and fi.paid_amount < fi.amount
                           order by fi.due_date, fi.id limit 3) i
     where f.deleted_at is null
     group by f.id
    having count(*) = 3
     order by md5(f.id::text)
     limit 20000`);
  if (families.length === 0) {
    throw new Error('familypay: no family with three open invoices (run the billrun group first)');
  }
  const headers = { authorization: `Bearer ${token}` };
  let next = 0;
  let ok = 0;
  let errors = 0;
  let allocations = 0;
  // Whose CPU a payment takes: the database's backends are children of its postmaster.
  const backend = Number((await db.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]?.pid);
  const postmaster = await readFile(`/proc/${backend}/stat`, 'utf8').then((stat) => Number(statFields(stat)[1])).catch(() => undefined);
  const measured = options.serverPid !== undefined && postmaster !== undefined ? { serverPid: options.serverPid, postmaster } : undefined;
  const cpuBefore = measured && { ...(await cpuSplit(measured.serverPid, measured.postmaster)), client: process.cpuUsage() };
  const deadline = performance.now() + options.seconds * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: options.clients }, async () => {
      while (performance.now() < deadline) {
        const family = families[next++ % families.length];
        const response = await request('POST', `/api/v1/families/${family?.id}/payments`, { ...headers, 'idempotency-key': randomUUID() }, { amount: Number(family?.amount), method: 'bank_transfer' });
        if (response.status === 201) {
          ok++;
          allocations += (JSON.parse(response.body) as { allocations: unknown[] }).allocations.length;
        } else {
          errors++;
          if (errors <= 3) {
            log(`familypay: ${response.status} ${response.body.slice(0, 300)}`);
          }
        }
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const result: FamilyPayResult = { clients: options.clients, seconds: round1(seconds), payments: ok, perSecond: Math.round(ok / seconds), allocationsPerPayment: Math.round((allocations / Math.max(ok, 1)) * 100) / 100, errors };
  if (measured && cpuBefore && ok > 0) {
    const after = await cpuSplit(measured.serverPid, measured.postmaster);
    const client = process.cpuUsage(cpuBefore.client);
    const perPayment = (ms: number) => Math.round((ms / ok) * 100) / 100;
    result.cpuMsPerPayment = { database: perPayment(after.database - cpuBefore.database), server: perPayment(after.server - cpuBefore.server), client: perPayment((client.user + client.system) / 1000) };
  }
  log(`familypay: ${JSON.stringify(result)}`);
  return result;
}

export interface LateFeeRunResult {
  schools: number;
  /** Regular invoices open and past due on the day run (what the policy charges). */
  overdue: number;
  posted: number;
  /** Reminders written on the day (to the outbox: the bench server has no channel), and on the re-run (must be 0). */
  reminders: number;
  seconds: number;
  rerun: { posted: number; reminders: number; seconds: number };
  errors: number;
}

/**
 * The daily collections run of every school (issue 17, "Speed"): a late-fee policy per
 * school (daily interest, 0.1 % a day, no grace) and a reminder policy (e-mail on the
 * days the data set's open bills are due relative to today), then POST /collections/run for every
 * school's today with `ctx.clients` at once, timed; then the same day again, which must
 * post nothing.
 */
export async function benchLateFees(ctx: BillingContext): Promise<LateFeeRunResult> {
  const { db, request, log } = ctx;
  await ctx.refresh();
  const headers = { authorization: `Bearer ${ctx.token}` };
  const schools = (await db.query<{ id: string }>('select id from schools where deleted_at is null order by id')).rows.map((row) => row.id);
  let errors = 0;
  // Reminder steps on the days the data set's open bills fall due relative to today (its
  // tuition is due on one day of the month), so the day's run has reminders to send.
  const offsets = (
    await db.query<{ d: number }>(`select ((now() at time zone s.timezone)::date - i.due_date) as d
       from invoices i join schools s on s.id = i.school_id
      where i.kind = 'regular' and i.cancelled_at is null and i.paid_amount < i.amount
        and i.due_date between (now() at time zone s.timezone)::date - 60 and (now() at time zone s.timezone)::date + 7
      group by 1 order by count(*) desc limit 4`)
  ).rows.map((row) => Number(row.d)).sort((a, b) => a - b);
  const steps = offsets.map((offsetDays, i) => ({
    offsetDays,
    channel: 'email',
    template: offsetDays < 0 ? 'upcoming' : offsetDays === 0 ? 'due' : i === offsets.length - 1 && offsetDays > 14 ? 'final_notice' : 'overdue',
  }));
  log(`latefees: reminder steps ${JSON.stringify(steps.map((step) => step.offsetDays))}`);
  await pool(schools, ctx.clients, async (schoolId) => {
    const response = await request('PUT', `/api/v1/schools/${schoolId}/late-fee-policy`, headers, { kind: 'daily_interest', value: 0.1, graceDays: 0 });
    if (response.status !== 200) {
      throw new Error(`latefees: PUT policy → ${response.status} ${response.body.slice(0, 300)}`);
    }
    const reminders = await request('PUT', `/api/v1/schools/${schoolId}/reminder-policy`, headers, { steps });
    if (reminders.status !== 200) {
      throw new Error(`latefees: PUT reminder policy → ${reminders.status} ${reminders.body.slice(0, 300)}`);
    }
  });
  const overdue = Number(
    (await db.query<{ n: string }>(`select count(*) n from invoices i join schools s on s.id = i.school_id
       where i.kind = 'regular' and i.cancelled_at is null and i.paid_amount < i.amount and i.due_date < (now() at time zone s.timezone)::date`)).rows[0]?.n ?? 0,
  );
  const runAll = async () => {
    let posted = 0;
    let reminders = 0;
    const started = performance.now();
    await pool(schools, ctx.clients, async (schoolId) => {
      const response = await request('POST', '/api/v1/collections/run', headers, { schoolId });
      if (response.status === 200) {
        const day = JSON.parse(response.body) as { lateFeesPosted: number; remindersSent: number };
        posted += day.lateFeesPosted;
        reminders += day.remindersSent;
      } else if (++errors <= 3) {
        log(`latefees: ${response.status} ${response.body.slice(0, 300)}`);
      }
    });
    return { posted, reminders, seconds: round1((performance.now() - started) / 1000) };
  };
  const first = await runAll();
  const rerun = await runAll();
  const result = { schools: schools.length, overdue, posted: first.posted, reminders: first.reminders, seconds: first.seconds, rerun, errors };
  log(`latefees: ${JSON.stringify(result)}`);
  return result;
}

/** A family with three children (the most invoices of those), for the statement's latency. */
export async function familyOfThree(db: pg.Client): Promise<{ id: string; students: number; invoices: number }> {
  const { rows } = await db.query<{ id: string; students: number; invoices: number }>(`
    select f.id, count(distinct s.id)::int as students, count(i.id)::int as invoices
      from families f
      join students s on s.school_id = f.school_id and s.family_id = f.id and s.deleted_at is null
      left join invoices i on i.school_id = s.school_id and i.student_id = s.id
     where f.deleted_at is null
     group by f.id
    having count(distinct s.id) = 3
     order by count(i.id) desc, f.id
     limit 1`);
  const row = rows[0];
  if (row === undefined) {
    throw new Error('familystatement: no family with three children');
  }
  return row;
}
