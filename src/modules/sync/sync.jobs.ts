import type PgBoss from 'pg-boss';
import { startPgBoss } from '../../jobs/boss.js';
import type { FastifyBaseLogger } from 'fastify';
import type pg from 'pg';
import { traceJob } from '../../telemetry.js';
import type { Clock } from './clock.js';
import type { SyncRunner } from './sync.runner.js';
import type { FeedName, SyncDb } from './sync.tables.js';
import type { PassResult, SyncWorker } from './sync.worker.js';

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

export async function startSyncJobs(options: SyncJobsOptions): Promise<SyncJobs> {
  const { worker, clock, log } = options;
  const boss = await startPgBoss(options.pool, log);
  await boss.createQueue(SYNC_QUEUE, {
    name: SYNC_QUEUE,
    policy: 'stately',
    retryLimit: 0,
    expireInSeconds: Math.ceil(options.maxPassMs / 1000) + 300,
  });

  const controller = new AbortController();
  const listeners: ((result: PassResult) => void)[] = [];

  const enqueue = async (feed: FeedName): Promise<boolean> => {
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
      log.info({ feed, status: result.status, requests: result.requests, inserted: result.inserted, failures: result.failures }, 'sync pass');
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
