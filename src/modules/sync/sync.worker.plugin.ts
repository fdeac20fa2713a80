import type { FastifyInstance } from 'fastify';
import type { Config } from '../../config.js';
import type { Database } from '../../db/database.js';
import { createVendorSimulator, type VendorSimulator } from '../vendor/vendor.simulator.js';
import { createDatabaseFeedStore } from '../vendor/vendor.store.js';
import { systemClock } from './clock.js';
import { startSyncJobs, type SyncJobs } from './sync.jobs.js';
import { createSyncCounters } from './sync.metrics.js';
import { registerSyncRunner } from './sync.runner.js';
import { syncDb } from './sync.tables.js';
import { createSyncWorker } from './sync.worker.js';

/** Entries the demo simulator starts with (a day of history), so the Accounts page has data at once. */
const DEMO_HISTORY = 2000;
/** A pass hands over to a fresh job after this long (pg-boss expires jobs that run too long). */
const MAX_PASS_MS = 5 * 60_000;

/**
 * Background side of the gateway sync, registered after every route: when the app is
 * ready it starts the vendor simulator (VENDOR_SIMULATOR on and no VENDOR_URL) and the
 * pg-boss sync worker (SYNC on); on close it stops the worker (aborting a pass between
 * requests — nothing half-stored: pages commit whole), then the simulator.
 *
 * The simulator keeps its feed's definition in this database (app_meta), next to the
 * sync cursor: a restart serves the same feed, so the stored cursor stays valid and
 * every id keeps its body (issue 15: the feed used to start over on every restart).
 */
export default function syncWorkerPlugin(app: FastifyInstance, options: { database: Database; config: Config }) {
  const { config, database } = options;
  const log = app.log.child({ module: 'sync' });
  const runSimulator = config.vendor.simulator.enabled && config.vendor.url === undefined;
  if (!runSimulator && !config.sync.enabled) {
    return;
  }
  let simulator: VendorSimulator | undefined;
  let jobs: SyncJobs | undefined;
  let unregister: (() => void) | undefined;

  app.addHook('onReady', async () => {
    let vendorUrl = config.vendor.url;
    if (runSimulator) {
      simulator = createVendorSimulator({
        apiKeys: [config.vendor.apiKey],
        entriesPerSecond: config.vendor.simulator.entriesPerSecond,
        // The limit the sync is configured for (the vendor's: 5 a minute by default).
        requestsPerMinute: config.sync.requestsPerMinute,
        port: config.vendor.simulator.port,
        history: DEMO_HISTORY,
        store: createDatabaseFeedStore(database.db),
        onStoreError: (error) => log.error({ err: error }, 'vendor simulator: could not save its feed definition; a restart would lose the last fault injected'),
      });
      vendorUrl = await simulator.start();
      const feed = simulator.definition();
      log.info({ url: vendorUrl, entriesPerSecond: config.vendor.simulator.entriesPerSecond, feedId: feed.feedId, entries: simulator.feedLength() }, 'vendor simulator listening');
    }
    if (!config.sync.enabled) {
      return;
    }
    if (vendorUrl === undefined) {
      log.warn('SYNC is on but there is no vendor: set VENDOR_URL or VENDOR_SIMULATOR=on');
      return;
    }
    const worker = createSyncWorker({
      db: database.db,
      clock: systemClock,
      vendor: { url: vendorUrl, apiKey: config.vendor.apiKey, timeoutMs: config.sync.timeoutMs },
      pageSize: config.sync.pageSize,
      requestsPerMinute: config.sync.requestsPerMinute,
      maxAttempts: config.sync.maxAttempts,
      observer: createSyncCounters(app.metrics),
      log,
    });
    jobs = await startSyncJobs({
      pool: database.pool,
      db: syncDb(database.db),
      worker,
      clock: systemClock,
      intervalSeconds: config.sync.intervalSeconds,
      maxPassMs: MAX_PASS_MS,
      log,
      pollingIntervalSeconds: config.env === 'test' ? 0.5 : 2,
    });
    unregister = registerSyncRunner(database, jobs);
    log.info({ vendorUrl, requestsPerMinute: config.sync.requestsPerMinute, pageSize: config.sync.pageSize }, 'sync worker started');
  });

  app.addHook('onClose', async () => {
    unregister?.();
    await jobs?.stop();
    await simulator?.close();
  });
}
