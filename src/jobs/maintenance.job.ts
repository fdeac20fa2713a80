import os from 'node:os';
import type { FastifyBaseLogger } from 'fastify';
import { sql } from 'kysely';
import type PgBoss from 'pg-boss';
import { createQueue, startPgBoss } from './boss.js';
import type pg from 'pg';
import type { Db } from '../db/database.js';
import { recordAudit } from '../modules/audit/audit.repository.js';
import { systemClock, type Clock } from '../shared/clock.js';
import { DAY_MS } from '../shared/time.js';
import { purgeExpiredIdempotencyKeys } from '../modules/billing/idempotency.js';
import { purgeOldWebhookRows, WEBHOOK_PURGE_BATCH, type WebhookPurge } from '../modules/webhooks/webhooks.retention.js';

/**
 * Scheduled maintenance on pg-boss (schema `pgboss`, as the sync job): queue
 * `bursar-maintenance`, no payload; the handler purges expired idempotency keys, and the
 * webhook events older than the retention whose deliveries are all finished, with their
 * deliveries and attempts (src/modules/webhooks/webhooks.retention.ts).
 *
 * Once per interval across every worker: each worker ticks every half interval (at most
 * every minute) and sends a job with `singletonSeconds = interval`. pg-boss stamps the
 * job with its time slot (floor(db now / interval)) and a unique index on (queue, slot)
 * refuses every other send in that slot, from any process, whatever state the first
 * job is in. pg-boss's own cron (`schedule`) works the same way but has a one-minute
 * resolution; this keeps the interval configurable down to seconds (tests).
 *
 * The run is recorded as an audit_log row (action `maintenance.run`, entity_id = the
 * slot) once its purges are done, all under an advisory lock its connection holds: a
 * job redelivered after the run finds the row and does nothing, so a slot is done
 * exactly once. The purges themselves commit as they go and are safe to repeat: a run
 * that dies half-way leaves what it deleted deleted, and its slot's retry (or the next
 * slot) deletes the rest.
 */
export const MAINTENANCE_QUEUE = 'bursar-maintenance';
export const MAINTENANCE_AUDIT_ACTION = 'maintenance.run';

export interface MaintenanceRun {
  slot: string;
  idempotencyKeysDeleted: number;
  webhookEventsDeleted: number;
  webhookDeliveriesDeleted: number;
  webhookAttemptsDeleted: number;
  role: string;
  pid: number;
  host: string;
}

/** What a run needs besides the database and its slot. */
export interface MaintenanceSettings {
  /** The process role, recorded with each run (api, worker, all). */
  role: string;
  /** WEBHOOK_RETENTION_DAYS: webhook events older than this (and finished) are purged. */
  webhookRetentionDays: number;
  /** Whose now the retention counts back from; default the system clock. */
  clock?: Clock;
  /** Hears the webhook purge's running total after each committed round (the job logs it). */
  onWebhookPurgeRound?: (total: WebhookPurge) => void | Promise<void>;
}

export interface MaintenanceJobsOptions extends MaintenanceSettings {
  pool: pg.Pool;
  db: Db;
  intervalSeconds: number;
  log: FastifyBaseLogger;
  /** pg-boss polling (seconds); tests use 0.5. */
  pollingIntervalSeconds?: number;
}

export interface MaintenanceJobs {
  boss: PgBoss;
  stop(): Promise<void>;
}

/** Runs the maintenance for one slot; undefined when that slot was already done. */
export async function runMaintenance(db: Db, slot: string, settings: MaintenanceSettings): Promise<MaintenanceRun | undefined> {
  // One connection holds the lock from the check to the audit row; the purges commit as
  // they go in between (a backlog of webhook rows is purged a batch per transaction).
  return db.connection().execute(async (conn) => {
    await sql`select pg_advisory_lock(hashtext('bursar:maintenance'))`.execute(conn);
    try {
      const done = await conn
        .selectFrom('audit_log')
        .select('id')
        .where('action', '=', MAINTENANCE_AUDIT_ACTION)
        .where('entity_type', '=', 'maintenance')
        .where('entity_id', '=', slot)
        .executeTakeFirst();
      if (done !== undefined) {
        return undefined;
      }
      const idempotencyKeysDeleted = await purgeExpiredIdempotencyKeys(conn);
      const now = (settings.clock ?? systemClock).now();
      const webhooks = await purgeOldWebhookRows(conn, {
        before: new Date(now - settings.webhookRetentionDays * DAY_MS),
        now: new Date(now),
        onRound: settings.onWebhookPurgeRound,
      });
      const run: MaintenanceRun = {
        slot,
        idempotencyKeysDeleted,
        webhookEventsDeleted: webhooks.events,
        webhookDeliveriesDeleted: webhooks.deliveries,
        webhookAttemptsDeleted: webhooks.attempts,
        role: settings.role,
        pid: process.pid,
        host: os.hostname(),
      };
      await recordAudit(conn, null, { action: MAINTENANCE_AUDIT_ACTION, entityType: 'maintenance', entityId: slot, changes: { ...run } });
      return run;
    } finally {
      await sql`select pg_advisory_unlock(hashtext('bursar:maintenance'))`.execute(conn);
    }
  });
}

export async function startMaintenanceJobs(options: MaintenanceJobsOptions): Promise<MaintenanceJobs> {
  const { log, intervalSeconds } = options;
  const boss = await startPgBoss(options.pool, log);
  await createQueue(boss, MAINTENANCE_QUEUE, { name: MAINTENANCE_QUEUE, policy: 'standard', retryLimit: 3, retryDelay: 5, expireInSeconds: 15 * 60 });

  await boss.work(
    MAINTENANCE_QUEUE,
    { batchSize: 1, includeMetadata: true, pollingIntervalSeconds: options.pollingIntervalSeconds ?? 2 },
    async (jobs) => {
      for (const job of jobs) {
        const slot = job.singletonOn?.toISOString() ?? job.id;
        let rounds = 0;
        const run = await runMaintenance(options.db, slot, {
          role: options.role,
          webhookRetentionDays: options.webhookRetentionDays,
          // A long purge (the first after a backlog) says how far it has got, a line per 20 rounds.
          onWebhookPurgeRound: (total) => {
            rounds += 1;
            if (rounds % 20 === 0) {
              log.info({ slot, rounds, batch: WEBHOOK_PURGE_BATCH, ...total }, 'maintenance: webhook purge in progress');
            }
          },
        });
        if (run === undefined) {
          log.info({ slot }, 'maintenance slot already done');
        } else {
          const { idempotencyKeysDeleted, webhookEventsDeleted, webhookDeliveriesDeleted, webhookAttemptsDeleted } = run;
          log.info({ slot, idempotencyKeysDeleted, webhookEventsDeleted, webhookDeliveriesDeleted, webhookAttemptsDeleted }, 'maintenance run');
        }
      }
    },
  );

  const tick = async () => {
    try {
      await boss.send(MAINTENANCE_QUEUE, {}, { singletonSeconds: intervalSeconds });
    } catch (error) {
      log.warn({ err: error }, 'maintenance tick failed');
    }
  };
  await tick();
  const timer = setInterval(() => void tick(), Math.max(500, Math.min(60, intervalSeconds / 2) * 1000));
  timer.unref();

  return {
    boss,
    async stop() {
      clearInterval(timer);
      await boss.stop({ graceful: true, wait: true, timeout: 15_000 });
    },
  };
}
