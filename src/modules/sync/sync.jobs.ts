import { sql } from 'kysely';
import type PgBoss from 'pg-boss';
import { createQueue, startPgBoss } from '../../jobs/boss.js';
import type { FastifyBaseLogger } from 'fastify';
import type pg from 'pg';
import { traceJob } from '../../telemetry.js';
import type { Clock } from './clock.js';
import type { SyncRunner } from './sync.runner.js';
import { feedLockHeld } from './sync.repository.js';
import { resetAdvice } from './sync.state.js';
import type { FeedName, SyncDb } from './sync.tables.js';
import type { PassResult, PassStatus, SyncWorker } from './sync.worker.js';

/**
 * The sync job on pg-boss (schema `pgboss` in the same database).
 *
 * Queue `bursar-sync`, payload `{ feed }`, policy `stately` with the feed as singleton
 * key: per feed at most one job queued and one running, across every instance. Each
 * instance ticks every SYNC_INTERVAL_SECONDS (queues a live pass; a duplicate is
 * refused by the policy) and POST /sync/run queues one at once. A pass runs until the
 * feed is caught up or for at most `maxPassMs`, then queues its own follow-up when
 * there is more to read. The request budget is not the queue's business: every request
 * still reserves its slot in PostgreSQL.
 *
 * Logs: a routine pass is a debug line (one a minute per instance would drown the
 * console). A feed that needs an operator (blocked, needs_reset) is a warn once per
 * state change in this process — the worker logs the moment it parks a feed; a process
 * that finds a feed already parked (after a restart) says so once.
 *
 * A process that dies mid-pass (SIGKILL, out of memory, a lost container) leaves its job
 * `active`, and the stately policy would hold the next pass back until pg-boss expires
 * it (maxPassMs + 5 min). A pass holds its feed's advisory lock, which PostgreSQL drops
 * with the dead session: an active job whose feed nobody holds, started more than
 * ORPHAN_AFTER_SECONDS ago, is failed at the next tick or run request, so the sync goes
 * on at once after a restart. A live pass misjudged this way keeps running, and the lock
 * still allows one pass per feed, so this is never unsafe.
 */
export const SYNC_QUEUE = 'bursar-sync';

export interface SyncJobData {
  feed: FeedName;
}

export interface SyncJobsOptions {
  pool: pg.Pool;
  db: SyncDb;
  worker: SyncWorker;
  clock: Clock;
  intervalSeconds: number;
  /** The longest one job runs before it hands over to its follow-up. */
  maxPassMs: number;
  log: FastifyBaseLogger;
  /** pg-boss polling (seconds); tests use 0.5. */
  pollingIntervalSeconds?: number;
}

export interface SyncJobs extends SyncRunner {
  boss: PgBoss;
  /** Resolves with each finished pass (tests and logs). */
  onPass(listener: (result: PassResult) => void): void;
  stop(): Promise<void>;
}

const isFeed = (value: unknown): value is FeedName => value === 'live' || value === 'backfill';

/** How long an active job may go without its feed's lock before it counts as orphaned (a fetched job takes the lock within milliseconds). */
export const ORPHAN_AFTER_SECONDS = 15;

export async function startSyncJobs(options: SyncJobsOptions): Promise<SyncJobs> {
  const { worker, clock, log } = options;
  const boss = await startPgBoss(options.pool, log);
  await createQueue(boss, SYNC_QUEUE, {
    name: SYNC_QUEUE,
    policy: 'stately',
    retryLimit: 0,
    expireInSeconds: Math.ceil(options.maxPassMs / 1000) + 300,
  });

  const controller = new AbortController();
  const listeners: ((result: PassResult) => void)[] = [];
  /** The parked state last reported per feed by this process. */
  const announced = new Map<FeedName, PassStatus>();

  const report = (result: PassResult) => {
    const summary = { feed: result.feed, status: result.status, requests: result.requests, inserted: result.inserted, failures: result.failures, cursor: result.cursor };
    if (result.status !== 'blocked' && result.status !== 'needs_reset') {
      announced.delete(result.feed);
      log.debug(summary, 'sync pass');
      return;
    }
    if (result.parked || announced.get(result.feed) === result.status) {
      announced.set(result.feed, result.status);
      log.debug({ ...summary, error: result.lastError }, 'sync pass: the feed is still parked');
      return;
    }
    announced.set(result.feed, result.status);
    const what =
      result.status === 'needs_reset'
        ? `the ${result.feed} feed needs a reset: the vendor no longer knows its cursor. ${resetAdvice(result.feed)}`
        : `the ${result.feed} feed is blocked on a dead-lettered page${result.retryAt === null ? '' : ` until ${new Date(result.retryAt).toISOString()}`}; retry it from the Monitoring page or POST /api/v1/sync/dead-letters/:id/retry.`;
    log.warn({ ...summary, error: result.lastError }, `sync: ${what}`);
  };

  /** Fails the jobs left active by a process that died (see above). */
  const releaseOrphans = async () => {
    const { rows } = await sql<{ id: string; feed: string }>`
      select j.id, j.data->>'feed' as feed
        from pgboss.job j
       where j.name = ${SYNC_QUEUE} and j.state = 'active'
         and j.started_on < now() - make_interval(secs => ${ORPHAN_AFTER_SECONDS})
         and not ${feedLockHeld(sql`j.data->>'feed'`)}`.execute(options.db);
    for (const row of rows) {
      await boss.fail(SYNC_QUEUE, row.id, { message: 'its process died mid-pass (no session holds the feed): released so the next pass can run' });
      log.info({ feed: row.feed, job: row.id }, 'sync: released a pass left active by a process that died');
    }
  };

  const enqueue = async (feed: FeedName): Promise<boolean> => {
    // Best effort: pg-boss still expires an orphan by itself.
    await releaseOrphans().catch((error: unknown) => log.warn({ err: error }, 'sync: could not check for passes left by a dead process'));
    const id = await boss.send(SYNC_QUEUE, { feed } satisfies SyncJobData, { singletonKey: feed });
    return id !== null;
  };

  const handle = async (jobs: PgBoss.Job<SyncJobData>[]) => {
    for (const job of jobs) {
      const feed = job.data.feed;
      if (!isFeed(feed)) {
        continue;
      }
      const attributes = {
        'messaging.system': 'pg-boss',
        'messaging.operation.type': 'process',
        'messaging.destination.name': SYNC_QUEUE,
        'messaging.message.id': job.id,
        'bursar.sync.feed': feed,
      };
      const result = await traceJob(`process ${SYNC_QUEUE}`, attributes, async (span) => {
        const pass = await worker.runPass({ feed, deadline: clock.now() + options.maxPassMs, signal: controller.signal });
        span.setAttributes({
          'bursar.sync.status': pass.status,
          'bursar.sync.requests': pass.requests,
          'bursar.sync.inserted': pass.inserted,
          'bursar.sync.failures': pass.failures,
        });
        return pass;
      });
      report(result);
      for (const listener of listeners) {
        listener(result);
      }
      if (result.status === 'deadline' && !controller.signal.aborted) {
        // More to read: hand over at once (the stately policy allows one queued while this one runs).
        await enqueue(feed);
      }
    }
  };

  // Two pollers: a live pass and a backfill pass may run side by side (sharing the budget).
  const pollingIntervalSeconds = options.pollingIntervalSeconds ?? 2;
  await boss.work<SyncJobData>(SYNC_QUEUE, { batchSize: 1, pollingIntervalSeconds }, handle);
  await boss.work<SyncJobData>(SYNC_QUEUE, { batchSize: 1, pollingIntervalSeconds }, handle);

  const tick = async () => {
    try {
      await enqueue('live');
      const backfill = await options.db.selectFrom('sync_feeds').select('status').where('feed', '=', 'backfill').executeTakeFirst();
      if (backfill !== undefined && backfill.status !== 'done') {
        await enqueue('backfill');
      }
    } catch (error) {
      log.warn({ err: error }, 'sync tick failed');
    }
  };
  await tick();
  const timer = setInterval(() => void tick(), options.intervalSeconds * 1000);
  timer.unref();

  return {
    boss,
    enqueue,
    onPass: (listener) => listeners.push(listener),
    async stop() {
      clearInterval(timer);
      controller.abort(new Error('sync worker stopping'));
      await boss.stop({ graceful: true, wait: true, timeout: 15_000 });
    },
  };
}
