import type { FastifyInstance } from 'fastify';
import type { Config } from '../../config.js';
import type { Database } from '../../db/database.js';
import { systemClock } from '../../shared/clock.js';
import { channelsFromConfig } from './channels.js';
import { startDeliveryWorker, type DeliveryWorker } from './delivery.worker.js';

/**
 * Message delivery in processes that run jobs (`npm start`, `bursar worker`; MESSAGES=on|off|auto), when at
 * least one channel is configured (SMTP_URL, SMS_PROVIDER_URL, WHATSAPP_PROVIDER_URL);
 * with none, every message is written to the outbox and there is nothing to deliver.
 * Queued messages are picked up within `intervalMs` (5 s).
 */
export default function messagesWorkerPlugin(app: FastifyInstance, options: { database: Database; config: Config }) {
  const { database, config } = options;
  if (!config.messaging.deliver) {
    return;
  }
  const channels = channelsFromConfig(config);
  if (Object.keys(channels).length === 0) {
    return;
  }
  const log = app.log.child({ module: 'messages' });
  let worker: DeliveryWorker | undefined;
  app.addHook('onReady', () => {
    worker = startDeliveryWorker({
      db: database.db,
      channels,
      clock: systemClock,
      log,
      maxAttempts: config.messaging.maxAttempts,
      retryBaseSeconds: config.messaging.retryBaseSeconds,
      intervalMs: config.env === 'test' ? 500 : 5_000,
    });
    log.info({ channels: Object.keys(channels) }, 'message delivery started');
    return Promise.resolve();
  });
  app.addHook('onClose', async () => {
    await worker?.stop();
  });
}
