import type { FastifyInstance } from 'fastify';
import type { Config } from '../config.js';
import type { Database } from '../db/database.js';
import { createDashboardRepository } from '../modules/reporting/dashboard.repository.js';
import { foldRollupDeltas } from '../modules/reporting/rollups.js';
import { startMaintenanceJobs, type MaintenanceJobs } from './maintenance.job.js';

/** How often the dashboard's platform tier folds its waiting deltas (migration 0033). */
const PLATFORM_FOLD_MS = 5_000;
/** How often the per-school buckets fold theirs (migration 0035): a second's payments each time. */
const ROLLUP_FOLD_MS = 1_000;

/**
 * Background maintenance (MAINTENANCE on: `npm start` and `bursar worker`): starts the
 * pg-boss worker for the scheduled jobs when the app is ready, stops it (waiting for a
 * running job) on close, before the pool closes. Every second it also folds the rollup
 * deltas into the per-school buckets, and every few seconds the dashboard's platform
 * deltas into their sums, so they stay few between dashboard reads (each read folds
 * too; any number of processes may: one folds at a time).
 */
export default function maintenancePlugin(app: FastifyInstance, options: { database: Database; config: Config; role: string }) {
  const { config, database } = options;
  if (!config.maintenance.enabled) {
    return;
  }
  const log = app.log.child({ module: 'maintenance' });
  let jobs: MaintenanceJobs | undefined;
  let folding: Promise<void> = Promise.resolve();
  let foldTimers: NodeJS.Timeout[] = [];
  const dashboard = createDashboardRepository();
  const every = (ms: number, what: string, fold: () => Promise<void>) => {
    const timer = setInterval(() => {
      folding = folding.then(fold).catch((error: unknown) => log.warn({ err: error }, `${what} fold failed`));
    }, ms);
    timer.unref();
    return timer;
  };
  app.addHook('onReady', async () => {
    foldTimers = [
      every(ROLLUP_FOLD_MS, 'rollup deltas', () => foldRollupDeltas(database.db, false)),
      every(PLATFORM_FOLD_MS, 'platform tier', () => dashboard.foldPlatform(database.db)),
    ];
    jobs = await startMaintenanceJobs({
      pool: database.pool,
      db: database.db,
      intervalSeconds: config.maintenance.intervalSeconds,
      role: options.role,
      webhookRetentionDays: config.webhooks.retentionDays,
      log,
      pollingIntervalSeconds: config.env === 'test' ? 0.5 : 2,
    });
    log.info({ intervalSeconds: config.maintenance.intervalSeconds, webhookRetentionDays: config.webhooks.retentionDays }, 'maintenance jobs started');
  });
  app.addHook('onClose', async () => {
    foldTimers.forEach(clearInterval);
    await folding;
    await jobs?.stop();
  });
}
