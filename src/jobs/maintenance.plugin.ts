import type { FastifyInstance } from 'fastify';
import type { Config } from '../config.js';
import type { Database } from '../db/database.js';
import { startMaintenanceJobs, type MaintenanceJobs } from './maintenance.job.js';

/**
 * Background maintenance (MAINTENANCE on: `npm start` and `bursar worker`): starts the
 * pg-boss worker for the scheduled jobs when the app is ready, stops it (waiting for a
 * running job) on close, before the pool closes.
 */
export default function maintenancePlugin(app: FastifyInstance, options: { database: Database; config: Config; role: string }) {
  const { config, database } = options;
  if (!config.maintenance.enabled) {
    return;
  }
  const log = app.log.child({ module: 'maintenance' });
  let jobs: MaintenanceJobs | undefined;
  app.addHook('onReady', async () => {
    jobs = await startMaintenanceJobs({
      pool: database.pool,
      db: database.db,
      intervalSeconds: config.maintenance.intervalSeconds,
      role: options.role,
      log,
      pollingIntervalSeconds: config.env === 'test' ? 0.5 : 2,
    });
    log.info({ intervalSeconds: config.maintenance.intervalSeconds }, 'maintenance jobs started');
  });
  app.addHook('onClose', async () => {
    await jobs?.stop();
  });
}
