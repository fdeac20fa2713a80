import type { Db } from '../../db/database.js';
import { systemClock, type Clock } from '../../shared/clock.js';
import { type Actor, requirePrincipal } from '../../shared/context.js';
import { AppError, notFound, type FieldError } from '../../shared/errors.js';
import type { Scope } from '../../shared/scope.js';
import { todayIn } from '../../shared/time.js';
import { recordAudit } from '../audit/audit.repository.js';
import { postLateFees } from '../ledger/ledger.js';
import { sendReminders, type ReminderSettings } from './reminders.js';
import type { CollectionsRepository, CollectionSchool, StoredLateFeePolicy } from './collections.repository.js';
import { cursorPart, decodeCursorOf, toPage, type Page } from '../../shared/pagination.js';
import type {
  CollectionDay,
  CollectionDayListQuery,
  CollectionRunBody,
  CollectionRunResult,
  LateFeePolicy,
  PutLateFeePolicyBody,
  PutReminderPolicyBody,
  ReminderPolicy,
} from './collections.schemas.js';
import { publishOverdue } from '../webhooks/webhooks.outbox.js';

export interface CollectionsDeps {
  db: Db;
  repo: CollectionsRepository;
  reminders: ReminderSettings;
  clock?: Clock;
}

const field = (name: string, message: string): FieldError => ({ field: name, in: 'body', message });

const present = (policy: StoredLateFeePolicy): LateFeePolicy => ({ ...policy, updatedAt: policy.updatedAt.toISOString() });

/** The field error of a policy's value for its kind, if any. */
export function lateFeeValueError(kind: PutLateFeePolicyBody['kind'], value: number): FieldError | undefined {
  if (kind === 'fixed') {
    return Number.isSafeInteger(value) && value > 0 ? undefined : field('value', 'a fixed late fee is a whole number of minor units (cents), more than 0');
  }
  if (!(value > 0 && value <= 100)) {
    return field('value', `a percent must be more than 0 and at most 100 (got ${value})`);
  }
  return Math.abs(Math.round(value * 10_000) - value * 10_000) > 1e-6 ? field('value', 'a percent has at most four decimals') : undefined;
}

/**
 * One school day of collections (SPEC §8 "The daily run"): the day's late fees through
 * the ledger, the day's reminders (reminders.ts), the day's totals added to
 * collection_runs, and an audit row, in one transaction. The daily job and POST /collections/run both call this: every posting is
 * exactly-once by its billing key, so a repeated or concurrent run of a day posts
 * nothing twice (and answers 0 posted).
 */
export async function runCollectionDay(
  db: Db,
  repo: CollectionsRepository,
  reminders: ReminderSettings,
  actor: Actor | null,
  schoolId: string,
  day: string,
): Promise<CollectionRunResult> {
  return db.transaction().execute(async (trx) => {
    const posted = await postLateFees(trx, { schoolId, day });
    // invoice.overdue to the webhook outbox, once per invoice, with the day's run (SPEC §9).
    await publishOverdue(trx, { schoolId, day });
    // After the late fees, so a reminder of an overdue invoice shows today's fee too.
    const messages = await sendReminders(trx, schoolId, day, reminders);
    const totals = {
      lateFeesPosted: posted.length,
      lateFeeAmount: posted.reduce((sum, fee) => sum + fee.amount, 0),
      remindersSent: messages.sent,
      remindersSkipped: messages.skipped,
    };
    const runs = await repo.recordRun(trx, schoolId, day, totals);
    await recordAudit(trx, actor, { action: 'collections.run', entityType: 'school', entityId: schoolId, schoolId, changes: { date: day, ...totals, runs } });
    return { schoolId, date: day, ...totals, runs };
  });
}

export function createCollectionsService(deps: CollectionsDeps) {
  const { db, repo } = deps;
  const clock = deps.clock ?? systemClock;

  async function visibleSchool(scope: Scope, id: string, where: 'params' | 'body' | 'querystring'): Promise<CollectionSchool> {
    const school = await repo.findSchool(db, scope, id);
    if (school === undefined) {
      throw new AppError('NOT_FOUND', 'school not found', { errors: [{ field: where === 'params' ? 'id' : 'schoolId', in: where, message: 'no such school (or not one of yours)' }] });
    }
    return school;
  }

  return {
    async getLateFeePolicy(scope: Scope, schoolId: string): Promise<LateFeePolicy> {
      const school = await visibleSchool(scope, schoolId, 'params');
      const policy = await repo.findPolicy(db, school.id);
      if (policy === undefined) {
        throw notFound('late-fee policy (this school charges none yet: PUT one)');
      }
      return present(policy);
    },

    async putLateFeePolicy(actor: Actor, schoolId: string, body: PutLateFeePolicyBody): Promise<LateFeePolicy> {
      const principal = requirePrincipal(actor);
      const school = await visibleSchool(principal, schoolId, 'params');
      const error = lateFeeValueError(body.kind, body.value);
      if (error !== undefined) {
        throw new AppError('VALIDATION_FAILED', `${error.field} ${error.message}`, { errors: [error] });
      }
      return db.transaction().execute(async (trx) => {
        const policy = await repo.upsertPolicy(trx, {
          schoolId: school.id,
          kind: body.kind,
          value: body.value,
          graceDays: body.graceDays ?? 0,
          cap: body.cap ?? null,
          enabled: body.enabled ?? true,
          updatedBy: principal.userId,
        });
        await recordAudit(trx, actor, { action: 'late_fee_policy.put', entityType: 'school', entityId: school.id, schoolId: school.id, changes: { ...body } });
        return present(policy);
      });
    },

    async getReminderPolicy(scope: Scope, schoolId: string): Promise<ReminderPolicy> {
      const school = await visibleSchool(scope, schoolId, 'params');
      const policy = await repo.findReminderPolicy(db, school.id);
      if (policy === undefined) {
        throw notFound('reminder policy (this school sends none yet: PUT one)');
      }
      return { ...policy, updatedAt: policy.updatedAt.toISOString() };
    },

    async putReminderPolicy(actor: Actor, schoolId: string, body: PutReminderPolicyBody): Promise<ReminderPolicy> {
      const principal = requirePrincipal(actor);
      const school = await visibleSchool(principal, schoolId, 'params');
      const seen = new Map<string, number>();
      for (const [index, step] of body.steps.entries()) {
        const key = `${step.offsetDays}:${step.channel}`;
        const first = seen.get(key);
        if (first !== undefined) {
          const message = `a second ${step.channel} step at offsetDays ${step.offsetDays} (step ${first} has it already): one step per day and channel`;
          throw new AppError('VALIDATION_FAILED', message, { errors: [field(`steps.${index}`, message)] });
        }
        seen.set(key, index);
      }
      // Sorted by day, so the policy reads as the family lives it.
      const steps = [...body.steps].sort((a, b) => a.offsetDays - b.offsetDays || a.channel.localeCompare(b.channel));
      return db.transaction().execute(async (trx) => {
        const policy = await repo.upsertReminderPolicy(trx, { schoolId: school.id, steps, enabled: body.enabled ?? true, updatedBy: principal.userId });
        await recordAudit(trx, actor, { action: 'reminder_policy.put', entityType: 'school', entityId: school.id, schoolId: school.id, changes: { steps, enabled: policy.enabled } });
        return { ...policy, updatedAt: policy.updatedAt.toISOString() };
      });
    },

    /** GET /collections/runs: what each day of a school's collections did, newest first. */
    async listDays(scope: Scope, query: CollectionDayListQuery & { limit: number }): Promise<Page<CollectionDay>> {
      const school = await visibleSchool(scope, query.schoolId, 'querystring');
      const before = query.cursor === undefined ? undefined : decodeCursorOf(query.cursor, [cursorPart.date])[0];
      const rows = await repo.listDays(db, school.id, { limit: query.limit, ...(before === undefined ? {} : { before }) });
      const page = toPage(rows, query.limit, (row) => [row.date]);
      return { ...page, data: page.data.map((row) => ({ ...row, firstRunAt: row.firstRunAt.toISOString(), lastRunAt: row.lastRunAt.toISOString() })) };
    },

    /** POST /collections/run: the school's day now (default: its local today), never a future day. */
    async run(actor: Actor, body: CollectionRunBody): Promise<CollectionRunResult> {
      const principal = requirePrincipal(actor);
      const school = await visibleSchool(principal, body.schoolId, 'body');
      const today = todayIn(school.timezone, new Date(clock.now()));
      const day = body.date ?? today;
      if (day > today) {
        throw new AppError('VALIDATION_FAILED', `date ${day} is in the future (today is ${today} in the school’s time zone)`, {
          errors: [field('date', `must not be after ${today}, today in the school’s time zone`)],
        });
      }
      return runCollectionDay(db, repo, deps.reminders, actor, school.id, day);
    },
  };
}

export type CollectionsService = ReturnType<typeof createCollectionsService>;
