import type { FastifyBaseLogger } from 'fastify';
import type { Db } from '../../db/database.js';
import type { Clock } from '../../shared/clock.js';
import { closeChannels, type Channels } from './channels.js';
import { deliverDue, type DeliveryTotals } from './delivery.js';

export interface DeliveryWorkerOptions {
  db: Db;
  channels: Channels;
  clock: Clock;
  log: FastifyBaseLogger;
  maxAttempts: number;
  retryBaseSeconds: number;
  /** How often the worker looks for due messages when nobody kicks it. */
  intervalMs: number;
}

export interface DeliveryWorker {
  /** Delivers what is due now (rounds until a round finds less than a batch); answers the totals. */
  drain(): Promise<DeliveryTotals>;
  /** Asks for a drain soon (after a collections run queued messages). */
  kick(): void;
  stop(): Promise<void>;
}

const BATCH = 50;

/**
 * The polling publisher of the messages table: every `intervalMs`, and whenever kicked,
 * delivers the due messages (delivery.ts). One drain at a time per process; any number
 * of processes may run one (claims skip each other's rows).
 */
export function startDeliveryWorker(options: DeliveryWorkerOptions): DeliveryWorker {
  let running: Promise<DeliveryTotals> | undefined;
  let again = false;
  let stopped = false;

  const drainOnce = async (): Promise<DeliveryTotals> => {
    const totals: DeliveryTotals = { claimed: 0, sent: 0, bounced: 0, retried: 0, failed: 0, outboxed: 0 };
    for (;;) {
      const round = await deliverDue(options.db, options.channels, {
        now: new Date(options.clock.now()),
        maxAttempts: options.maxAttempts,
        retryBaseSeconds: options.retryBaseSeconds,
        batchSize: BATCH,
      });
      for (const key of Object.keys(totals) as (keyof DeliveryTotals)[]) {
        totals[key] += round[key];
      }
      if (round.claimed < BATCH || stopped) {
        return totals;
      }
    }
  };

  const drain = (): Promise<DeliveryTotals> => {
    if (running) {
      again = true;
      return running;
    }
    running = drainOnce()
      .then((totals) => {
        if (totals.claimed > 0) {
          options.log.info({ ...totals }, 'messages: delivered');
        }
        return totals;
      })
      .finally(() => {
        running = undefined;
        if (again && !stopped) {
          again = false;
          void drain().catch((error: unknown) => options.log.warn({ err: error }, 'messages: delivery round failed'));
        }
      });
    return running;
  };

  const kick = () => {
    void drain().catch((error: unknown) => options.log.warn({ err: error }, 'messages: delivery round failed'));
  };
  const timer = setInterval(kick, options.intervalMs);
  timer.unref();
  kick();

  return {
    drain,
    kick,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running?.catch(() => undefined);
      await closeChannels(options.channels);
    },
  };
}
