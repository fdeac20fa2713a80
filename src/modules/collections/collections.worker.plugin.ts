import type { FastifyInstance } from 'fastify';
import type { Config } from '../../config.js';
import type { Database } from '../../db/database.js';
import { systemClock } from '../../shared/clock.js';
import { startCollectionJobs, type CollectionJobs } from './collections.jobs.js';
import { createCollectionsRepository } from './collections.repository.js';
import { reminderSettings } from './reminders.js';

/**
 * The daily collections run in processes that run jobs (`npm start`, `bursar worker`;
 * COLLECTIONS=on|off|auto): started when the app is ready, stopped (waiting for a running
 * school day) on close, before the pool closes.
 */
export default function collectionsWorkerPlugin(app: FastifyInstance, options: { database: Database; config: Config }) {
  const { database, config } = options;
  if (!config.collections.enabled) {
    return;
  }
  const log = app.log.child({ module: 'collections' });
  let jobs: CollectionJobs | undefined;
  app.addHook('onReady', async () => {
    jobs = await startCollectionJobs({
      pool: database.pool,
      db: database.db,
      repo: createCollectionsRepository(),
      reminders: reminderSettings(config),
      clock: systemClock,
      log,
      fromHour: config.collections.fromHour,
      tickSeconds: config.env === 'test' ? 2 : 60,
      pollingIntervalSeconds: config.env === 'test' ? 0.5 : 2,
    });
    log.info({ fromHour: config.collections.fromHour }, 'collections jobs started');
  });
  app.addHook('onClose', async () => {
    await jobs?.stop();
  });
}
