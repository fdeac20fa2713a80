import { sql } from 'kysely';
import type { DbOrTx } from '../../db/database.js';
import type { ReminderStep } from '../../db/types.js';
import { inScope, type Scope } from '../../shared/scope.js';

/** A school as collections needs it: its zone decides what "today" is. */
export interface CollectionSchool {
  id: string;
  timezone: string;
}

export interface StoredLateFeePolicy {
  schoolId: string;
  kind: 'fixed' | 'percent' | 'daily_interest';
  value: number;
  graceDays: number;
  cap: number | null;
  enabled: boolean;
  updatedAt: Date;
}

export interface StoredReminderPolicy {
  schoolId: string;
  steps: ReminderStep[];
  enabled: boolean;
  updatedAt: Date;
}

export interface RunTotals {
  lateFeesPosted: number;
  lateFeeAmount: number;
  remindersSent: number;
  remindersSkipped: number;
}

export function createCollectionsRepository() {
  return {
    findSchool(db: DbOrTx, scope: Scope, id: string): Promise<CollectionSchool | undefined> {
      return db
        .selectFrom('schools')
        .select(['id', 'timezone'])
        .where('id', '=', id)
        .where('deleted_at', 'is', null)
        .where((eb) => inScope(eb, 'schools.id', scope))
        .executeTakeFirst();
    },

    async findPolicy(db: DbOrTx, schoolId: string): Promise<StoredLateFeePolicy | undefined> {
      const row = await db
        .selectFrom('late_fee_policies')
        .select(['school_id as schoolId', 'kind', 'value', 'grace_days as graceDays', 'cap', 'enabled', 'updated_at as updatedAt'])
        .where('school_id', '=', schoolId)
        .executeTakeFirst();
      return row === undefined ? undefined : { ...row, value: Number(row.value) };
    },

    async upsertPolicy(db: DbOrTx, policy: Omit<StoredLateFeePolicy, 'updatedAt'> & { updatedBy: string | null }): Promise<StoredLateFeePolicy> {
      const values = {
        school_id: policy.schoolId,
        kind: policy.kind,
        value: policy.value,
        grace_days: policy.graceDays,
        cap: policy.cap,
        enabled: policy.enabled,
        updated_by: policy.updatedBy,
      };
      const row = await db
        .insertInto('late_fee_policies')
        .values(values)
        .onConflict((oc) => oc.column('school_id').doUpdateSet({ ...values, updated_at: sql<Date>`now()` }))
        .returning(['school_id as schoolId', 'kind', 'value', 'grace_days as graceDays', 'cap', 'enabled', 'updated_at as updatedAt'])
        .executeTakeFirstOrThrow();
      return { ...row, value: Number(row.value) };
    },

    findReminderPolicy(db: DbOrTx, schoolId: string): Promise<StoredReminderPolicy | undefined> {
      return db
        .selectFrom('reminder_policies')
        .select(['school_id as schoolId', 'steps', 'enabled', 'updated_at as updatedAt'])
        .where('school_id', '=', schoolId)
        .executeTakeFirst();
    },

    upsertReminderPolicy(db: DbOrTx, policy: Omit<StoredReminderPolicy, 'updatedAt'> & { updatedBy: string | null }): Promise<StoredReminderPolicy> {
      const values = { school_id: policy.schoolId, steps: JSON.stringify(policy.steps), enabled: policy.enabled, updated_by: policy.updatedBy };
      return db
        .insertInto('reminder_policies')
        .values(values)
        .onConflict((oc) => oc.column('school_id').doUpdateSet({ ...values, updated_at: sql<Date>`now()` }))
        .returning(['school_id as schoolId', 'steps', 'enabled', 'updated_at as updatedAt'])
        .executeTakeFirstOrThrow();
    },

    /** Adds a run's totals to its school day (the first run inserts it); answers the day's run count. */
    async recordRun(db: DbOrTx, schoolId: string, day: string, totals: RunTotals): Promise<number> {
      const row = await db
        .insertInto('collection_runs')
        .values({
          school_id: schoolId,
          day,
          late_fees_posted: totals.lateFeesPosted,
          late_fee_amount: totals.lateFeeAmount,
          reminders_sent: totals.remindersSent,
          reminders_skipped: totals.remindersSkipped,
        })
        .onConflict((oc) =>
          oc.columns(['school_id', 'day']).doUpdateSet({
            late_fees_posted: sql<number>`collection_runs.late_fees_posted + excluded.late_fees_posted`,
            late_fee_amount: sql<number>`collection_runs.late_fee_amount + excluded.late_fee_amount`,
            reminders_sent: sql<number>`collection_runs.reminders_sent + excluded.reminders_sent`,
            // A re-run counts the same skipped guardians again: the day's figure is the largest count.
            reminders_skipped: sql<number>`greatest(collection_runs.reminders_skipped, excluded.reminders_skipped)`,
            runs: sql<number>`collection_runs.runs + 1`,
            last_run_at: sql<Date>`now()`,
          }),
        )
        .returning('runs')
        .executeTakeFirstOrThrow();
      return row.runs;
    },

    /** A school's run days, newest first, before `before` (exclusive), `limit + 1` rows (for toPage). */
    listDays(db: DbOrTx, schoolId: string, query: { limit: number; before?: string }) {
      return db
        .selectFrom('collection_runs')
        .select([
          'school_id as schoolId',
          sql<string>`to_char(day, 'YYYY-MM-DD')`.as('date'),
          'late_fees_posted as lateFeesPosted',
          'late_fee_amount as lateFeeAmount',
          'reminders_sent as remindersSent',
          'reminders_skipped as remindersSkipped',
          'runs',
          'first_run_at as firstRunAt',
          'last_run_at as lastRunAt',
        ])
        .where('school_id', '=', schoolId)
        .$if(query.before !== undefined, (qb) => qb.where('day', '<', query.before ?? ''))
        .orderBy('day', 'desc')
        .limit(query.limit + 1)
        .execute();
    },

    /**
     * The school days due a run at `now`: active schools with an enabled late-fee or
     * reminder policy whose local time is past `fromHour` and whose local today has no run yet.
     */
    async dueSchoolDays(db: DbOrTx, now: Date, fromHour: number, limit: number): Promise<{ schoolId: string; day: string }[]> {
      const { rows } = await sql<{ schoolId: string; day: string }>`
        select s.id as "schoolId", to_char((${now}::timestamptz at time zone s.timezone)::date, 'YYYY-MM-DD') as day
          from schools s
         where s.is_active and s.deleted_at is null
           and (exists (select 1 from late_fee_policies p where p.school_id = s.id and p.enabled)
                or exists (select 1 from reminder_policies p where p.school_id = s.id and p.enabled))
           and extract(hour from ${now}::timestamptz at time zone s.timezone) >= ${fromHour}
           and not exists (select 1 from collection_runs r
                            where r.school_id = s.id and r.day = (${now}::timestamptz at time zone s.timezone)::date)
         order by s.id
         limit ${limit}`.execute(db);
      return rows;
    },
  };
}

export type CollectionsRepository = ReturnType<typeof createCollectionsRepository>;
