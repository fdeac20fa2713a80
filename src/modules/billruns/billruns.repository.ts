import { sql } from 'kysely';
import type { EarlyPaymentTerms } from '../../db/types.js';
import type { DbOrTx } from '../../db/database.js';
import type { BillRunStatus, SchoolLanguage } from '../../db/types.js';
import { inScope, type Scope } from '../../shared/scope.js';
import { dueDatesOf } from '../feeplans/schedule.js';
import type { ItemTotal } from './assemble.js';
import { publishObject } from '../webhooks/webhooks.outbox.js';

/**
 * The SQL of bill runs (SPEC §7). A run reads a school's fee plan items once (a few
 * rows), expands their schedules to due dates in TypeScript (dueDatesOf), and hands
 * them to PostgreSQL as arrays; every instalment of every enrolment is then found by
 * one set-based query per batch of billing units, joined to the enrolments and
 * anti-joined to the charge lines already billed.
 */

/** Advisory lock classes: a school's bill-run batches (transaction lock) and a running background run (session lock). */
export const SCHOOL_LOCK_CLASS = 0x42_49_4c_4c; // "BILL"
export const RUN_LOCK_CLASS = 0x42_52_55_4e; // "BRUN"

/**
 * The `batch` CTE: the billable students (active, not deleted) of a batch's billing
 * units: the students of its families (students_family_idx) and its students without a
 * family (primary key), each an index probe per unit whatever the statistics say.
 */
const batchStudents = (schoolId: string, units: readonly string[]) => sql`batch as materialized (
    select s.id, s.family_id, s.created_at from students s
     where s.school_id = ${schoolId} and s.family_id = any(${units}::uuid[]) and s.deleted_at is null and s.is_active
    union all
    select s.id, s.family_id, s.created_at from students s
     where s.id = any(${units}::uuid[]) and s.school_id = ${schoolId} and s.family_id is null and s.deleted_at is null and s.is_active)`;

const FIRST_UNIT = '00000000-0000-0000-0000-000000000000';

/** The instalments of a school's plans due on or before `through`, as parallel arrays (unnest in SQL). */
export interface DueArrays {
  feePlanIds: string[];
  itemCodes: string[];
  descriptions: string[];
  positions: number[];
  dueDates: string[];
  amounts: number[];
  optional: boolean[];
  /** Early-payment terms of each: the item's, else its plan's, else null. */
  early: (EarlyPaymentTerms | null)[];
}

export interface SchoolForRun {
  id: string;
  currency: string;
  /** The invoices' descriptions name their month in it. */
  language: SchoolLanguage;
}

export interface BillRunRow {
  id: string;
  schoolId: string;
  through: string;
  dryRun: boolean;
  status: BillRunStatus;
  invoicesCreated: number;
  linesCreated: number;
  skipped: number;
  done: number;
  total: number | null;
  totals: ItemTotal[] | null;
  error: string | null;
  requestedBy: string | null;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
}


const runColumns = [
  'id',
  'school_id as schoolId',
  'through',
  'dry_run as dryRun',
  'status',
  'invoices_created as invoicesCreated',
  'lines_created as linesCreated',
  'skipped',
  'done',
  'total',
  'totals',
  'error',
  'requested_by as requestedBy',
  'created_at as createdAt',
  'started_at as startedAt',
  'finished_at as finishedAt',
] as const;

const toRow = (row: Omit<BillRunRow, 'totals'> & { totals: unknown }): BillRunRow => ({ ...row, totals: (row.totals as ItemTotal[] | null) ?? null });

/** The `inst` CTE: the due instalments of the school's plans (index into DueArrays, plan, item, due date, optional). */
const instCte = (due: DueArrays) => sql`inst (idx, fee_plan_id, item_code, due_date, optional) as (
    select * from unnest(${due.feePlanIds.map((_, k) => k)}::int[], ${due.feePlanIds}::uuid[], ${due.itemCodes}::text[],
                         ${due.dueDates}::date[], ${due.optional}::boolean[]))`;

/** Enrolment e is billed for instalment i: inside [from, to] and the item mandatory or chosen. */
const enrolmentCovers = sql<boolean>`(i.due_date >= e.from_date and (e.to_date is null or i.due_date <= e.to_date)
    and (not i.optional or i.item_code = any(e.optional_items)))`;

/** A batch's enrolments, one row each, with the due instalments not billed yet (indexes into DueArrays) and how many are billed. */
export interface EnrolmentDue {
  enrolmentId: string;
  studentId: string;
  familyId: string | null;
  due: number[];
  billed: number;
}

export function createBillRunsRepository() {
  return {
    async findSchool(db: DbOrTx, scope: Scope, id: string): Promise<SchoolForRun | undefined> {
      return db
        .selectFrom('schools')
        .select(['id', 'currency', 'language'])
        .where('id', '=', id)
        .where('deleted_at', 'is', null)
        .where((eb) => inScope(eb, 'schools.id', scope))
        .executeTakeFirst();
    },

    /** The school's plan items with their due dates up to `through`, as arrays. */
    async dueArrays(db: DbOrTx, schoolId: string, through: string): Promise<DueArrays> {
      const items = await db
        .selectFrom('fee_plan_items')
        .innerJoin('fee_plans', (join) => join.onRef('fee_plans.school_id', '=', 'fee_plan_items.school_id').onRef('fee_plans.id', '=', 'fee_plan_items.fee_plan_id'))
        .select([
          'fee_plan_items.fee_plan_id',
          'fee_plan_items.code',
          'fee_plan_items.description',
          'fee_plan_items.position',
          'fee_plan_items.amount',
          'fee_plan_items.optional',
          'fee_plan_items.schedule',
          sql<EarlyPaymentTerms | null>`coalesce(fee_plan_items.early_payment, fee_plans.early_payment)`.as('early'),
        ])
        .where('fee_plan_items.school_id', '=', schoolId)
        .execute();
      const due: DueArrays = { feePlanIds: [], itemCodes: [], descriptions: [], positions: [], dueDates: [], amounts: [], optional: [], early: [] };
      for (const item of items) {
        for (const date of dueDatesOf(item.schedule)) {
          if (date <= through) {
            due.feePlanIds.push(item.fee_plan_id);
            due.itemCodes.push(item.code);
            due.descriptions.push(item.description);
            due.positions.push(item.position);
            due.dueDates.push(date);
            due.amounts.push(item.amount);
            due.optional.push(item.optional);
            due.early.push(item.early);
          }
        }
      }
      return due;
    },

    /** Billing units of the school (families, and students without one): the total of a run's progress. */
    async countUnits(db: DbOrTx, schoolId: string): Promise<number> {
      const { rows } = await sql<{ n: number }>`
        select count(distinct coalesce(family_id, id))::int as n from students where school_id = ${schoolId} and deleted_at is null`.execute(db);
      return rows[0]?.n ?? 0;
    },

    /**
     * The next `limit` billing units (coalesce(family_id, id): a family, or a student
     * without one) after `after`, in key order (students_billing_unit_idx).
     */
    async nextUnits(db: DbOrTx, schoolId: string, after: string | null, limit: number): Promise<string[]> {
      const { rows } = await sql<{ unit: string }>`
        select distinct coalesce(family_id, id) as unit
          from students
         where school_id = ${schoolId} and deleted_at is null
           and coalesce(family_id, id) > ${after ?? FIRST_UNIT}::uuid
         order by 1
         limit ${limit}`.execute(db);
      return rows.map((row) => row.unit);
    },

    /**
     * Every enrolment of the units' students with the instalments it is due (one
     * set-based query: the students and enrolments of the units joined to the due dates
     * of the school's plans, passed as arrays), split into those not billed yet and a
     * count of those billed. Billed = the anti-join on charge lines: a hashed subplan
     * over the charge lines of exactly these enrolments (index invoice_lines_instalment_idx,
     * enrolment_id = any(...)), never a join whose plan depends on how fresh the
     * statistics of invoice_lines are (a bill run is what fills that table).
     */
    async enrolmentsDue(db: DbOrTx, schoolId: string, due: DueArrays, units: readonly string[]): Promise<EnrolmentDue[]> {
      if (due.dueDates.length === 0 || units.length === 0) {
        return [];
      }
      const { rows } = await sql<{ enrolment_id: string; student_id: string; family_id: string | null; due: number[] | null; billed: number }>`
        with ${instCte(due)},
        ${batchStudents(schoolId, units)}
        select d.enrolment_id, d.student_id, d.family_id,
               array_agg(d.idx order by d.idx) filter (where not d.billed) as due,
               (count(*) filter (where d.billed))::int as billed
          from (select e.id as enrolment_id, e.student_id, b.family_id, i.idx,
                       (e.id, i.item_code, i.due_date) in (
                         select l.enrolment_id, l.item_code, l.due_date
                           from invoice_lines l
                          where l.school_id = ${schoolId} and l.kind = 'charge'
                            and l.enrolment_id = any(array(
                                  select e2.id from batch b2 join enrolments e2 on e2.school_id = ${schoolId} and e2.student_id = b2.id))
                            and l.item_code is not null and l.due_date is not null) as billed
                  from batch b
                  join enrolments e on e.school_id = ${schoolId} and e.student_id = b.id
                  join inst i on i.fee_plan_id = e.fee_plan_id
                 where ${enrolmentCovers}
                offset 0) d
         group by d.enrolment_id, d.student_id, d.family_id`.execute(db);
      return rows.map((row) => ({ enrolmentId: row.enrolment_id, studentId: row.student_id, familyId: row.family_id, due: row.due ?? [], billed: row.billed }));
    },

    /** The payers of these enrolments, in position order, shares in parts per million. */
    async payers(db: DbOrTx, schoolId: string, enrolmentIds: readonly string[]): Promise<Map<string, { guardianId: string; sharePpm: number }[]>> {
      const payers = new Map<string, { guardianId: string; sharePpm: number }[]>();
      if (enrolmentIds.length === 0) {
        return payers;
      }
      const rows = await db
        .selectFrom('enrolment_payers')
        .select(['enrolment_id', 'guardian_id', sql<number>`round(share * 1000000)::int`.as('ppm')])
        .where('school_id', '=', schoolId)
        .where('enrolment_id', '=', sql<string>`any(${enrolmentIds}::uuid[])`)
        .orderBy('enrolment_id')
        .orderBy('position')
        .orderBy('guardian_id')
        .execute();
      for (const row of rows) {
        const list = payers.get(row.enrolment_id) ?? [];
        list.push({ guardianId: row.guardian_id, sharePpm: row.ppm });
        payers.set(row.enrolment_id, list);
      }
      return payers;
    },

    /**
     * Sibling numbers of the units' students who have a family: earliest enrolment
     * `from` first, then the order the students were created (SPEC §7). A family is
     * always whole inside one batch of units.
     */
    async siblingNumbers(db: DbOrTx, schoolId: string, units: readonly string[]): Promise<Map<string, number>> {
      const { rows } = await sql<{ id: string; n: number }>`
        with ${batchStudents(schoolId, units)}
        select b.id, (row_number() over (partition by b.family_id order by min(e.from_date), b.created_at, b.id))::int as n
          from batch b
          join enrolments e on e.school_id = ${schoolId} and e.student_id = b.id
         where b.family_id is not null
         group by b.id, b.family_id, b.created_at`.execute(db);
      return new Map(rows.map((row) => [row.id, row.n]));
    },

    /** Takes the school's bill-run lock until the transaction ends: batches of runs of one school never overlap. */
    async lockSchool(trx: DbOrTx, schoolId: string): Promise<void> {
      await sql`select pg_advisory_xact_lock(${SCHOOL_LOCK_CLASS}, hashtext(${schoolId}))`.execute(trx);
    },

    /** Locks these families FOR UPDATE (id order) when they have credit; answers their credit. */
    async lockFamiliesWithCredit(trx: DbOrTx, schoolId: string, familyIds: readonly string[]): Promise<Map<string, number>> {
      if (familyIds.length === 0) {
        return new Map();
      }
      const rows = await trx
        .selectFrom('families')
        .select(['id', 'credit_balance'])
        .where('school_id', '=', schoolId)
        .where('id', 'in', [...familyIds])
        .where('credit_balance', '>', 0)
        .orderBy('id')
        .forUpdate()
        .execute();
      return new Map(rows.map((row) => [row.id, row.credit_balance]));
    },

    /** Student names for a preview (the caller masks them). */
    async studentNames(db: DbOrTx, schoolId: string, ids: readonly string[]): Promise<Map<string, { firstName: string; lastName: string }>> {
      if (ids.length === 0) {
        return new Map();
      }
      const rows = await db
        .selectFrom('students')
        .select(['id', 'first_name as firstName', 'last_name as lastName'])
        .where('school_id', '=', schoolId)
        .where('id', 'in', [...ids])
        .execute();
      return new Map(rows.map((row) => [row.id, row]));
    },

    // ------------------------------------------------------------------ bill_runs rows
    async insertRun(
      trx: DbOrTx,
      values: { schoolId: string; through: string; status: BillRunStatus; total: number; requestedBy: string | null },
    ): Promise<BillRunRow> {
      const row = await trx
        .insertInto('bill_runs')
        .values({
          school_id: values.schoolId,
          through: values.through,
          dry_run: false,
          status: values.status,
          total: values.total,
          requested_by: values.requestedBy,
          started_at: values.status === 'running' ? sql<Date>`now()` : null,
        })
        .returning(runColumns)
        .executeTakeFirstOrThrow();
      return toRow(row);
    },

    async findRun(db: DbOrTx, scope: Scope, id: string): Promise<BillRunRow | undefined> {
      const row = await db
        .selectFrom('bill_runs')
        .select(runColumns)
        .where('id', '=', id)
        .where((eb) => inScope(eb, 'bill_runs.school_id', scope))
        .executeTakeFirst();
      return row && toRow(row);
    },

    /** Newest first (ids are UUIDv7: time-ordered), keyset on id. */
    async listRuns(db: DbOrTx, scope: Scope, query: { schoolId?: string; beforeId?: string; limit: number }): Promise<BillRunRow[]> {
      const rows = await db
        .selectFrom('bill_runs')
        .select(runColumns)
        .where((eb) => inScope(eb, 'bill_runs.school_id', scope))
        .$if(query.schoolId !== undefined, (qb) => qb.where('school_id', '=', query.schoolId ?? ''))
        .$if(query.beforeId !== undefined, (qb) => qb.where('id', '<', query.beforeId ?? ''))
        .orderBy('id', 'desc')
        .limit(query.limit + 1)
        .execute();
      return rows.map(toRow);
    },

    /**
     * A background run starts (or starts over after its worker died): queued/running →
     * running, its progress counted again from the first unit. Undefined when it is
     * finished or failed.
     */
    async claimRun(trx: DbOrTx, id: string, totalUnits: number): Promise<BillRunRow | undefined> {
      const row = await trx
        .updateTable('bill_runs')
        .set({ status: 'running', started_at: sql<Date>`coalesce(started_at, now())`, done: 0, total: totalUnits })
        .where('id', '=', id)
        .where('status', 'in', ['queued', 'running'])
        .returning(runColumns)
        .executeTakeFirst();
      return row && toRow(row);
    },

    /** Adds a batch's counts and the run's totals so far. */
    async recordProgress(
      trx: DbOrTx,
      run: { schoolId: string; id: string },
      batch: { invoices: number; lines: number; skipped: number; done: number; totals: ItemTotal[] },
    ): Promise<void> {
      await trx
        .updateTable('bill_runs')
        .set((eb) => ({
          invoices_created: eb('invoices_created', '+', batch.invoices),
          lines_created: eb('lines_created', '+', batch.lines),
          skipped: eb('skipped', '+', batch.skipped),
          done: eb('done', '+', batch.done),
          totals: JSON.stringify(batch.totals),
        }))
        .where('school_id', '=', run.schoolId)
        .where('id', '=', run.id)
        .execute();
    },

    /**
     * The run is finished: progress complete (every unit walked; students added meanwhile
     * may make done exceed the total counted at the start).
     */
    async finishRun(trx: DbOrTx, run: { schoolId: string; id: string }): Promise<BillRunRow> {
      const row = await trx
        .updateTable('bill_runs')
        .set({
          status: 'finished',
          finished_at: sql<Date>`now()`,
          total: sql<number>`greatest(coalesce(total, 0), done)`,
          done: sql<number>`greatest(coalesce(total, 0), done)`,
        })
        .where('school_id', '=', run.schoolId)
        .where('id', '=', run.id)
        .returning(runColumns)
        .executeTakeFirstOrThrow();
      const finished = toRow(row);
      // bill_run.finished to the webhook outbox, in the run's closing transaction (SPEC §9).
      await publishObject(trx, 'bill_run.finished', {
        schoolId: finished.schoolId,
        id: finished.id,
        data: {
          id: finished.id,
          schoolId: finished.schoolId,
          through: finished.through,
          status: 'finished',
          invoicesCreated: finished.invoicesCreated,
          linesCreated: finished.linesCreated,
          skipped: finished.skipped,
          createdAt: finished.createdAt.toISOString(),
          startedAt: finished.startedAt?.toISOString() ?? null,
          finishedAt: finished.finishedAt?.toISOString() ?? null,
        },
      });
      return finished;
    },

    async failRun(db: DbOrTx, id: string, error: string): Promise<BillRunRow | undefined> {
      const row = await db
        .updateTable('bill_runs')
        .set({ status: 'failed', error: error.slice(0, 2000), finished_at: sql<Date>`now()` })
        .where('id', '=', id)
        .where('status', 'in', ['queued', 'running'])
        .returning(runColumns)
        .executeTakeFirst();
      return row && toRow(row);
    },

    /** Queued runs nobody has picked up for `olderThanSeconds` (their request came through a process without a worker). */
    async queuedRuns(db: DbOrTx, olderThanSeconds: number): Promise<{ id: string; schoolId: string }[]> {
      return db
        .selectFrom('bill_runs')
        .select(['id', 'school_id as schoolId'])
        .where('status', '=', 'queued')
        .where('created_at', '<', sql<Date>`now() - make_interval(secs => ${olderThanSeconds})`)
        .orderBy('id')
        .limit(100)
        .execute();
    },

    /**
     * Runs marked running whose worker is gone: nobody holds the run's session lock
     * (PostgreSQL drops it with the session of a process that dies) for `olderThanSeconds`.
     */
    async orphanedRuns(db: DbOrTx, olderThanSeconds: number): Promise<string[]> {
      const { rows } = await sql<{ id: string }>`
        select r.id from bill_runs r
         where r.status = 'running' and r.started_at < now() - make_interval(secs => ${olderThanSeconds})
           and not exists (
             select 1 from pg_locks l
              where l.locktype = 'advisory' and l.granted and l.objsubid = 2
                and l.database = (select oid from pg_database where datname = current_database())
                and l.classid = ${RUN_LOCK_CLASS}::bigint::oid
                and l.objid = (hashtext(r.id::text)::bigint & 4294967295)::oid)
         limit 100`.execute(db);
      return rows.map((row) => row.id);
    },

    /** Holds the run's session lock on this connection; false when another worker holds it. */
    async tryLockRun(conn: DbOrTx, id: string): Promise<boolean> {
      const { rows } = await sql<{ locked: boolean }>`select pg_try_advisory_lock(${RUN_LOCK_CLASS}, hashtext(${id})) as locked`.execute(conn);
      return rows[0]?.locked === true;
    },

    async unlockRun(conn: DbOrTx, id: string): Promise<void> {
      await sql`select pg_advisory_unlock(${RUN_LOCK_CLASS}, hashtext(${id}))`.execute(conn);
    },
  };
}

export type BillRunsRepository = ReturnType<typeof createBillRunsRepository>;
