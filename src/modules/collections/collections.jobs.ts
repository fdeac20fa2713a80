import type { FastifyBaseLogger } from 'fastify';
import type PgBoss from 'pg-boss';
import type pg from 'pg';
import type { Db } from '../../db/database.js';
import { createQueue, startPgBoss } from '../../jobs/boss.js';
import type { Clock } from '../../shared/clock.js';
import { traceJob } from '../../telemetry.js';
import type { CollectionsRepository } from './collections.repository.js';
import { runCollectionDay } from './collections.service.js';
import type { ReminderSettings } from './reminders.js';

/**
 * The daily collections run on pg-boss (schema `pgboss`): queue `bursar-collections`,
 * payload `{ schoolId, day }`, one job per school day.
 *
 * Every worker ticks (every `tickSeconds`) and sends a job for each school whose local
 * clock has passed `fromHour` and whose local today has no collection_runs row yet.
 * The send carries singletonKey `<school>:<day>` in a 12-hour singleton slot, so the ticks
 * of every worker queue a school day once while its run is pending (once it ran, its
 * collection_runs row stops the ticks); the handler is runCollectionDay, exactly-once
 * per posting, so a second delivery posts nothing anyway. A day that was missed (every worker down) is not caught up by itself:
 * the operator re-runs it with POST /collections/run {date} (SPEC §8).
 */
export const COLLECTIONS_QUEUE = 'bursar-collections';

export interface CollectionJobData {
  schoolId: string;
  day: string;
}

export interface CollectionJobsOptions {
  pool: pg.Pool;
  db: Db;
  repo: CollectionsRepository;
  reminders: ReminderSettings;
  clock: Clock;
  log: FastifyBaseLogger;
  fromHour: number;
  tickSeconds: number;
  /** pg-boss polling (seconds); tests use 0.5. */
  pollingIntervalSeconds: number;
}

export interface CollectionJobs {
  boss: PgBoss;
  /** Queues the school days due now (the timer does it every tickSeconds); answers how many were sent. */
  tick(): Promise<number>;
  stop(): Promise<void>;
}

/** A school day is sent once per slot of this length (pg-boss allows up to its 12 h archive interval). */
const SINGLETON_SECONDS = 12 * 3600;

/** School days queued per tick at most; the next tick queues the rest. */
const TICK_LIMIT = 1000;

export async function startCollectionJobs(options: CollectionJobsOptions): Promise<CollectionJobs> {
  const { db, repo, log } = options;
  const boss = await startPgBoss(options.pool, log);
  await createQueue(boss, COLLECTIONS_QUEUE, { name: COLLECTIONS_QUEUE, policy: 'standard', retryLimit: 5, retryDelay: 30, retryBackoff: true, expireInSeconds: 30 * 60 });

  await boss.work<CollectionJobData>(COLLECTIONS_QUEUE, { batchSize: 1, pollingIntervalSeconds: options.pollingIntervalSeconds }, async (jobs) => {
    for (const job of jobs) {
      const { schoolId, day } = job.data;
      const attributes = { 'messaging.system': 'pg-boss', 'messaging.destination.name': COLLECTIONS_QUEUE, 'messaging.message.id': job.id, 'bursar.school.id': schoolId };
      const result = await traceJob(`process ${COLLECTIONS_QUEUE}`, attributes, () => runCollectionDay(db, repo, options.reminders, null, schoolId, day));
      log.info({ ...result }, 'collections: school day run');
    }
  });

  const tick = async (): Promise<number> => {
    let sent = 0;
    try {
      for (const { schoolId, day } of await repo.dueSchoolDays(db, new Date(options.clock.now()), options.fromHour, TICK_LIMIT)) {
        const id = await boss.send(COLLECTIONS_QUEUE, { schoolId, day } satisfies CollectionJobData, { singletonKey: `${schoolId}:${day}`, singletonSeconds: SINGLETON_SECONDS });
        sent += id === null ? 0 : 1;
      }
    } catch (error) {
      log.warn({ err: error }, 'collections tick failed');
    }
    return sent;
  };
  await tick();
  const timer = setInterval(() => void tick(), options.tickSeconds * 1000);
  timer.unref();

  return {
    boss,
    tick,
    async stop() {
      clearInterval(timer);
      await boss.stop({ graceful: true, wait: true, timeout: 15_000 });
    },
  };
}
