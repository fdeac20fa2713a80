import type { FastifyBaseLogger } from 'fastify';
import type PgBoss from 'pg-boss';
import type pg from 'pg';
import type { Db } from '../../db/database.js';
import { createQueue, startPgBoss } from '../../jobs/boss.js';
import { traceJob } from '../../telemetry.js';
import { recordAudit } from '../audit/audit.repository.js';
import type { BillRunEngine } from './billruns.engine.js';
import type { BillRunsRepository } from './billruns.repository.js';
import type { BillRunRunner } from './billruns.runner.js';

/**
 * Background bill runs on pg-boss (schema `pgboss` in the same database).
 *
 * Queue `bursar-bill-run`, payload `{ billRunId, schoolId }`; the job's id IS the bill
 * run's id (and its singleton key), so sending a run twice — the request's process and
 * a worker's tick, or two ticks — queues it once. The handler holds the run's session
 * lock while it runs (engine.runBackground): a second worker handed the run does
 * nothing, and every batch is exactly-once by its billing keys anyway.
 *
 * pg-boss starts lazily: a process starts it the first time it has a run to queue (a
 * request in this process, or a tick that finds a queued run), so apps that never bill
 * in the background (most test apps, an idle worker) hold no pg-boss at all. The tick
 * (every `tickSeconds`) also fails the runs whose worker died: marked running, but
 * nobody holds their lock. Such a run keeps what its finished batches billed; a new
 * run bills the rest.
 */
export const BILL_RUN_QUEUE = 'bursar-bill-run';

export interface BillRunJobData {
  billRunId: string;
  schoolId: string;
}

export interface BillRunJobsOptions {
  pool: pg.Pool;
  db: Db;
  repo: BillRunsRepository;
  engine: BillRunEngine;
  log: FastifyBaseLogger;
  tickSeconds: number;
  /** pg-boss polling (seconds); tests use 0.5. */
  pollingIntervalSeconds: number;
  /** Runs one worker handles at once. */
  concurrency?: number;
}

export interface BillRunJobs extends BillRunRunner {
  /** Looks for queued and orphaned runs now (the timer does it every tickSeconds). */
  tick(): Promise<void>;
  stop(): Promise<void>;
}

/** A queued run older than this with nobody on it is queued again; a running one without its lock is failed. */
const QUEUED_GRACE_SECONDS = 2;
const ORPHAN_AFTER_SECONDS = 15;
/** A run takes about a minute at data set L; a job that runs longer than this is failed by pg-boss. */
const EXPIRE_SECONDS = 2 * 3600;

export function startBillRunJobs(options: BillRunJobsOptions): BillRunJobs {
  const { db, repo, engine, log } = options;
  let boss: Promise<PgBoss> | undefined;
  let stopped = false;
  const workerIds: string[] = [];

  const handle = async (jobs: PgBoss.Job<BillRunJobData>[]) => {
    for (const job of jobs) {
      const { billRunId, schoolId } = job.data;
      const attributes = {
        'messaging.system': 'pg-boss',
        'messaging.operation.type': 'process',
        'messaging.destination.name': BILL_RUN_QUEUE,
        'messaging.message.id': job.id,
        'bursar.school.id': schoolId,
      };
      const run = await traceJob(`process ${BILL_RUN_QUEUE}`, attributes, () => engine.runBackground(db, billRunId));
      if (run === undefined) {
        log.info({ billRunId }, 'bill run: already done or running elsewhere');
      } else {
        log.info({ billRunId, schoolId, status: run.status, invoicesCreated: run.invoicesCreated, error: run.error }, 'bill run');
      }
    }
  };

  const started = (): Promise<PgBoss> => {
    boss ??= (async () => {
      const instance = await startPgBoss(options.pool, log);
      await createQueue(instance, BILL_RUN_QUEUE, { name: BILL_RUN_QUEUE, policy: 'standard', retryLimit: 0, expireInSeconds: EXPIRE_SECONDS });
      for (let i = 0; i < (options.concurrency ?? 2); i++) {
        // pg-boss waits its polling interval after every fetch, even one that found a job:
        // a worker would start at most one run per interval (1 000 schools billed at once
        // would take 1 000 intervals). Notified after each run, it fetches the next at once;
        // only an empty queue makes it wait.
        const worker: { id?: string } = {};
        worker.id = await instance.work<BillRunJobData>(BILL_RUN_QUEUE, { batchSize: 1, pollingIntervalSeconds: options.pollingIntervalSeconds }, async (jobs) => {
          try {
            await handle(jobs);
          } finally {
            if (worker.id !== undefined) {
              instance.notifyWorker(worker.id);
            }
          }
        });
        workerIds.push(worker.id);
      }
      return instance;
    })();
    return boss;
  };

  const enqueue = async (run: { id: string; schoolId: string }): Promise<void> => {
    if (stopped) {
      return;
    }
    const instance = await started();
    await instance.send(BILL_RUN_QUEUE, { billRunId: run.id, schoolId: run.schoolId } satisfies BillRunJobData, { id: run.id, singletonKey: run.id });
    // This process's idle workers fetch it now rather than at their next poll.
    for (const id of workerIds) {
      instance.notifyWorker(id);
    }
  };

  const tick = async () => {
    try {
      for (const run of await repo.queuedRuns(db, QUEUED_GRACE_SECONDS)) {
        await enqueue(run);
      }
      for (const id of await repo.orphanedRuns(db, ORPHAN_AFTER_SECONDS)) {
        const message = 'its worker stopped before the run finished (the process ended); what it billed stays billed: start a new run to bill the rest';
        await db.transaction().execute(async (trx) => {
          const failed = await repo.failRun(trx, id, message);
          if (failed !== undefined) {
            await recordAudit(trx, null, { action: 'bill_run.fail', entityType: 'bill_run', entityId: id, schoolId: failed.schoolId, changes: { error: message } });
          }
        });
        log.warn({ billRunId: id }, 'bill run: failed a run whose worker stopped');
      }
    } catch (error) {
      log.warn({ err: error }, 'bill run tick failed');
    }
  };
  const timer = setInterval(() => void tick(), options.tickSeconds * 1000);
  timer.unref();

  return {
    enqueue,
    tick,
    async stop() {
      stopped = true;
      clearInterval(timer);
      if (boss !== undefined) {
        const instance = await boss.catch(() => undefined);
        await instance?.stop({ graceful: true, wait: true, timeout: 15_000 });
      }
    },
  };
}
