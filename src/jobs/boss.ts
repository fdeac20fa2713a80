import { createRequire } from 'node:module';
import type { FastifyBaseLogger } from 'fastify';
import PgBoss from 'pg-boss';
import type pg from 'pg';
import { isConnectionFailure } from '../db/database.js';

const SCHEMA = 'pgboss';

/** pg-boss's SQL builders (internal to pg-boss 10: the statements its job manager runs). */
const plans = createRequire(import.meta.url)('pg-boss/src/plans') as {
  completeJobs(schema: string): string;
  failJobsById(schema: string): string;
};

/**
 * The statements pg-boss 10 runs without awaiting them: a worker records its job's
 * completion or failure and moves on (manager.js, `work` → `onFetch`). Should one fail —
 * PostgreSQL terminating the connection under it, a failover — its rejection is
 * unhandled and Node ends the process. (pg-boss 11 and later need Node 22.)
 */
const UNAWAITED = new Set([plans.completeJobs(SCHEMA), plans.failJobsById(SCHEMA)]);

/**
 * pg-boss's database: the app's pool. A job outcome that cannot be recorded is retried
 * once if the connection was lost, then logged instead of thrown: the job stays active
 * until it expires, and pg-boss retries or fails it then (every job is keyed so that a
 * second run does nothing twice). Every other statement's error goes back to pg-boss.
 */
export function pgBossDatabase(
  pool: pg.Pool,
  log: { error(obj: object, msg: string): void; warn(obj: object, msg: string): void },
): { executeSql(text: string, values: unknown[]): Promise<{ rows: unknown[] }> } {
  return {
    async executeSql(text, values) {
      if (!UNAWAITED.has(text)) {
        return pool.query(text, values);
      }
      try {
        return await pool.query(text, values);
      } catch (error) {
        if (isConnectionFailure(error)) {
          try {
            return await pool.query(text, values);
          } catch (again) {
            log.warn({ err: again, queue: values[0] }, 'pg-boss: could not record a job outcome (database unreachable); the job is retried when it expires');
            return { rows: [{ count: '0' }] };
          }
        }
        log.error({ err: error, queue: values[0] }, 'pg-boss: could not record a job outcome; the job is retried when it expires');
        return { rows: [{ count: '0' }] };
      }
    },
  };
}

/**
 * A started pg-boss on the app's own pool (schema `pgboss` in the same database): no
 * connections of its own, no cron (queues schedule themselves with singletons), errors
 * to the log. Each job module starts and stops its own.
 */
export async function startPgBoss(pool: pg.Pool, log: FastifyBaseLogger): Promise<PgBoss> {
  const boss = new PgBoss({
    db: pgBossDatabase(pool, log),
    schema: SCHEMA,
    supervise: true,
    schedule: false,
  });
  boss.on('error', (error) => log.error({ err: error }, 'pg-boss error'));
  await boss.start();
  return boss;
}

/** How often a queue's creation is tried when it deadlocks with another process's (see createQueue). */
const CREATE_QUEUE_ATTEMPTS = 5;

/**
 * boss.createQueue, retried when PostgreSQL aborts it as a deadlock (40P01). Creating a
 * pg-boss 10 queue inserts its row and creates and attaches a partition of the job
 * table; processes booting at once on a fresh database (two API processes and two
 * workers, each creating its queues) can take those locks in opposite orders. The
 * loser's transaction is rolled back whole, and creation is idempotent (the queue row
 * is inserted `on conflict do nothing`, the partition only with it), so trying again
 * after a short random pause is safe.
 */
export async function createQueue(boss: PgBoss, name: string, options: PgBoss.Queue): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await boss.createQueue(name, options);
      return;
    } catch (error) {
      if ((error as { code?: unknown }).code !== '40P01' || attempt >= CREATE_QUEUE_ATTEMPTS) {
        throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, 20 * attempt + Math.random() * 50));
    }
  }
}
