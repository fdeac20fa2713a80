import type { FastifyBaseLogger } from 'fastify';
import type { Db } from '../../db/database.js';
import type { Clock } from '../../shared/clock.js';
import { deliverDueWebhooks, type WebhookDeliveryOptions, type WebhookTotals } from './webhooks.delivery.js';

export interface WebhookWorkerOptions extends Omit<WebhookDeliveryOptions, 'now'> {
  db: Db;
  clock: Clock;
  log: Pick<FastifyBaseLogger, 'info' | 'warn'>;
  /** How often the worker looks for due deliveries. */
  intervalMs: number;
}

export interface WebhookWorker {
  /** Delivers what is due now (rounds until one claims less than a batch). */
  drain(): Promise<WebhookTotals>;
  stop(): Promise<void>;
}

/**
 * The polling publisher of the webhook outbox: every `intervalMs`, delivers the due
 * deliveries (webhooks.delivery.ts). One drain at a time per process; any number of
 * processes may run one (claims skip each other's rows).
 */
export function startWebhookWorker(options: WebhookWorkerOptions): WebhookWorker {
  const { db, clock, log, intervalMs, ...delivery } = options;
  const batchSize = delivery.batchSize ?? 100;
  let running: Promise<WebhookTotals> | undefined;
  let stopped = false;

  const drainOnce = async (): Promise<WebhookTotals> => {
    const totals: WebhookTotals = { claimed: 0, succeeded: 0, retried: 0, failed: 0, disabled: 0 };
    for (;;) {
      const round = await deliverDueWebhooks(db, { ...delivery, batchSize, now: new Date(clock.now()) });
      for (const key of Object.keys(totals) as (keyof WebhookTotals)[]) {
        totals[key] += round[key];
      }
      if (round.claimed < batchSize || stopped) {
        return totals;
      }
    }
  };

  const drain = (): Promise<WebhookTotals> => {
    running ??= drainOnce()
      .then((totals) => {
        if (totals.failed > 0 || totals.disabled > 0) {
          log.warn({ ...totals }, 'webhooks: deliveries given up');
        }
        return totals;
      })
      .finally(() => {
        running = undefined;
      });
    return running;
  };

  let timer: NodeJS.Timeout | undefined;
  const loop = () => {
    if (stopped) {
      return;
    }
    drain()
      .catch((error: unknown) => log.warn({ err: error }, 'webhooks: delivery round failed'))
      .finally(() => {
        if (!stopped) {
          timer = setTimeout(loop, intervalMs);
        }
      });
  };
  loop();

  return {
    drain,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running?.catch(() => undefined);
    },
  };
}
