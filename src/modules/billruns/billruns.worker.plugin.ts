import type { FastifyInstance } from 'fastify';
import type { Config } from '../../config.js';
import type { Database } from '../../db/database.js';
import { createBillRunEngine } from './billruns.engine.js';
import { startBillRunJobs, type BillRunJobs } from './billruns.jobs.js';
import { createBillRunsRepository } from './billruns.repository.js';
import { registerBillRunRunner } from './billruns.runner.js';

/**
 * Background bill runs in processes that run jobs (`npm start`, `bursar worker`): when
 * the app is ready, the runner the routes queue through and the tick that picks up runs
 * queued by API-only processes; on close, the worker stops (waiting for a running batch).
 */
export default function billRunsWorkerPlugin(app: FastifyInstance, options: { database: Database; config: Config }) {
  const { database, config } = options;
  const log = app.log.child({ module: 'bill-runs' });
  let jobs: BillRunJobs | undefined;
  let unregister: (() => void) | undefined;
  app.addHook('onReady', (done) => {
    const repo = createBillRunsRepository();
    jobs = startBillRunJobs({
      pool: database.pool,
      db: database.db,
      repo,
      engine: createBillRunEngine(repo),
      log,
      tickSeconds: config.env === 'test' ? 2 : 5,
      pollingIntervalSeconds: config.env === 'test' ? 0.5 : 2,
    });
    unregister = registerBillRunRunner(database, jobs);
    done();
  });
  app.addHook('onClose', async () => {
    unregister?.();
    await jobs?.stop();
  });
}
