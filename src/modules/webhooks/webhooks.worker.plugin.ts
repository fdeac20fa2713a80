import type { FastifyInstance } from 'fastify';
import type { Config } from '../../config.js';
import type { Database } from '../../db/database.js';
import { systemClock } from '../../shared/clock.js';
import { startWebhookWorker, type WebhookWorker } from './webhooks.worker.js';

/**
 * Webhook delivery in processes that run jobs (`npm start`, `bursar worker`;
 * WEBHOOKS=on|off|auto). Due deliveries are picked up within `intervalMs` (250 ms), so
 * the outbox lag stays under a second.
 */
export default function webhooksWorkerPlugin(app: FastifyInstance, options: { database: Database; config: Config }) {
  const { database, config } = options;
  if (!config.webhooks.deliver) {
    return;
  }
  const log = app.log.child({ module: 'webhooks' });
  let worker: WebhookWorker | undefined;
  app.addHook('onReady', () => {
    worker = startWebhookWorker({
      db: database.db,
      clock: systemClock,
      log,
      allowLocal: config.webhooks.allowLocal,
      timeoutMs: config.webhooks.timeoutMs,
      intervalMs: 250,
    });
    log.info('webhook delivery started');
    return Promise.resolve();
  });
  app.addHook('onClose', async () => {
    await worker?.stop();
  });
}
