import type { FastifyBaseLogger } from 'fastify';
import PgBoss from 'pg-boss';
import type pg from 'pg';

/**
 * A started pg-boss on the app's own pool (schema `pgboss` in the same database): no
 * connections of its own, no cron (queues schedule themselves with singletons), errors
 * to the log. Each job module starts and stops its own.
 */
export async function startPgBoss(pool: pg.Pool, log: FastifyBaseLogger): Promise<PgBoss> {
  const boss = new PgBoss({
    db: { executeSql: (text: string, values: unknown[]) => pool.query(text, values) },
    schema: 'pgboss',
    supervise: true,
    schedule: false,
  });
  boss.on('error', (error) => log.error({ err: error }, 'pg-boss error'));
  await boss.start();
  return boss;
}
